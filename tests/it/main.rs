//! Integration tests: one binary, one module per feature. Each test runs a
//! real server against its own PostgreSQL database (see `common`).

mod common;

mod accounts;
mod analytics;
mod api;
mod billing;
mod binary;
mod browser;
mod data_safety;
mod demo;
mod edge;
mod faults;
mod foundation;
mod hardening_flood;
mod hostile;
mod html_valid;
mod isolation;
mod mailbox_health;
mod mailbox_inbound;
mod mailbox_senders;
mod mailbox_sending;
mod mailbox_settings;
mod org_deletion;
mod org_export;
mod production;
mod rights;
mod row_security;
mod schema;
mod structure;
mod team;
mod two_instances;
mod typed_rows;
mod usage;
mod webhooks;
mod workspace_bulk;
mod workspace_lead_import;
mod workspace_leads;
mod workspace_mail;
mod workspace_messages;
mod workspace_owners;
mod workspace_sequences;
mod workspace_support;
mod workspace_templates;
mod workspace_timeline;
