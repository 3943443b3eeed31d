-- The lead page's activity timeline (issue 20): every change to a lead's
-- fields other than its status (which lead_status_changes already records)
-- becomes a lead_edits row: who, when, and for each changed field its value
-- before and after, as {"company": {"from": "Acme", "to": "Acme Ltd"}, …};
-- `owner` holds user ids.
--
-- Written by a trigger in the transaction of the change, so every path that
-- edits a lead (the edit form, the owner card, the API, bulk actions, a
-- member's leads handed over at removal) is covered without each one
-- remembering to. One statement-level trigger per UPDATE:
-- a bulk change of a thousand leads is one INSERT … SELECT, not a thousand.
-- The rows go with their lead (erasure deletes the lead, and with it the
-- old values kept here).
CREATE TABLE lead_edits (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    lead_id uuid NOT NULL,
    changed_by uuid REFERENCES users (id) ON DELETE SET NULL,
    changes jsonb NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, lead_id) REFERENCES leads (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX lead_edits_lead ON lead_edits (organization_id, lead_id, changed_at);

-- The timeline also reads a lead's status changes by time (its messages and
-- enrolments have indexes that lead with the lead already).
CREATE INDEX lead_status_changes_lead_time ON lead_status_changes (organization_id, lead_id, changed_at);

CREATE FUNCTION ld_leads_edited() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO lead_edits (organization_id, lead_id, changed_by, changes, changed_at)
        -- The acting user, while their account exists: deleting an account
        -- sets its leads' owner to NULL by a foreign key's action, and a row
        -- naming the user being deleted would break the key.
        SELECT n.organization_id, n.id, (SELECT u.id FROM users u WHERE u.id = ld_current_user()), d.changes,
               CASE WHEN n.updated_at IS DISTINCT FROM o.updated_at THEN n.updated_at ELSE now() END
        FROM new_leads n
        JOIN old_leads o ON o.organization_id = n.organization_id AND o.id = n.id
        CROSS JOIN LATERAL (
            SELECT jsonb_object_agg(f.field, jsonb_build_object('from', f.before, 'to', f.after)) AS changes
            FROM (VALUES
                ('first_name', to_jsonb(o.first_name), to_jsonb(n.first_name)),
                ('last_name', to_jsonb(o.last_name), to_jsonb(n.last_name)),
                ('email', to_jsonb(o.email), to_jsonb(n.email)),
                ('company', to_jsonb(o.company), to_jsonb(n.company)),
                ('title', to_jsonb(o.title), to_jsonb(n.title)),
                ('phone', to_jsonb(o.phone), to_jsonb(n.phone)),
                ('tags', to_jsonb(o.tags), to_jsonb(n.tags)),
                ('notes', to_jsonb(o.notes), to_jsonb(n.notes)),
                ('owner', to_jsonb(o.owner_user_id), to_jsonb(n.owner_user_id))
            ) AS f (field, before, after)
            WHERE f.before IS DISTINCT FROM f.after
        ) d
        WHERE d.changes IS NOT NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER leads_edited AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_leads NEW TABLE AS new_leads
    FOR EACH STATEMENT EXECUTE FUNCTION ld_leads_edited();

ALTER TABLE lead_edits ENABLE ROW LEVEL SECURITY;
ALTER TABLE lead_edits FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON lead_edits TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON lead_edits
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());
