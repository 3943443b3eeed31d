-- Outgoing webhooks (docs/product.md, "Webhooks"). Endpoints per organization; events are
-- written in the transaction of their cause, one row per (event, endpoint)
-- so each endpoint keeps its own delivery state and order; every delivery
-- attempt is logged (kept 30 days).
CREATE TABLE webhook_endpoints (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    -- Empty: every event type.
    event_types text[] NOT NULL DEFAULT '{}',
    enabled boolean NOT NULL DEFAULT true,
    -- Why the system disabled it (failing for 3 days); NULL when an admin did.
    disabled_reason text,
    -- The signing secret (`whsec_` + base64). Kept readable: HMAC needs it.
    secret text NOT NULL,
    -- The secret before the last rotation, still signing until it expires.
    previous_secret text,
    previous_secret_expires_at timestamptz,
    -- Start of the current run of failed attempts; NULL after a success.
    failing_since timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, id)
);

CREATE TABLE webhook_events (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    -- The `webhook-id`: the same for every endpoint and every retry.
    event_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    event_type text NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error text,
    delivered_at timestamptz,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, endpoint_id)
        REFERENCES webhook_endpoints (organization_id, id) ON DELETE CASCADE
);
-- The worker's claim: due pending rows, and per endpoint the oldest first.
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_events_endpoint ON webhook_events (organization_id, endpoint_id, created_at, id);

CREATE TABLE webhook_deliveries (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    webhook_event_id uuid NOT NULL,
    attempted_at timestamptz NOT NULL,
    status_code integer,
    latency_ms integer NOT NULL,
    -- At most the first 2 KB of the response body.
    response_body text NOT NULL DEFAULT '',
    error text,
    succeeded boolean NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, webhook_event_id)
        REFERENCES webhook_events (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (organization_id, endpoint_id, attempted_at DESC);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (attempted_at);

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON webhook_endpoints TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON webhook_endpoints
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());

ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON webhook_events TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON webhook_events
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON webhook_deliveries TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON webhook_deliveries
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());
