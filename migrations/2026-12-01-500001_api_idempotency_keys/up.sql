-- Idempotency-Key on API POSTs (docs/product.md, "API"): the first response to a key is
-- kept for 24 hours per organization, with the hash of the request it
-- answered; a retry with the same key and request gets it again, a
-- different request with the same key is refused. The claim row is written
-- in the same transaction as the work, so concurrent retries wait for it.
CREATE TABLE api_idempotency_keys (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash bytea NOT NULL,
    response_status smallint,
    response_body text,
    response_location text,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, idempotency_key)
);
CREATE INDEX api_idempotency_keys_age ON api_idempotency_keys (created_at);

ALTER TABLE api_idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON api_idempotency_keys TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON api_idempotency_keys
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());
