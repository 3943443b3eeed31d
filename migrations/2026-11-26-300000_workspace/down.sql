DROP TABLE lead_imports;
DROP INDEX sequence_enrollments_sequence;
DROP INDEX leads_org_tags;
DROP INDEX leads_search;
