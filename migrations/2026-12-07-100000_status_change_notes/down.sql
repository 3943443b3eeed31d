CREATE OR REPLACE FUNCTION ld_stop_reason(reason text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE reason
        WHEN 'Stopped: the lead unsubscribed.' THEN 'unsubscribed'
        WHEN 'Stopped: this address is on the suppression list.' THEN 'suppressed'
        WHEN 'Stopped: the lead replied.' THEN 'replied'
        WHEN 'Stopped: the lead was marked lost.' THEN 'lost'
        ELSE 'member' END $$;
ALTER TABLE lead_status_changes DROP COLUMN note;
