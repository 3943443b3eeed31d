ALTER TABLE subscriptions DROP COLUMN checkout_session_id;
ALTER TABLE invoices DROP COLUMN needs_confirmation;
