//! An organization's API keys (docs/product.md, "API"): created (shown once), listed by
//! prefix, revoked, and looked up by the SHA-256 hash of the whole key.
//! Creating and revoking write an audit event in the same transaction.
//! `authenticate` is the one read across organizations (the hash is a secret
//! no other organization can guess); it is what makes a `Tenant` for a key.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use rand::Rng;
use serde_json::json;

use crate::db::models::{Organization, Subscription};
use crate::db::schema::{api_keys, organizations, subscriptions, users};
use crate::db::{audit, wall, Tenant};
use crate::domain::api_keys::{compose, KeyScope, PREFIX_LEN};
use crate::ids::{ApiKeyId, OrgId, UserId};
use crate::tokens;

/// Keys shown on the settings page (revoked ones included, newest first).
pub const LIST_LIMIT: i64 = 200;

/// `last_used_at` is written at most this often per key, so a busy key does
/// not turn every call into a row update.
const TOUCH_EVERY_SECONDS: i64 = 60;

/// One key as the settings page lists it; never the secret or its hash.
#[derive(Debug, Clone, Queryable)]
pub struct KeyRow {
    pub id: ApiKeyId,
    pub name: String,
    pub prefix: String,
    pub scope: KeyScope,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key as stored: the tenant's organization, the acting user as creator.
#[derive(Insertable)]
#[diesel(table_name = api_keys)]
struct NewKey<'a> {
    organization_id: OrgId,
    id: ApiKeyId,
    name: &'a str,
    prefix: &'a str,
    key_hash: Vec<u8>,
    created_by: Option<UserId>,
    created_at: DateTime<Utc>,
    scope: KeyScope,
}

/// A key that was just created: its row and the full key, shown once.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub row: KeyRow,
    pub key: String,
}

/// What a presented key stands for: the organization it acts in (as a
/// `Tenant`), its scope, and the organization's plan state.
#[derive(Debug, Clone)]
pub struct KeyContext {
    pub tenant: Tenant,
    pub key_id: ApiKeyId,
    pub scope: KeyScope,
    pub revoked: bool,
    pub last_used_at: Option<DateTime<Utc>>,
    pub org: Organization,
    pub subscription: Subscription,
}

/// The organization's keys, newest first, with the creator's name.
pub fn list(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<KeyRow>> {
    load_rows(conn, tenant, None)
}

/// One key of the organization; NotFound otherwise.
pub fn find(conn: &mut PgConnection, tenant: &Tenant, id: ApiKeyId) -> QueryResult<KeyRow> {
    load_rows(conn, tenant, Some(id))?
        .pop()
        .ok_or(diesel::result::Error::NotFound)
}

fn load_rows(
    conn: &mut PgConnection,
    tenant: &Tenant,
    only: Option<ApiKeyId>,
) -> QueryResult<Vec<KeyRow>> {
    let mut query = scoped_keys(tenant)
        .left_join(users::table.on(users::id.nullable().eq(api_keys::created_by)))
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .limit(LIST_LIMIT)
        .select((
            api_keys::id,
            api_keys::name,
            api_keys::prefix,
            api_keys::scope,
            users::name.nullable(),
            api_keys::created_at,
            api_keys::last_used_at,
            api_keys::revoked_at,
        ))
        .into_boxed();
    if let Some(id) = only {
        query = query.filter(api_keys::id.eq(id));
    }
    query.load(conn)
}

/// Creates a key named `name` with `scope`, audited, and returns the full
/// key — the only time it exists outside the caller's hands. Only its hash
/// is stored.
pub fn create(
    conn: &mut PgConnection,
    tenant: &Tenant,
    name: &str,
    scope: KeyScope,
    now: DateTime<Utc>,
) -> QueryResult<CreatedKey> {
    let (id, prefix) = (ApiKeyId::new(), random_prefix());
    let key = compose(&prefix, &tokens::random_token());
    conn.transaction(|conn| {
        diesel::insert_into(api_keys::table)
            .values(NewKey {
                organization_id: tenant.org_id(),
                id,
                name,
                prefix: &prefix,
                key_hash: tokens::hash(&key),
                created_by: tenant.user_id(),
                created_at: now,
                scope,
            })
            .execute(conn)?;
        let after = json!({ "id": id, "name": name, "prefix": prefix, "scope": scope });
        audit::record(
            conn,
            tenant,
            "api_key.created",
            &target(&prefix),
            None,
            Some(after),
        )?;
        let row = find(conn, tenant, id)?;
        Ok(CreatedKey { row, key })
    })
}

/// Revokes a key (audited); revoking a revoked key changes nothing and
/// writes no event. NotFound for another organization's or no key.
pub fn revoke(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: ApiKeyId,
    now: DateTime<Utc>,
) -> QueryResult<KeyRow> {
    conn.transaction(|conn| {
        let key = find(conn, tenant, id)?;
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        diesel::update(scoped_keys(tenant).filter(api_keys::id.eq(id)))
            .set(api_keys::revoked_at.eq(now))
            .execute(conn)?;
        let before =
            json!({ "id": id, "name": key.name, "prefix": key.prefix, "scope": key.scope });
        audit::record(
            conn,
            tenant,
            "api_key.revoked",
            &target(&key.prefix),
            Some(before),
            None,
        )?;
        find(conn, tenant, id)
    })
}

/// The key whose hash is `key_hash`, with its organization and subscription;
/// `None` when no key has it. Reads across organizations with the wall
/// lifted: the hash of a 256-bit secret is the proof, as for session tokens.
pub fn authenticate(conn: &mut PgConnection, key_hash: Vec<u8>) -> QueryResult<Option<KeyContext>> {
    type Row = (
        (
            ApiKeyId,
            KeyScope,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
        ),
        Organization,
        Subscription,
    );
    let row: Option<Row> = wall::lifted(conn, |conn| {
        api_keys::table
            .inner_join(organizations::table)
            .inner_join(
                subscriptions::table.on(subscriptions::organization_id.eq(organizations::id)),
            )
            .filter(api_keys::key_hash.eq(key_hash))
            .select((
                (
                    api_keys::id,
                    api_keys::scope,
                    api_keys::revoked_at,
                    api_keys::last_used_at,
                ),
                Organization::as_select(),
                Subscription::as_select(),
            ))
            .first(conn)
            .optional()
    })?;
    Ok(row.map(
        |((key_id, scope, revoked_at, last_used_at), org, subscription)| KeyContext {
            tenant: Tenant::for_api_key(org.id),
            key_id,
            scope,
            revoked: revoked_at.is_some(),
            last_used_at,
            org,
            subscription,
        },
    ))
}

/// Records that the key was used at `now`, unless that was already recorded
/// within the last minute.
pub fn touch(conn: &mut PgConnection, key: &KeyContext, now: DateTime<Utc>) -> QueryResult<()> {
    let fresh = key
        .last_used_at
        .is_some_and(|at| now - at < Duration::seconds(TOUCH_EVERY_SECONDS));
    if fresh {
        return Ok(());
    }
    diesel::update(scoped_keys(&key.tenant).filter(api_keys::id.eq(key.key_id)))
        .set(api_keys::last_used_at.eq(now))
        .execute(conn)
        .map(|_| ())
}

/// Why a key may not send in its creator's name now, read at send time.
pub const SENDER_UNKNOWN: &str = "This key was created by a member who has since deleted their account, so it cannot send messages or enrol leads. An owner can create a new key.";
pub const SENDER_LEFT: &str = "The member who created this key has left the organization, so it cannot send messages or enrol leads. An owner can create a new key.";
pub const SENDER_MAY_NOT_SEND: &str =
    "The member who created this key may no longer send messages, so neither may the key.";
pub const SENDER_UNVERIFIED: &str = "The member who created this key has not confirmed their email address, so the key cannot send messages or enrol leads yet.";

/// The tenant a key sends messages and enrols leads as: its creator, if they
/// are still a member whose role and flags allow sending and whose address is
/// confirmed (what the pages ask of a member who sends); otherwise why not.
/// Read inside the caller's transaction, so it holds for the send it guards.
pub fn sender(
    conn: &mut PgConnection,
    key: &KeyContext,
) -> QueryResult<Result<Tenant, &'static str>> {
    use crate::db::models::Member;
    use crate::db::schema::organization_members as members;
    use crate::domain::roles::{self, Action};
    let creator: Option<UserId> = scoped_keys(&key.tenant)
        .filter(api_keys::id.eq(key.key_id))
        .select(api_keys::created_by)
        .first(conn)?;
    let Some(user) = creator else {
        return Ok(Err(SENDER_UNKNOWN));
    };
    let found: Option<(Member, Option<DateTime<Utc>>)> = scoped_members(&key.tenant)
        .inner_join(users::table)
        .filter(members::user_id.eq(user))
        .select((Member::as_select(), users::email_verified_at))
        .first(conn)
        .optional()?;
    Ok(match found {
        None => Err(SENDER_LEFT),
        Some((m, _)) if !roles::allows(m.role, m.flags(), Action::SendMessages) => {
            Err(SENDER_MAY_NOT_SEND)
        }
        Some((_, None)) => Err(SENDER_UNVERIFIED),
        Some(_) => Ok(Tenant::from_membership_row(key.tenant.org_id(), user)),
    })
}

/// The memberships of a tenant's organization.
fn scoped_members(
    tenant: &Tenant,
) -> Filter<
    crate::db::schema::organization_members::table,
    Eq<crate::db::schema::organization_members::organization_id, OrgId>,
> {
    use crate::db::schema::organization_members as members;
    members::table.filter(members::organization_id.eq(tenant.org_id()))
}

/// `api_key ld_<prefix>`: what the audit log names.
fn target(prefix: &str) -> String {
    format!("api_key ld_{prefix}")
}

/// Eight random lower-case letters and digits.
fn random_prefix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..PREFIX_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Every `api_keys` query of a tenant starts here.
fn scoped_keys(tenant: &Tenant) -> Filter<api_keys::table, Eq<api_keys::organization_id, OrgId>> {
    api_keys::table.filter(api_keys::organization_id.eq(tenant.org_id()))
}

/// Lets the current transaction commit without waiting for its WAL to
/// reach disk (`synchronous_commit = off`, this transaction only): for the
/// metering of an API call, whose loss in a crash costs a count, not data.
pub fn relaxed_commit(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("SET LOCAL synchronous_commit = off")
        .execute(conn)
        .map(|_| ())
}

/// An organization's per-minute API window after one call asked for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub limit: i64,
    /// Slots taken in this window (at most `limit`).
    pub used: i64,
    /// False when the window was already full: the call must be refused.
    pub admitted: bool,
    pub resets_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Slot {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    hits: i32,
}

/// Takes one of the organization's `limit` API calls of the current clock
/// minute. Counted in PostgreSQL (the shared `rate_limits` table), so every
/// app instance sees the same window; the upsert's row lock orders parallel
/// calls, and a full window is not counted further.
pub fn take_rate_slot(
    conn: &mut PgConnection,
    tenant: &Tenant,
    limit: i64,
    now: DateTime<Utc>,
) -> QueryResult<RateWindow> {
    use chrono::DurationRound;
    use diesel::sql_types::{Integer, Text, Timestamptz};
    let start = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
    let bucket = format!("api:{}", tenant.org_id());
    let taken: Option<Slot> = diesel::sql_query(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)
         ON CONFLICT (bucket) DO UPDATE SET
           hits = CASE WHEN rate_limits.window_start < $2 THEN 1 ELSE rate_limits.hits + 1 END,
           window_start = GREATEST(rate_limits.window_start, $2)
         WHERE rate_limits.window_start < $2 OR rate_limits.hits < $3
         RETURNING hits",
    )
    .bind::<Text, _>(&bucket)
    .bind::<Timestamptz, _>(start)
    .bind::<Integer, _>(i32::try_from(limit).unwrap_or(i32::MAX))
    .get_result(conn)
    .optional()?;
    let resets_at = start + Duration::minutes(1);
    Ok(match taken {
        Some(slot) => RateWindow {
            limit,
            used: i64::from(slot.hits),
            admitted: true,
            resets_at,
        },
        None => RateWindow {
            limit,
            used: limit,
            admitted: false,
            resets_at,
        },
    })
}
