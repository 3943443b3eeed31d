DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT DISTINCT tablename AS name FROM pg_policies WHERE schemaname = 'public'
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS system_access ON %I', t.name);
        EXECUTE format('DROP POLICY IF EXISTS tenant_wall ON %I', t.name);
        EXECUTE format('DROP POLICY IF EXISTS global_read ON %I', t.name);
        EXECUTE format('DROP POLICY IF EXISTS own_memberships ON %I', t.name);
        EXECUTE format('DROP POLICY IF EXISTS member_of ON %I', t.name);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t.name);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t.name);
    END LOOP;
END $$;
DROP FUNCTION ld_current_org();
DROP FUNCTION ld_current_user();
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM lead_dashboard_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM lead_dashboard_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM lead_dashboard_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM lead_dashboard_app;
REVOKE USAGE ON SCHEMA public FROM lead_dashboard_app;
