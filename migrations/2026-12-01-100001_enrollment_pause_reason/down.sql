ALTER TABLE sequence_enrollments DROP COLUMN paused_reason;
