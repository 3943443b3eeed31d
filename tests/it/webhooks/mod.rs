//! Outgoing webhooks (docs/product.md, "Webhooks"): events from every source written with their
//! change, signed delivery to a real receiver, retries and order, the SSRF
//! guard, the pages with their bad input, roles and other organizations.

mod delivery;
mod events;
mod pages;
pub mod support;
