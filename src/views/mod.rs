//! maud views: one module per feature, each exposing `page`/`body` and the
//! fragments it is built from. Views never query the database.

pub mod account;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod charts;
pub mod components;
pub mod dashboard;
pub mod errors;
pub mod format;
pub mod home;
pub mod invitations;
pub mod invoice_pdf;
pub mod layout;
pub mod lead_csv;
pub mod lead_detail;
pub mod lead_import;
pub mod leads;
pub mod messages;
pub mod notices;
pub mod org_export;
pub mod orgs;
pub mod outbox;
pub mod password;
pub mod plans;
pub mod sequences;
pub mod sessions;
pub mod settings;
pub mod team;
pub mod templates;
pub mod usage;
pub mod workspace;
