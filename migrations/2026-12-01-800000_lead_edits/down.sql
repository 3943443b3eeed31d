DROP TRIGGER leads_edited ON leads;
DROP FUNCTION ld_leads_edited();
DROP TABLE lead_edits;
DROP INDEX lead_status_changes_lead_time;
