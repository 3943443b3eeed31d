-- Stripe calls that must happen (ending a subscription when its grace
-- period runs out or its organization is deleted) are recorded in the
-- transaction that decides them and made afterwards by the lifecycle job,
-- outside any transaction, retried with backoff until Stripe confirms.
-- Operators see each one's attempts and last error here. There is no
-- foreign key to organizations: an operation outlives an erased
-- organization, whose subscription must still end.
CREATE TABLE stripe_operations (
    organization_id uuid NOT NULL,
    id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('cancel_subscription')),
    -- The Stripe object the operation acts on (a subscription id).
    target text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error text,
    created_at timestamptz NOT NULL,
    done_at timestamptz,
    PRIMARY KEY (organization_id, id)
);
-- One operation per action and object: deciding twice records it once.
CREATE UNIQUE INDEX stripe_operations_once ON stripe_operations (organization_id, kind, target);
CREATE INDEX stripe_operations_due ON stripe_operations (next_attempt_at) WHERE status = 'pending';

ALTER TABLE stripe_operations ENABLE ROW LEVEL SECURITY;
ALTER TABLE stripe_operations FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON stripe_operations TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON stripe_operations
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());
