//! Request identity: the session/CSRF middleware, the session cookie
//! (actix-session), re-authentication before sensitive changes, and the
//! `CurrentUser` / `CurrentOrg` extractors. Token and password primitives
//! live below (`crate::tokens`, `crate::password`) so `db` need not import `auth`.

pub mod extractors;
pub mod host_cookies;
pub mod limits;
pub mod middleware;
pub mod reauth;
pub mod session;
pub mod session_key;

pub use extractors::{CurrentOrg, CurrentUser, MaybeUser};
