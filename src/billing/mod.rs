//! Payments: the Stripe client and webhook signatures.

pub mod signature;
pub mod stripe;
