ALTER TABLE invoices DROP COLUMN seller;
