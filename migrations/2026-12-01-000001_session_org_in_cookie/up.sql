-- The current organization lives in the signed session cookie; the sessions
-- row is only the revocation list and the user's session list.
ALTER TABLE sessions DROP COLUMN current_org_id;
