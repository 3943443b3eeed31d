DROP TABLE org_exports;
