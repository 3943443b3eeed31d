//! The subscription lifecycle job: every pass applies the transitions that are
//! due (trial end, grace expiry, cancellation, scheduled downgrade, period
//! roll-over) through `db::lifecycle`, which makes it safe on many instances.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::config::Config;
use crate::db::SystemAccess;

/// One pass as if it were `now` (the scheduled `JobFn`).
pub fn run_at(
    conn: &mut PgConnection,
    access: &SystemAccess,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let provider = crate::billing::provider(config);
    crate::db::lifecycle::advance_due(conn, access, provider.as_ref(), now)
        .map_err(|e| e.to_string())
}
