ALTER TABLE messages DROP CONSTRAINT messages_organization_id_enrollment_id_fkey;
-- Messages whose enrolment is gone cannot point back to one.
ALTER TABLE messages ADD CONSTRAINT messages_organization_id_enrollment_id_fkey
    FOREIGN KEY (organization_id, enrollment_id)
    REFERENCES sequence_enrollments (organization_id, id)
    ON DELETE CASCADE;
