DROP INDEX invoices_org_provider;
DROP INDEX invoices_org_created;
