-- Payment-provider events, recorded in the transaction of their effect so
-- that each event id is processed exactly once. organization_id is NULL for
-- events about customers this app does not know.
CREATE TABLE payment_events (
    event_id text PRIMARY KEY,
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    type text NOT NULL,
    provider_created_at timestamptz NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_events_org ON payment_events (organization_id, processed_at);
CREATE INDEX subscriptions_provider_customer ON subscriptions (provider_customer_id);
