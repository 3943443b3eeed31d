//! maud views: one module per feature, each exposing `page`/`body` and the
//! fragments it is built from. Views never query the database.

pub mod auth;
pub mod charts;
pub mod components;
pub mod dashboard;
pub mod errors;
pub mod home;
pub mod layout;
pub mod notices;
pub mod orgs;
pub mod plans;
pub mod usage;
