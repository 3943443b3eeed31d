//! Housekeeping for accounts: deletes sessions past their lifetime or idle
//! timeout, account tokens expired for a day, and rate-limit windows older
//! than a day. The context loader already refuses expired sessions; this
//! only keeps the tables small. Deleting is idempotent, so instances may
//! run it at the same time.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::config::Config;
use crate::db::SystemAccess;
use crate::db::{account_tokens, rate_limit, sessions};

/// One pass; returns the number of rows removed.
pub fn run(
    conn: &mut PgConnection,
    _: &SystemAccess,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let idle = chrono::Duration::from_std(config.session_idle).map_err(|e| e.to_string())?;
    let sessions = sessions::purge_expired(conn, idle, now).map_err(|e| e.to_string())?;
    let tokens = account_tokens::purge_expired(conn, now).map_err(|e| e.to_string())?;
    let windows = rate_limit::purge_stale(conn, now).map_err(|e| e.to_string())?;
    Ok(sessions + tokens + windows)
}
