-- The seller as each invoice names it (docs/billing.md, "Invoices"): name,
-- address, VAT id and country from the configuration (SELLER_NAME,
-- SELLER_ADDRESS, SELLER_VAT_ID, VAT_SELLER_COUNTRY) at the moment the
-- invoice is issued, kept like the `customer` snapshot, so a later change
-- of configuration never rewrites an issued invoice. Invoices from before
-- have none (NULL) and show the currently configured name only.
ALTER TABLE invoices ADD COLUMN seller jsonb;
