-- Why the sequence worker paused an enrolment (the enroller left the
-- organization or may no longer send messages); NULL when a member paused it
-- or it runs. The lead page shows it.
ALTER TABLE sequence_enrollments ADD COLUMN paused_reason text
    CHECK (paused_reason IS NULL OR status = 'paused');
