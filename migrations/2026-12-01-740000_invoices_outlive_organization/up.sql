-- Organization deletion keeps invoices (legal retention, docs/decisions.md
-- "Organization deletion"): an invoice no longer cascades away with its
-- organization. Its organization_id stays, NOT NULL, as the id the invoice was
-- issued to; once the organization is erased no membership can prove that id,
-- so row-level security shows the invoice to no tenant. The billing details
-- printed on it are already copied into `invoices.customer` when it is issued.
ALTER TABLE invoices DROP CONSTRAINT invoices_organization_id_fkey;

-- The erasure job finds organizations whose date has come.
CREATE INDEX organizations_deletion_due ON organizations (deletion_scheduled_at)
    WHERE deletion_scheduled_at IS NOT NULL;
