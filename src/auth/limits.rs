//! Limits on account actions, counted in `rate_limit` buckets; one table,
//! so every limit is visible in one place. Mail-sending actions count each
//! request (`Hourly`); actions that hash a password or create an
//! organization reserve a `Slot` first, all or none, so that parallel
//! requests cannot overrun the limit (see docs/decisions.md for the numbers).

use chrono::{DateTime, Duration, Utc};

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

/// A limit reserved before expensive work: at most `max` per bucket key in
/// `window_minutes`.
#[derive(Debug, Clone, Copy)]
pub struct Reserved {
    prefix: &'static str,
    max: i32,
    window_minutes: i64,
}

/// Sign-ups (new accounts, not from an invitation) per client address.
pub const SIGNUPS_PER_IP: Reserved = Reserved::new("signup:ip", 10, 60);
/// Organizations one account may create per day.
pub const ORGS_PER_ACCOUNT: Reserved = Reserved::new("orgs:account", 5, 24 * 60);
/// Organizations created from one client address per day.
pub const ORGS_PER_IP: Reserved = Reserved::new("orgs:ip", 20, 24 * 60);
/// New passwords submitted with one reset link per hour (a link is single
/// use; this bounds the hashing parallel submissions of it can cause).
pub const RESET_SUBMITS_PER_LINK: Reserved = Reserved::new("reset:link", 5, 60);

impl Reserved {
    const fn new(prefix: &'static str, max: i32, window_minutes: i64) -> Reserved {
        Reserved {
            prefix,
            max,
            window_minutes,
        }
    }

    /// The slot of this limit for `key`.
    pub fn slot(self, key: &str) -> Slot {
        Slot::new(
            format!("{}:{key}", self.prefix),
            self.max,
            Duration::minutes(self.window_minutes),
        )
    }
}

/// One slot to reserve: a bucket, its limit and its window.
#[derive(Debug, Clone)]
pub struct Slot {
    pub bucket: String,
    max: i32,
    window: Duration,
}

impl Slot {
    pub fn new(bucket: String, max: i32, window: Duration) -> Slot {
        Slot {
            bucket,
            max,
            window,
        }
    }
}

/// Reserves every slot, or none: true when all were free. A slot taken
/// before a full one is given back.
pub async fn reserve(state: &AppState, slots: Vec<Slot>, now: DateTime<Utc>) -> AppResult<bool> {
    state
        .db
        .run(move |conn| -> AppResult<_> {
            for (taken, slot) in slots.iter().enumerate() {
                if !rate_limit::reserve(conn, &slot.bucket, slot.max, slot.window, now)? {
                    for earlier in &slots[..taken] {
                        rate_limit::release(conn, &earlier.bucket)?;
                    }
                    return Ok(false);
                }
            }
            Ok(true)
        })
        .await
}

/// Gives back one slot of each bucket (the attempt did not count).
pub async fn release(state: &AppState, buckets: Vec<String>) -> AppResult<()> {
    state
        .db
        .run(move |conn| -> AppResult<_> {
            for bucket in &buckets {
                rate_limit::release(conn, bucket)?;
            }
            Ok(())
        })
        .await
}
