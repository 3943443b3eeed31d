-- Billing lifecycle with Stripe as the source of truth.
-- subscriptions: a change sent to Stripe and not yet confirmed by its webhook
-- (pending_*), the interval of a change scheduled for the period end, the
-- Stripe subscription schedule carrying it, and the local provider's test card.
ALTER TABLE subscriptions
    ADD COLUMN pending_change text,
    ADD COLUMN pending_since timestamptz,
    ADD COLUMN scheduled_interval text CHECK (scheduled_interval IN ('month', 'year')),
    ADD COLUMN provider_schedule_id text,
    ADD COLUMN card_last4 text CHECK (card_last4 ~ '^[0-9]{4}$');
CREATE INDEX subscriptions_provider_subscription ON subscriptions (provider_subscription_id);

-- invoices: the version of the provider invoice last applied (an older event
-- never rolls it back) and the provider's page where it can be paid.
ALTER TABLE invoices
    ADD COLUMN provider_state_at timestamptz,
    ADD COLUMN hosted_url text;

-- payment_events: an event about a customer not yet linked to an organization
-- is kept (payload and customer) as pending and applied when the link arrives.
ALTER TABLE payment_events
    ADD COLUMN customer text,
    ADD COLUMN payload jsonb,
    ADD COLUMN pending boolean NOT NULL DEFAULT false;
CREATE INDEX payment_events_pending ON payment_events (customer, provider_created_at) WHERE pending;

-- Billing mail (failed payments, plan ended) goes through the outbox too.
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('message', 'invitation', 'account', 'billing'));
