//! `AppState`: what every handler, job and middleware of one app instance
//! shares — the pool, the settings, the session key, the clock and the
//! password hasher. It sits below `app`, `routes`, `auth` and `jobs`, so
//! none of them imports another to reach it.

use std::sync::Arc;

use actix_web::cookie::Key;

use crate::auth::session_key;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::password::Hasher;

/// Shared, cheap-to-clone state of one app instance.
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// Encrypts the session cookie; one per process, shared by all workers.
    pub session_key: Key,
    /// The one source of `now` (tests may pin it).
    pub clock: Clock,
    /// The one queue for password hashing: at most one hash per CPU at once.
    pub hasher: Hasher,
}

impl AppState {
    pub fn new(db: Db, config: Config) -> AppState {
        AppState::with_clock(db, config, Clock::system())
    }

    /// Like `new`, reading the time from `clock`.
    pub fn with_clock(db: Db, config: Config, clock: Clock) -> AppState {
        AppState {
            db,
            session_key: session_key::key(&config),
            config: Arc::new(config),
            clock,
            hasher: Hasher::per_cpu(),
        }
    }
}
