DELETE FROM mail_outbox WHERE kind = 'billing';
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('message', 'invitation', 'account'));
DROP INDEX payment_events_pending;
ALTER TABLE payment_events DROP COLUMN customer, DROP COLUMN payload, DROP COLUMN pending;
ALTER TABLE invoices DROP COLUMN provider_state_at, DROP COLUMN hosted_url;
DROP INDEX subscriptions_provider_subscription;
ALTER TABLE subscriptions
    DROP COLUMN pending_change, DROP COLUMN pending_since, DROP COLUMN scheduled_interval,
    DROP COLUMN provider_schedule_id, DROP COLUMN card_last4;
