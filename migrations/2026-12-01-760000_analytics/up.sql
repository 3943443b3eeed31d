-- Advanced analytics (docs/product.md, "Analytics"; definitions in docs/analytics.md).
--
-- 1. leads.source: where a lead came from (a page form, a CSV import, the API).
-- 2. lead_status_changes: who moved a lead from which status to which, and
--    when; its creation is the change from NULL to its first status.
-- 3. analytics_daily: per organization, local day, metric and dimension, a
--    count. Charts read only these rows, so a page costs the same for an
--    organization with a thousand leads as for one with a million.
--
-- Both are written by triggers, in the transaction of the change that causes
-- them: every path that creates a lead, changes a status, sends a message or
-- ends an enrolment (page, API, CSV import, unsubscribe link, stop-on-reply,
-- jobs) is covered without each one remembering to call something.
-- Counts are history: deleting a lead, message or enrolment leaves the counts
-- it already made (no DELETE triggers).

ALTER TABLE leads ADD COLUMN source text NOT NULL DEFAULT 'page'
    CHECK (source IN ('page', 'csv', 'api'));

CREATE TABLE lead_status_changes (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    lead_id uuid NOT NULL,
    changed_by uuid REFERENCES users (id) ON DELETE SET NULL,
    from_status text,
    to_status text NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, lead_id) REFERENCES leads (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX lead_status_changes_lead ON lead_status_changes (organization_id, lead_id, to_status);

CREATE TABLE analytics_daily (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day date NOT NULL,
    metric text NOT NULL,
    -- What the count is split by (source, status, template id, sequence id
    -- with reason or step, member id); '' when nothing.
    dim text NOT NULL DEFAULT '',
    count bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, day, metric, dim)
);

-- Messages of a lead, for reply attribution (a bounded look-up per reply).
CREATE INDEX messages_lead_sent ON messages (organization_id, lead_id, sent_at) WHERE status = 'sent';

-- The organization's local day of an instant (UTC when the zone is unknown).
CREATE FUNCTION ld_org_day(org uuid, at timestamptz) RETURNS date
    LANGUAGE sql STABLE
    AS $$ SELECT (at AT TIME ZONE COALESCE((SELECT time_zone FROM organizations WHERE id = org), 'UTC'))::date $$;

CREATE FUNCTION ld_analytics_bump(org uuid, d date, m text, dm text) RETURNS void
    LANGUAGE sql
    AS $$ INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
          VALUES (org, d, m, COALESCE(dm, ''), 1)
          ON CONFLICT (organization_id, day, metric, dim)
          DO UPDATE SET count = analytics_daily.count + 1 $$;

-- Leads: creation counts by source and member, and every status change
-- (creation included) becomes a lead_status_changes row. Inserts are counted
-- per statement with one grouped upsert (a CSV import of 10,000 rows touches
-- each counter row once, not 10,000 times); status changes come one row at a
-- time.
CREATE FUNCTION ld_leads_inserted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
        SELECT organization_id, ld_org_day(organization_id, created_at), 'lead_created', source, count(*)
        FROM new_leads GROUP BY 1, 2, 4
        ON CONFLICT (organization_id, day, metric, dim) DO UPDATE SET count = analytics_daily.count + EXCLUDED.count;
    INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
        SELECT organization_id, ld_org_day(organization_id, created_at), 'member_leads', owner_user_id::text, count(*)
        FROM new_leads WHERE owner_user_id IS NOT NULL GROUP BY 1, 2, 4
        ON CONFLICT (organization_id, day, metric, dim) DO UPDATE SET count = analytics_daily.count + EXCLUDED.count;
    INSERT INTO lead_status_changes (organization_id, lead_id, changed_by, from_status, to_status, changed_at)
        SELECT organization_id, id, ld_current_user(), NULL, status, created_at FROM new_leads;
    RETURN NULL;
END $$;

CREATE FUNCTION ld_lead_status_updated() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO lead_status_changes (organization_id, lead_id, changed_by, from_status, to_status, changed_at)
            VALUES (NEW.organization_id, NEW.id, ld_current_user(), OLD.status, NEW.status, NEW.updated_at);
    END IF;
    RETURN NULL;
END $$;

-- A status change: the first time a lead reaches a status counts in the
-- funnel; the first time it reaches Replied is a reply, credited to each
-- template, sequence and enrolling member of its messages sent in the 14 days
-- before.
CREATE FUNCTION ld_status_changes_inserted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    f record;
    r record;
    d date;
BEGIN
    INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
        SELECT organization_id, ld_org_day(organization_id, changed_at), 'status_reached', to_status, count(*)
        FROM (SELECT DISTINCT ON (n.organization_id, n.lead_id, n.to_status) n.organization_id, n.lead_id, n.to_status, n.changed_at
                 FROM new_changes n
                 WHERE NOT EXISTS (SELECT 1 FROM lead_status_changes c
                                   WHERE c.organization_id = n.organization_id AND c.lead_id = n.lead_id
                                     AND c.to_status = n.to_status AND c.id NOT IN (SELECT id FROM new_changes))
                 ORDER BY n.organization_id, n.lead_id, n.to_status, n.changed_at) firsts
        GROUP BY 1, 2, 4
        ON CONFLICT (organization_id, day, metric, dim) DO UPDATE SET count = analytics_daily.count + EXCLUDED.count;
    FOR f IN SELECT * FROM (SELECT DISTINCT ON (n.organization_id, n.lead_id, n.to_status) n.organization_id, n.lead_id, n.to_status, n.changed_at
                 FROM new_changes n
                 WHERE NOT EXISTS (SELECT 1 FROM lead_status_changes c
                                   WHERE c.organization_id = n.organization_id AND c.lead_id = n.lead_id
                                     AND c.to_status = n.to_status AND c.id NOT IN (SELECT id FROM new_changes))
                 ORDER BY n.organization_id, n.lead_id, n.to_status, n.changed_at) firsts WHERE to_status = 'replied' LOOP
        d := ld_org_day(f.organization_id, f.changed_at);
        FOR r IN SELECT DISTINCT m.template_id::text AS dim FROM messages m
                 WHERE m.organization_id = f.organization_id AND m.lead_id = f.lead_id
                   AND m.status = 'sent' AND m.template_id IS NOT NULL
                   AND m.sent_at > f.changed_at - interval '14 days' AND m.sent_at <= f.changed_at LOOP
            PERFORM ld_analytics_bump(f.organization_id, d, 'template_replied', r.dim);
        END LOOP;
        FOR r IN SELECT DISTINCT e.sequence_id::text AS sequence, e.enrolled_by::text AS member
                 FROM messages m JOIN sequence_enrollments e
                   ON e.organization_id = m.organization_id AND e.id = m.enrollment_id
                 WHERE m.organization_id = f.organization_id AND m.lead_id = f.lead_id
                   AND m.status = 'sent'
                   AND m.sent_at > f.changed_at - interval '14 days' AND m.sent_at <= f.changed_at LOOP
            PERFORM ld_analytics_bump(f.organization_id, d, 'sequence_replied', r.sequence);
            IF r.member IS NOT NULL THEN
                PERFORM ld_analytics_bump(f.organization_id, d, 'member_replies', r.member);
            END IF;
        END LOOP;
    END LOOP;
    RETURN NULL;
END $$;

-- Messages: a message counts as sent on its sending day, as failed on the
-- day it was queued, when its status becomes so (inserted so, per statement;
-- updated so, per row).
CREATE FUNCTION ld_messages_inserted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
        SELECT organization_id, ld_org_day(organization_id, COALESCE(sent_at, created_at)), 'message_sent', '', count(*)
        FROM new_messages WHERE status = 'sent' GROUP BY 1, 2
        ON CONFLICT (organization_id, day, metric, dim) DO UPDATE SET count = analytics_daily.count + EXCLUDED.count;
    INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
        SELECT organization_id, ld_org_day(organization_id, COALESCE(sent_at, created_at)), 'template_sent', template_id::text, count(*)
        FROM new_messages WHERE status = 'sent' AND template_id IS NOT NULL GROUP BY 1, 2, 4
        ON CONFLICT (organization_id, day, metric, dim) DO UPDATE SET count = analytics_daily.count + EXCLUDED.count;
    INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
        SELECT organization_id, ld_org_day(organization_id, COALESCE(sent_at, created_at)), 'member_sent', sender_user_id::text, count(*)
        FROM new_messages WHERE status = 'sent' AND sender_user_id IS NOT NULL GROUP BY 1, 2, 4
        ON CONFLICT (organization_id, day, metric, dim) DO UPDATE SET count = analytics_daily.count + EXCLUDED.count;
    INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
        SELECT organization_id, ld_org_day(organization_id, created_at), 'message_failed', '', count(*)
        FROM new_messages WHERE status = 'failed' GROUP BY 1, 2
        ON CONFLICT (organization_id, day, metric, dim) DO UPDATE SET count = analytics_daily.count + EXCLUDED.count;
    RETURN NULL;
END $$;

CREATE FUNCTION ld_messages_analytics() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    d date;
BEGIN
    IF NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NULL;
    END IF;
    IF NEW.status = 'sent' THEN
        d := ld_org_day(NEW.organization_id, COALESCE(NEW.sent_at, NEW.created_at));
        PERFORM ld_analytics_bump(NEW.organization_id, d, 'message_sent', '');
        IF NEW.template_id IS NOT NULL THEN
            PERFORM ld_analytics_bump(NEW.organization_id, d, 'template_sent', NEW.template_id::text);
        END IF;
        IF NEW.sender_user_id IS NOT NULL THEN
            PERFORM ld_analytics_bump(NEW.organization_id, d, 'member_sent', NEW.sender_user_id::text);
        END IF;
    ELSIF NEW.status = 'failed' THEN
        d := ld_org_day(NEW.organization_id, NEW.created_at);
        PERFORM ld_analytics_bump(NEW.organization_id, d, 'message_failed', '');
    END IF;
    RETURN NULL;
END $$;

-- Enrolments: enrolled on creation (per statement); completed, or stopped
-- (by reason, and at the step it had reached: the drop-off), when its status
-- becomes so.
CREATE FUNCTION ld_enrollments_analytics() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    seq text := NEW.sequence_id::text;
BEGIN
    IF NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NULL;
    END IF;
    IF NEW.status = 'completed' THEN
        PERFORM ld_analytics_bump(NEW.organization_id, ld_org_day(NEW.organization_id, NEW.updated_at),
                                  'sequence_completed', seq);
    ELSIF NEW.status = 'stopped' THEN
        PERFORM ld_analytics_bump(NEW.organization_id, ld_org_day(NEW.organization_id, NEW.updated_at),
                                  'sequence_stopped', seq || ':' || ld_stop_reason(NEW.paused_reason));
        PERFORM ld_analytics_bump(NEW.organization_id, ld_org_day(NEW.organization_id, NEW.updated_at),
                                  'sequence_dropoff', seq || ':' || (NEW.next_step - 1)::text);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION ld_enrollments_inserted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
        SELECT organization_id, ld_org_day(organization_id, created_at), 'sequence_enrolled', sequence_id::text, count(*)
        FROM new_enrollments GROUP BY 1, 2, 4
        ON CONFLICT (organization_id, day, metric, dim) DO UPDATE SET count = analytics_daily.count + EXCLUDED.count;
    RETURN NULL;
END $$;

-- The short name of the reason src/db/stops.rs stores on a stopped enrolment.
CREATE FUNCTION ld_stop_reason(reason text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE reason
        WHEN 'Stopped: the lead unsubscribed.' THEN 'unsubscribed'
        WHEN 'Stopped: this address is on the suppression list.' THEN 'suppressed'
        WHEN 'Stopped: the lead replied.' THEN 'replied'
        WHEN 'Stopped: the lead was marked lost.' THEN 'lost'
        ELSE 'member' END $$;

-- Backfill, before the triggers exist: sources from what is known (leads
-- created by an API key have no owner; CSV imports leave no trace on the lead,
-- so they stay 'page'), then one history per lead (created as New; one change
-- to its present status at its last update), then the counts from that.
UPDATE leads SET source = 'api' WHERE owner_user_id IS NULL;
INSERT INTO lead_status_changes (organization_id, lead_id, from_status, to_status, changed_at)
    SELECT organization_id, id, NULL, 'new', created_at FROM leads;
INSERT INTO lead_status_changes (organization_id, lead_id, from_status, to_status, changed_at)
    SELECT organization_id, id, 'new', status, GREATEST(updated_at, created_at) FROM leads WHERE status <> 'new';
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, created_at), 'lead_created', source, count(*)
    FROM leads GROUP BY 1, 2, 4;
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, created_at), 'member_leads', owner_user_id::text, count(*)
    FROM leads WHERE owner_user_id IS NOT NULL GROUP BY 1, 2, 4;
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, changed_at), 'status_reached', to_status, count(*)
    FROM lead_status_changes GROUP BY 1, 2, 4;
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, COALESCE(sent_at, created_at)), 'message_sent', '', count(*)
    FROM messages WHERE status = 'sent' GROUP BY 1, 2;
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, COALESCE(sent_at, created_at)), 'template_sent', template_id::text, count(*)
    FROM messages WHERE status = 'sent' AND template_id IS NOT NULL GROUP BY 1, 2, 4;
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, COALESCE(sent_at, created_at)), 'member_sent', sender_user_id::text, count(*)
    FROM messages WHERE status = 'sent' AND sender_user_id IS NOT NULL GROUP BY 1, 2, 4;
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, created_at), 'message_failed', '', count(*)
    FROM messages WHERE status = 'failed' GROUP BY 1, 2;
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, created_at), 'sequence_enrolled', sequence_id::text, count(*)
    FROM sequence_enrollments GROUP BY 1, 2, 4;
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, updated_at), 'sequence_completed', sequence_id::text, count(*)
    FROM sequence_enrollments WHERE status = 'completed' GROUP BY 1, 2, 4;
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, updated_at), 'sequence_stopped',
           sequence_id::text || ':' || ld_stop_reason(paused_reason), count(*)
    FROM sequence_enrollments WHERE status = 'stopped' GROUP BY 1, 2, 4;
INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
    SELECT organization_id, ld_org_day(organization_id, updated_at), 'sequence_dropoff',
           sequence_id::text || ':' || (next_step - 1)::text, count(*)
    FROM sequence_enrollments WHERE status = 'stopped' GROUP BY 1, 2, 4;

CREATE TRIGGER leads_inserted_analytics AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_leads FOR EACH STATEMENT EXECUTE FUNCTION ld_leads_inserted();
CREATE TRIGGER leads_status_analytics AFTER UPDATE OF status ON leads
    FOR EACH ROW EXECUTE FUNCTION ld_lead_status_updated();
CREATE TRIGGER lead_status_changes_analytics AFTER INSERT ON lead_status_changes
    REFERENCING NEW TABLE AS new_changes FOR EACH STATEMENT EXECUTE FUNCTION ld_status_changes_inserted();
CREATE TRIGGER messages_inserted_analytics AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT EXECUTE FUNCTION ld_messages_inserted();
CREATE TRIGGER messages_status_analytics AFTER UPDATE OF status ON messages
    FOR EACH ROW EXECUTE FUNCTION ld_messages_analytics();
CREATE TRIGGER sequence_enrollments_inserted_analytics AFTER INSERT ON sequence_enrollments
    REFERENCING NEW TABLE AS new_enrollments FOR EACH STATEMENT EXECUTE FUNCTION ld_enrollments_inserted();
CREATE TRIGGER sequence_enrollments_status_analytics AFTER UPDATE OF status ON sequence_enrollments
    FOR EACH ROW EXECUTE FUNCTION ld_enrollments_analytics();

ALTER TABLE lead_status_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE lead_status_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON lead_status_changes TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON lead_status_changes
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());

ALTER TABLE analytics_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON analytics_daily TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON analytics_daily
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());
