ALTER TABLE mailbox_states DROP COLUMN booked_count, DROP COLUMN booked_day;
DROP INDEX mail_outbox_sending;
DROP INDEX mail_outbox_mailbox;
UPDATE mail_outbox SET status = 'pending' WHERE status = 'sending';
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_status_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_status_check
    CHECK (status IN ('pending', 'sent', 'failed'));
ALTER TABLE mail_outbox
    DROP COLUMN claimed_at, DROP COLUMN reply_to, DROP COLUMN thread_references,
    DROP COLUMN in_reply_to, DROP COLUMN rfc_message_id, DROP COLUMN mailbox_id;
