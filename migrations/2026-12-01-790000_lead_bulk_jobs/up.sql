-- Bulk actions on many leads (issue 20): a selection too large to change in
-- the request is frozen into `lead_ids` when asked for, then a job applies
-- the change in batches, recording progress in `done`, so the list page can
-- show how far it is. `action` is the bulk form's action code
-- (`status:qualified`, `tag_add`, …) and `tag` the tag it carries.
CREATE TABLE lead_bulk_jobs (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    action text NOT NULL,
    tag text NOT NULL DEFAULT '',
    lead_ids uuid[] NOT NULL,
    total integer NOT NULL CHECK (total >= 0),
    done integer NOT NULL DEFAULT 0 CHECK (done >= 0 AND done <= total),
    changed integer NOT NULL DEFAULT 0 CHECK (changed >= 0),
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed')),
    error text,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX lead_bulk_jobs_queue ON lead_bulk_jobs (created_at)
    WHERE status IN ('queued', 'running');

ALTER TABLE lead_bulk_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE lead_bulk_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON lead_bulk_jobs TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON lead_bulk_jobs
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());
