-- Row-level security: the second tenant wall (docs/security.md, "Second wall").
--
-- Requests run as the non-owner role lead_dashboard_app, with the session's
-- verified organization in the setting app.organization_id and the signed-in
-- user in app.user_id (src/db/wall.rs sets both on every checkout). Every
-- table with an organization_id column has RLS enabled and FORCED, so a query
-- that forgets its organization filter still sees and changes only the
-- current organization's rows, and a query with no organization set sees none.
-- Jobs and the CLI (the SystemAccess capability) run as the owner, which is a
-- member of lead_dashboard_system: that role's policy is their way through.
--
-- Roles are cluster-wide: several databases of one cluster (tests, staging)
-- share them, so they are created only when missing, tolerating a concurrent
-- creator.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['lead_dashboard_app', 'lead_dashboard_system'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
        -- The owner must be able to SET ROLE to the app role and carries
        -- the system role (superusers are members of every role already).
        IF NOT pg_has_role(current_user, r, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', r, current_user);
        END IF;
    END LOOP;
END $$;

-- The app role reads and writes rows; it owns nothing, so it can neither
-- change the schema nor switch RLS off.
GRANT USAGE ON SCHEMA public TO lead_dashboard_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO lead_dashboard_app;
REVOKE ALL ON TABLE __diesel_schema_migrations FROM lead_dashboard_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO lead_dashboard_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO lead_dashboard_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO lead_dashboard_app;

-- The current organization and user; NULL when unset (then nothing matches).
CREATE FUNCTION ld_current_org() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.organization_id', true), '')::uuid $$;
CREATE FUNCTION ld_current_user() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

-- Every table with an organization_id column, found in the catalogue so
-- that no table is left out: RLS on and forced, the system policy, and the
-- tenant policy. Tables whose organization_id may be NULL must be named
-- below with their rule, or the migration fails.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.relname AS name, NOT a.attnotnull AS nullable
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id'
            AND NOT a.attisdropped
        WHERE c.relkind = 'r'
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.name);
        EXECUTE format('CREATE POLICY system_access ON %I TO lead_dashboard_system '
                       'USING (true) WITH CHECK (true)', t.name);
        IF NOT t.nullable THEN
            EXECUTE format('CREATE POLICY tenant_wall ON %I '
                           'USING (organization_id = ld_current_org()) '
                           'WITH CHECK (organization_id = ld_current_org())', t.name);
        ELSIF t.name IN ('message_templates', 'sequences', 'sequence_steps') THEN
            -- NULL = provided to every organization: readable by all,
            -- written by none (only the owner seeds them).
            EXECUTE format('CREATE POLICY tenant_wall ON %I '
                           'USING (organization_id = ld_current_org()) '
                           'WITH CHECK (organization_id = ld_current_org())', t.name);
            EXECUTE format('CREATE POLICY global_read ON %I FOR SELECT '
                           'USING (organization_id IS NULL)', t.name);
        ELSIF t.name IN ('mail_outbox', 'payment_events') THEN
            -- NULL = not an organization's (account mail, an event for no
            -- known organization): open to the app, like the users table.
            EXECUTE format('CREATE POLICY tenant_wall ON %I '
                           'USING (organization_id IS NULL OR organization_id = ld_current_org()) '
                           'WITH CHECK (organization_id IS NULL OR organization_id = ld_current_org())',
                           t.name);
        ELSE
            RAISE EXCEPTION 'table % has a nullable organization_id and no row-level rule', t.name;
        END IF;
    END LOOP;
END $$;

-- The organizations table is keyed by id.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON organizations TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON organizations
    USING (id = ld_current_org()) WITH CHECK (id = ld_current_org());

-- The signed-in user sees their own memberships, and the organizations they
-- belong to, in every organization (the switcher, the picker, sign-in).
CREATE POLICY own_memberships ON organization_members FOR SELECT
    USING (user_id = ld_current_user());
CREATE POLICY member_of ON organizations FOR SELECT
    USING (EXISTS (SELECT FROM organization_members m
                   WHERE m.organization_id = organizations.id
                     AND m.user_id = ld_current_user()));
CREATE POLICY member_of ON subscriptions FOR SELECT
    USING (EXISTS (SELECT FROM organization_members m
                   WHERE m.organization_id = subscriptions.organization_id
                     AND m.user_id = ld_current_user()));
