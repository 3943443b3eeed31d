//! The organization erasure job: every pass erases, batch by batch, the
//! organizations whose deletion date has come (`db::org_deletion`).

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::config::Config;
use crate::db::SystemAccess;

/// One pass as if it were `now` (the scheduled `JobFn`).
pub fn run(
    conn: &mut PgConnection,
    access: &SystemAccess,
    _: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    crate::db::org_deletion::erase_due(conn, access, now).map_err(|e| e.to_string())
}
