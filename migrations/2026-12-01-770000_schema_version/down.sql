DROP FUNCTION ld_schema_version();
