DROP TABLE lead_bulk_jobs;
