-- Organization export archives (issue 16): an OWNER asks for one, a job
-- writes a ZIP of the organization's data to a file and records its path;
-- the file is served for 7 days, then the job deletes it and clears the path.
-- At most one export per organization is queued or running at a time.
CREATE TABLE org_exports (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'ready', 'failed')),
    file_path text,
    file_bytes bigint,
    error text,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    expires_at timestamptz,
    PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX org_exports_one_in_progress ON org_exports (organization_id)
    WHERE status IN ('queued', 'running');
CREATE INDEX org_exports_queue ON org_exports (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX org_exports_files ON org_exports (expires_at) WHERE file_path IS NOT NULL;

ALTER TABLE org_exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_exports FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON org_exports TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON org_exports
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());
