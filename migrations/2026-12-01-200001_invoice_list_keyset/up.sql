-- The invoice list pages by keyset (created_at, id), newest first; provider
-- events find their invoice by the provider's id.
CREATE INDEX invoices_org_created ON invoices (organization_id, created_at DESC, id DESC);
CREATE INDEX invoices_org_provider ON invoices (organization_id, provider_invoice_id);
