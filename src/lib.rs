//! Lead Dashboard: a multi-tenant SaaS for B2B lead outreach.
//!
//! Layout (see docs/architecture.md): `routes` parse, authorize and pick a page or
//! fragment; `views` render; `db` queries (tenant data only through a
//! `Tenant`); `domain` holds the pure rules; `jobs` the background work.

pub mod api;
pub mod app;
pub mod assets;
pub mod auth;
pub mod billing;
pub mod cli;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod forms;
pub mod ids;
pub mod jobs;
pub mod local_pg;
pub mod mail;
pub mod mailboxes;
pub mod observe;
pub mod password;
pub mod routes;
pub mod server;
pub mod state;
pub mod tokens;
pub mod views;
pub mod webhooks;
