-- Readiness (`/readyz`): the app role may not read the migrations table
-- (revoked in 300000), but it may ask which version the schema is at, so a
-- load balancer's probe can tell an instance whose migrations are not yet
-- applied. SECURITY DEFINER with a fixed search_path: it reads that one
-- table as its owner and nothing else.
CREATE FUNCTION ld_schema_version() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$ SELECT max(version) FROM __diesel_schema_migrations $$;

REVOKE ALL ON FUNCTION ld_schema_version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ld_schema_version() TO lead_dashboard_app;
