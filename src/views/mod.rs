//! maud views: one module per feature, each exposing `page`/`body` and the
//! fragments it is built from. Views never query the database.

pub mod auth;
pub mod components;
pub mod dashboard;
pub mod errors;
pub mod home;
pub mod layout;
pub mod lead_csv;
pub mod lead_detail;
pub mod leads;
pub mod messages;
pub mod orgs;
pub mod outbox;
pub mod sequences;
pub mod templates;
pub mod workspace;
