-- Deleting a sequence (or one enrolment) must not erase the messages it sent:
-- the message keeps its lead, recipient, subject, body and step position, and
-- only loses the link to the enrolment. SET NULL names the column so the
-- organization_id of the composite key stays.
ALTER TABLE messages DROP CONSTRAINT messages_organization_id_enrollment_id_fkey;
ALTER TABLE messages ADD CONSTRAINT messages_organization_id_enrollment_id_fkey
    FOREIGN KEY (organization_id, enrollment_id)
    REFERENCES sequence_enrollments (organization_id, id)
    ON DELETE SET NULL (enrollment_id);
