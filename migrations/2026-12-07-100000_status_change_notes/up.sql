-- Why a status changed, when the app changed it by itself (e.g. "reply
-- detected" when a reply was read from a mailbox's inbox); NULL for changes
-- made by a person or the API, whose author is `changed_by`.
ALTER TABLE lead_status_changes ADD COLUMN note text CHECK (length(note) <= 200);

-- Enrolments stopped because mail to the lead bounced count as 'bounced'
-- in the analytics of stopped enrolments (src/db/stops.rs BOUNCED).
CREATE OR REPLACE FUNCTION ld_stop_reason(reason text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE reason
        WHEN 'Stopped: the lead unsubscribed.' THEN 'unsubscribed'
        WHEN 'Stopped: this address is on the suppression list.' THEN 'suppressed'
        WHEN 'Stopped: mail to this address bounced.' THEN 'bounced'
        WHEN 'Stopped: the lead replied.' THEN 'replied'
        WHEN 'Stopped: the lead was marked lost.' THEN 'lost'
        ELSE 'member' END $$;
