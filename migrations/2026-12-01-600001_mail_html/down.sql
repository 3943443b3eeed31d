ALTER TABLE mail_outbox DROP COLUMN body_html;
