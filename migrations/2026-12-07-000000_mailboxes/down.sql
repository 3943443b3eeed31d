DELETE FROM suppressions WHERE reason = 'bounced';
ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_reason_check
    CHECK (reason IN ('unsubscribed', 'forgotten', 'added'));
DROP TABLE sequence_mailboxes;
DROP TABLE sequence_senders;
ALTER TABLE sequence_enrollments DROP CONSTRAINT sequence_enrollments_mailbox_fkey, DROP COLUMN mailbox_id;
ALTER TABLE leads DROP COLUMN time_zone;
DROP TABLE inbound_messages;
DROP INDEX messages_mailbox_sent;
DROP INDEX messages_rfc_message_id;
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check CHECK (status IN ('queued', 'sent', 'failed'));
ALTER TABLE messages DROP CONSTRAINT messages_mailbox_fkey,
    DROP COLUMN mailbox_id, DROP COLUMN rfc_message_id, DROP COLUMN in_reply_to,
    DROP COLUMN thread_references, DROP COLUMN bounced_at;
DROP TABLE mailbox_states;
DROP TABLE mailboxes;
