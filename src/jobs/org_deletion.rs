//! The organization erasure job: every pass deletes the export archives of
//! the organizations whose deletion date has come, then erases them, batch
//! by batch (`db::org_deletion`).

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::config::Config;
use crate::db::{org_export, SystemAccess};
use crate::jobs::org_export::remove_archive;

/// One pass as if it were `now` (the scheduled `JobFn`).
pub fn run(
    conn: &mut PgConnection,
    access: &SystemAccess,
    _: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let files = org_export::files_due_for_erasure(conn, now).map_err(|e| e.to_string())?;
    for path in &files {
        remove_archive(path)?;
    }
    crate::db::org_deletion::erase_due(conn, access, now).map_err(|e| e.to_string())
}
