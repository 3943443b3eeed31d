DROP INDEX organizations_deletion_due;
-- Invoices of erased organizations cannot be linked again: they go.
DELETE FROM invoices WHERE organization_id NOT IN (SELECT id FROM organizations);
ALTER TABLE invoices ADD CONSTRAINT invoices_organization_id_fkey
    FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE;
