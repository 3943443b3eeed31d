-- Workspace: fast lead search, and uploaded CSV files kept between the
-- preview and the import.

-- Substring search over name, email and company. btree_gin lets the
-- trigram index lead with organization_id, so a search only ever reads the
-- current organization's part of the index. Queries must use exactly this
-- expression (see db/leads.rs, SEARCH_EXPR).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX leads_search ON leads USING gin (
    organization_id,
    (lower(first_name || ' ' || last_name || ' ' || email || ' ' || company)) gin_trgm_ops
);
CREATE INDEX leads_org_tags ON leads USING gin (organization_id, tags);

-- Enrolments of one sequence, newest first (sequence page).
CREATE INDEX sequence_enrollments_sequence ON sequence_enrollments (organization_id, sequence_id, created_at DESC);

-- An uploaded CSV file between preview and import; expires after an hour.
CREATE TABLE lead_imports (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    filename text NOT NULL,
    content bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX lead_imports_expiry ON lead_imports (expires_at);
