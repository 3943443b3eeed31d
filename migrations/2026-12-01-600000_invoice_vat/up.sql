-- VAT on invoices (docs/billing.md, "VAT"). The billing country decides the
-- rate; each invoice keeps what was decided when it was issued: the rate
-- (basis points, 1900 = 19 %), the VAT, the net and the note (reverse
-- charge, not subject to EU VAT). total_cents stays the gross, and the net
-- is stored as gross minus VAT, so the three always add up. Invoices from
-- before keep their totals: rate 0, VAT 0, net = gross.
ALTER TABLE organizations
    ADD COLUMN billing_country text CHECK (billing_country ~ '^[A-Z]{2}$');

ALTER TABLE invoices
    ADD COLUMN vat_rate_bp integer NOT NULL DEFAULT 0 CHECK (vat_rate_bp BETWEEN 0 AND 10000),
    ADD COLUMN vat_cents bigint NOT NULL DEFAULT 0,
    ADD COLUMN vat_note text,
    ADD COLUMN net_cents bigint NOT NULL GENERATED ALWAYS AS (total_cents - vat_cents) STORED;
