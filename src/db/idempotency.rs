//! Idempotency keys of API POSTs (docs/product.md, "API"), per organization, for 24 hours.
//! `claim` is called first in the transaction that does the work: the first
//! request with a key inserts the claim and does the work; a concurrent
//! retry waits on the claim's row and then reads the stored response; a
//! different request with the same key is told so. A claim older than 24
//! hours is taken over as if it were new.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Text, Timestamptz, Uuid as SqlUuid};

use crate::db::schema::api_idempotency_keys as keys;
use crate::db::Tenant;
use crate::ids::OrgId;

/// How long a stored response answers retries.
pub const KEEP_HOURS: i64 = 24;

/// A response as stored for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// What a key means for the request that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use (or expired): do the work, then `store` its response.
    New,
    /// Seen before with the same request: answer this again.
    Replay(Stored),
    /// Seen before with a different request.
    Mismatch,
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    one: i32,
}

/// Claims `key` for the request whose hash is `request_hash`; inside the
/// caller's transaction.
pub fn claim(
    conn: &mut PgConnection,
    tenant: &Tenant,
    key: &str,
    request_hash: &[u8],
    now: DateTime<Utc>,
) -> QueryResult<Claim> {
    let claimed: Option<Claimed> = diesel::sql_query(
        "INSERT INTO api_idempotency_keys (organization_id, idempotency_key, request_hash, created_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (organization_id, idempotency_key) DO UPDATE SET
           request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at,
           response_status = NULL, response_body = NULL, response_location = NULL
         WHERE api_idempotency_keys.created_at < $5
         RETURNING 1 AS one",
    )
    .bind::<SqlUuid, _>(tenant.org_id())
    .bind::<Text, _>(key)
    .bind::<Bytea, _>(request_hash)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(now - Duration::hours(KEEP_HOURS))
    .get_result(conn)
    .optional()?;
    if claimed.is_some() {
        return Ok(Claim::New);
    }
    type Row = (Vec<u8>, Option<i16>, Option<String>, Option<String>);
    let (hash, status, body, location): Row = scoped_keys(tenant)
        .filter(keys::idempotency_key.eq(key))
        .select((
            keys::request_hash,
            keys::response_status,
            keys::response_body,
            keys::response_location,
        ))
        .first(conn)?;
    Ok(match (hash == request_hash, status, body) {
        (true, Some(status), Some(body)) => Claim::Replay(Stored {
            status: u16::try_from(status).unwrap_or(500),
            body,
            location,
        }),
        _ => Claim::Mismatch,
    })
}

/// Stores the response of the work done under a `Claim::New`.
pub fn store(conn: &mut PgConnection, tenant: &Tenant, key: &str, res: &Stored) -> QueryResult<()> {
    diesel::update(scoped_keys(tenant).filter(keys::idempotency_key.eq(key)))
        .set((
            keys::response_status.eq(i16::try_from(res.status).unwrap_or(500)),
            keys::response_body.eq(&res.body),
            keys::response_location.eq(&res.location),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Gives a claim back: the work was refused, so a corrected retry with the
/// same key may try again.
pub fn release(conn: &mut PgConnection, tenant: &Tenant, key: &str) -> QueryResult<()> {
    diesel::delete(scoped_keys(tenant).filter(keys::idempotency_key.eq(key)))
        .execute(conn)
        .map(|_| ())
}

/// Deletes the stored responses that name a forgotten lead (its id or its
/// address): a replay would otherwise hand the person's data back.
pub fn forget_responses_naming(
    conn: &mut PgConnection,
    tenant: &Tenant,
    needles: &[&str],
) -> QueryResult<usize> {
    let mut deleted = 0;
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let pattern = format!("%{}%", escape_like(needle));
        deleted += diesel::delete(
            scoped_keys(tenant).filter(keys::response_body.ilike(pattern).escape('\\')),
        )
        .execute(conn)?;
    }
    Ok(deleted)
}

/// Deletes keys older than `KEEP_HOURS` of every organization: past that a
/// key is taken over as new anyway, so the row only holds data. Run by the
/// retention job.
pub fn prune_expired(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let cutoff = now - Duration::hours(KEEP_HOURS);
    diesel::delete(keys::table.filter(keys::created_at.lt(cutoff))).execute(conn)
}

/// `text` as a LIKE pattern that matches only itself (`\` escapes).
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Every `api_idempotency_keys` query of a tenant starts here.
fn scoped_keys(tenant: &Tenant) -> Filter<keys::table, Eq<keys::organization_id, OrgId>> {
    keys::table.filter(keys::organization_id.eq(tenant.org_id()))
}
