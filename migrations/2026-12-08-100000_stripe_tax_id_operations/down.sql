DELETE FROM stripe_operations WHERE kind = 'sync_tax_id';
ALTER TABLE stripe_operations DROP CONSTRAINT stripe_operations_kind_check;
ALTER TABLE stripe_operations ADD CONSTRAINT stripe_operations_kind_check
    CHECK (kind IN ('cancel_subscription'));
