-- Sending from sender mailboxes: the outbox row says which mailbox sends it
-- and carries the threading headers; a row being sent is 'sending' with the
-- moment it was claimed (see docs/mailboxes.md, "If an instance dies while
-- sending"); a mailbox's state counts the sends booked on its current local day.
ALTER TABLE mail_outbox
    ADD COLUMN mailbox_id uuid,
    ADD COLUMN rfc_message_id text CHECK (rfc_message_id IS NULL OR length(rfc_message_id) <= 300),
    ADD COLUMN in_reply_to text CHECK (in_reply_to IS NULL OR length(in_reply_to) <= 300),
    ADD COLUMN thread_references text CHECK (thread_references IS NULL OR length(thread_references) <= 4000),
    ADD COLUMN reply_to text CHECK (reply_to IS NULL OR length(reply_to) <= 320),
    ADD COLUMN claimed_at timestamptz,
    ADD FOREIGN KEY (organization_id, mailbox_id) REFERENCES mailboxes (organization_id, id);
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_status_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed'));
CREATE INDEX mail_outbox_mailbox ON mail_outbox (organization_id, mailbox_id) WHERE mailbox_id IS NOT NULL;
CREATE INDEX mail_outbox_sending ON mail_outbox (claimed_at) WHERE status = 'sending';

ALTER TABLE mailbox_states
    ADD COLUMN booked_day date,
    ADD COLUMN booked_count integer NOT NULL DEFAULT 0 CHECK (booked_count >= 0);
