//! Fixed-window rate limits kept in PostgreSQL, so every app instance sees
//! the same counts. Used for sign-in attempts, sign-ups, new organizations
//! and account mail.
//!
//! A limit that guards expensive work is *reserved* before the work
//! (`reserve`): one conditional upsert takes a slot only while the window
//! has room, so parallel requests cannot all pass a check made before any
//! of them is counted.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamptz};

#[derive(QueryableByName)]
struct Hits {
    #[diesel(sql_type = Integer)]
    hits: i32,
}

/// Counts one hit in `bucket` and returns the hits in the current window
/// (including this one). A window older than `window` starts over.
pub fn hit(
    conn: &mut PgConnection,
    bucket: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> QueryResult<i32> {
    diesel::sql_query(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)
         ON CONFLICT (bucket) DO UPDATE SET
           hits = CASE WHEN rate_limits.window_start < $3 THEN 1 ELSE rate_limits.hits + 1 END,
           window_start = CASE WHEN rate_limits.window_start < $3 THEN $2 ELSE rate_limits.window_start END
         RETURNING hits",
    )
    .bind::<Text, _>(bucket)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(now - window)
    .get_result::<Hits>(conn)
    .map(|h| h.hits)
}

/// Takes one slot in `bucket` when fewer than `limit` are taken in the
/// current window (a window older than `window` starts over); false when the
/// window is full. Atomic: the row lock of the upsert orders parallel calls.
pub fn reserve(
    conn: &mut PgConnection,
    bucket: &str,
    limit: i32,
    window: Duration,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    if limit <= 0 || window_is_full(conn, bucket, limit, now - window)? {
        return Ok(false);
    }
    diesel::sql_query(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)
         ON CONFLICT (bucket) DO UPDATE SET
           hits = CASE WHEN rate_limits.window_start < $3 THEN 1 ELSE rate_limits.hits + 1 END,
           window_start = CASE WHEN rate_limits.window_start < $3 THEN $2 ELSE rate_limits.window_start END
         WHERE rate_limits.window_start < $3 OR rate_limits.hits < $4
         RETURNING hits",
    )
    .bind::<Text, _>(bucket)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(now - window)
    .bind::<Integer, _>(limit)
    .get_result::<Hits>(conn)
    .optional()
    .map(|taken| taken.is_some())
}

/// True when `bucket`'s current window (started after `since`) has no slot
/// left. A plain read: the upsert in `reserve` locks the row and commits a
/// write even when its `WHERE` refuses, so under a flood every refused
/// attempt queued on that one row lock and its WAL flush, holding a pooled
/// connection meanwhile (128 connections held all 16 and `/healthz` waited
/// behind them). A full window only empties by `release`, `clear` or time,
/// so refusing on this read is what the upsert would have answered.
fn window_is_full(
    conn: &mut PgConnection,
    bucket: &str,
    limit: i32,
    since: DateTime<Utc>,
) -> QueryResult<bool> {
    use crate::db::schema::rate_limits::dsl as r;
    diesel::select(diesel::dsl::exists(
        r::rate_limits
            .filter(r::bucket.eq(bucket))
            .filter(r::window_start.ge(since))
            .filter(r::hits.ge(limit)),
    ))
    .get_result(conn)
}

/// Gives back a slot taken by `reserve` (the guarded attempt turned out
/// not to count, e.g. a correct password).
pub fn release(conn: &mut PgConnection, bucket: &str) -> QueryResult<()> {
    use crate::db::schema::rate_limits::dsl as r;
    diesel::update(
        r::rate_limits
            .filter(r::bucket.eq(bucket))
            .filter(r::hits.gt(0)),
    )
    .set(r::hits.eq(r::hits - 1))
    .execute(conn)?;
    Ok(())
}

/// Forgets a bucket (e.g. after a successful sign-in).
pub fn clear(conn: &mut PgConnection, bucket: &str) -> QueryResult<()> {
    use crate::db::schema::rate_limits::dsl as r;
    diesel::delete(r::rate_limits.filter(r::bucket.eq(bucket))).execute(conn)?;
    Ok(())
}

/// Deletes day-old windows (every window is at most an hour long, so they
/// are over); returns how many.
pub fn purge_stale(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let cutoff = now - chrono::Duration::days(1);
    use crate::db::schema::rate_limits;
    diesel::delete(rate_limits::table.filter(rate_limits::window_start.lt(cutoff))).execute(conn)
}
