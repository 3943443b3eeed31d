//! Accounts and request identity: password hashing, random tokens, the
//! session/CSRF middleware and the `CurrentUser` / `CurrentOrg` extractors.

pub mod extractors;
pub mod middleware;
pub mod password;
pub mod tokens;

pub use extractors::{CurrentOrg, CurrentUser, MaybeUser};
