//! Outgoing webhooks (docs/product.md, "Webhooks") below the web and job layers: the event
//! catalogue and payload builders (`events`), Standard Webhooks signing
//! (`signing`) and the rules for where a delivery may go (`target`). The
//! queries live in `db::webhooks`, the delivery worker in `jobs::webhooks`.

pub mod events;
pub mod signing;
pub mod target;
