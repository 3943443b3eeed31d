ALTER TABLE invoices
    DROP COLUMN net_cents,
    DROP COLUMN vat_note,
    DROP COLUMN vat_cents,
    DROP COLUMN vat_rate_bp;
ALTER TABLE organizations DROP COLUMN billing_country;
