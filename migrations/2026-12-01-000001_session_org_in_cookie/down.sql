ALTER TABLE sessions ADD COLUMN current_org_id uuid REFERENCES organizations (id) ON DELETE SET NULL;
