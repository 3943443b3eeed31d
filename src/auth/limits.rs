//! Hourly limits on mail-sending account actions, counted in `rate_limit`
//! buckets; one table, so every limit is visible in one place.

use chrono::{DateTime, Utc};

use crate::db::rate_limit;
use crate::error::AppResult;
use crate::state::AppState;

/// A limit: at most `per_hour` requests per bucket key in an hour.
#[derive(Debug, Clone, Copy)]
pub struct Hourly {
    prefix: &'static str,
    per_hour: i32,
}

/// Verification links one user may ask for per hour.
pub const VERIFY_RESENDS: Hourly = Hourly::new("verify-resend", 3);
/// Email-change links one user may ask for per hour.
pub const EMAIL_CHANGES: Hourly = Hourly::new("email-change", 5);
/// Reset links one address may be sent per hour.
pub const RESETS_PER_EMAIL: Hourly = Hourly::new("reset:email", 5);
/// Reset requests one network address may make per hour.
pub const RESETS_PER_IP: Hourly = Hourly::new("reset:ip", 20);

impl Hourly {
    const fn new(prefix: &'static str, per_hour: i32) -> Hourly {
        Hourly { prefix, per_hour }
    }

    /// Counts one request for `key`; true when it is over the limit.
    pub async fn exceeded(
        self,
        state: &AppState,
        key: &str,
        now: DateTime<Utc>,
    ) -> AppResult<bool> {
        let bucket = format!("{}:{key}", self.prefix);
        let hour = chrono::Duration::hours(1);
        state
            .db
            .run(move |conn| -> AppResult<_> {
                Ok(rate_limit::hit(conn, &bucket, hour, now)? > self.per_hour)
            })
            .await
    }
}
