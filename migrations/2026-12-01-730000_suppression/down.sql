UPDATE sequence_enrollments SET paused_reason = NULL WHERE status = 'stopped';
ALTER TABLE sequence_enrollments DROP CONSTRAINT sequence_enrollments_reason_check;
ALTER TABLE sequence_enrollments ADD CHECK (paused_reason IS NULL OR status = 'paused');
ALTER TABLE mail_outbox DROP COLUMN unsubscribe_token;
DROP TABLE unsubscribe_tokens;
DROP TABLE suppressions;
ALTER TABLE organizations DROP COLUMN suppression_salt;
