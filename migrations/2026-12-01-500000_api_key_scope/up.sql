-- API keys (docs/product.md, "API"): each key acts with a scope, `read` or `read_write`,
-- chosen at creation; a row written without one can only read. Keys are
-- listed newest first per organization.
ALTER TABLE api_keys
    ADD COLUMN scope text NOT NULL DEFAULT 'read' CHECK (scope IN ('read', 'read_write'));
CREATE INDEX api_keys_list ON api_keys (organization_id, created_at DESC);
