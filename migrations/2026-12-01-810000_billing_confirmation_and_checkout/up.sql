-- A renewal whose payment the bank asks the cardholder to confirm (3-D
-- Secure, Stripe's `invoice.payment_action_required`): the open invoice is
-- marked, so the billing page offers "Confirm payment" on its hosted page
-- until it is paid or voided.
ALTER TABLE invoices ADD COLUMN needs_confirmation boolean NOT NULL DEFAULT false;

-- The organization's newest Checkout Session that may still be open: it is
-- expired before another one is created, so two tabs cannot both pay.
ALTER TABLE subscriptions ADD COLUMN checkout_session_id text;
