-- The organization's VAT id is sent to its Stripe customer (Stripe Tax
-- applies the reverse charge from it) as a durable operation: recorded
-- when the billing details change or the customer is linked, made by the
-- lifecycle job, retried until Stripe has exactly that id.
ALTER TABLE stripe_operations DROP CONSTRAINT stripe_operations_kind_check;
ALTER TABLE stripe_operations ADD CONSTRAINT stripe_operations_kind_check
    CHECK (kind IN ('cancel_subscription', 'sync_tax_id'));
