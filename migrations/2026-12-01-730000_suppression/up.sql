-- Lawful outreach (docs/product.md, "Data rights"): the organization's suppression list and the
-- unsubscribe links of message mail.
--
-- Addresses are kept only as a salted SHA-256 (salt per organization), so
-- forgetting a person can keep "never mail this address again" without
-- keeping the address; `email_hint` is a masked form for the list page
-- (NULL once the person asked to be forgotten).
ALTER TABLE organizations ADD COLUMN suppression_salt bytea NOT NULL
    DEFAULT (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));

CREATE TABLE suppressions (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    email_hash bytea NOT NULL,
    email_hint text,
    reason text NOT NULL CHECK (reason IN ('unsubscribed', 'forgotten', 'added')),
    note text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, email_hash)
);

-- One row per message mail: the SHA-256 of the random token in its link.
-- No foreign key to the lead: the link outlives a deleted lead and still
-- suppresses the address it was sent to.
CREATE TABLE unsubscribe_tokens (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    lead_id uuid,
    email_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, token_hash)
);
CREATE INDEX unsubscribe_tokens_by_hash ON unsubscribe_tokens (token_hash);
CREATE INDEX unsubscribe_tokens_age ON unsubscribe_tokens (organization_id, created_at);

-- The raw token of a message mail's unsubscribe link: the delivery worker
-- builds the List-Unsubscribe headers and the footer link from it.
ALTER TABLE mail_outbox ADD COLUMN unsubscribe_token text;

-- A stopped enrolment says why too (the lead unsubscribed, replied, …).
-- The old CHECK was unnamed (PostgreSQL called it sequence_enrollments_check1):
-- find it by what it says rather than by that generated name.
DO $$
DECLARE c text;
BEGIN
    SELECT conname INTO c FROM pg_constraint
    WHERE conrelid = 'sequence_enrollments'::regclass AND contype = 'c'
      AND pg_get_constraintdef(oid) LIKE '%paused_reason IS NULL%';
    EXECUTE format('ALTER TABLE sequence_enrollments DROP CONSTRAINT %I', c);
END $$;
ALTER TABLE sequence_enrollments ADD CONSTRAINT sequence_enrollments_reason_check
    CHECK (paused_reason IS NULL OR status IN ('paused', 'stopped'));

ALTER TABLE suppressions ENABLE ROW LEVEL SECURITY;
ALTER TABLE suppressions FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON suppressions TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON suppressions
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());

ALTER TABLE unsubscribe_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE unsubscribe_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON unsubscribe_tokens TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON unsubscribe_tokens
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());
