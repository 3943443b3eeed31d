//! The retention job: once an hour, blanks the text of mail sent over 30
//! days ago, deletes raw usage records older than 13 months and used account
//! tokens, and inbound mail that belongs to no lead after 30 days
//! (`db::retention`), and API idempotency keys after their 24 hours
//! (`db::idempotency`). Safe on several instances: each statement is
//! idempotent.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::config::Config;
use crate::db::{idempotency, retention, SystemAccess};

pub fn run(
    conn: &mut PgConnection,
    _: &SystemAccess,
    _: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let mail = retention::blank_sent_mail(conn, now).map_err(|e| e.to_string())?;
    let usage = retention::prune_usage_records(conn, now).map_err(|e| e.to_string())?;
    let tokens = retention::prune_used_tokens(conn, now).map_err(|e| e.to_string())?;
    let inbound = retention::prune_unattached_inbound(conn, now).map_err(|e| e.to_string())?;
    let keys = idempotency::prune_expired(conn, now).map_err(|e| e.to_string())?;
    Ok(mail + usage + tokens + inbound + keys)
}
