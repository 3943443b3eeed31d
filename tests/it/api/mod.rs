//! The public API (docs/product.md, "API"): API keys on the settings page, and the JSON
//! API under `/api/v1` driven with those keys.

mod access;
mod docs;
mod idempotency;
mod keys;
mod leads;
mod limits;
mod messages;
pub mod openapi_check;
pub(crate) mod support;
mod templates;
