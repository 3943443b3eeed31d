DROP INDEX api_keys_list;
ALTER TABLE api_keys DROP COLUMN scope;
