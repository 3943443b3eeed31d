-- A lead's own time zone is one of its fields: a change to it is recorded
-- in lead_edits like the others, so the lead's timeline shows it.
CREATE OR REPLACE FUNCTION ld_leads_edited() RETURNS trigger
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
                ('time_zone', to_jsonb(o.time_zone), to_jsonb(n.time_zone)),
                ('owner', to_jsonb(o.owner_user_id), to_jsonb(n.owner_user_id))
            ) AS f (field, before, after)
            WHERE f.before IS DISTINCT FROM f.after
        ) d
        WHERE d.changes IS NOT NULL;
    RETURN NULL;
END $$;
