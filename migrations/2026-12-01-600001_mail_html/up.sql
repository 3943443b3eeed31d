-- An HTML alternative to the plain text of a mail (the invoice mail has one);
-- NULL: plain text only.
ALTER TABLE mail_outbox ADD COLUMN body_html text;
