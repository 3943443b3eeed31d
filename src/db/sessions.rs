//! Server-side sessions: the revocation list and the user's session list.
//! The cookie carries a random token; only its SHA-256 hash is stored, so a
//! database leak does not yield usable cookies. Deleting the row ends the
//! session at once. The current organization lives in the cookie.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::sessions;
use crate::ids::{SessionId, UserId};
use crate::tokens;

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    id: SessionId,
    token_hash: Vec<u8>,
    user_id: UserId,
    csrf_token: &'a str,
    user_agent: &'a str,
    ip: &'a str,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
}

/// Where a new session comes from, for the user's session list.
pub struct ClientInfo {
    pub user_agent: String,
    pub ip: String,
}

/// Creates a session and returns the cookie token (shown once, never stored).
pub fn create(
    conn: &mut PgConnection,
    user: UserId,
    client: &ClientInfo,
    lifetime: Duration,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    create_with_csrf(conn, user, client, lifetime, &tokens::random_token(), now)
}

/// Ends `previous` (when given) and starts a fresh session in its place: a
/// new id and cookie token. `keep_csrf` carries the page's CSRF token over
/// when the same browser stays signed in (a password change), so forms that
/// are already open keep working.
pub fn renew(
    conn: &mut PgConnection,
    previous: Option<SessionId>,
    user: UserId,
    client: &ClientInfo,
    lifetime: Duration,
    keep_csrf: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    if let Some(old) = previous {
        delete(conn, old)?;
    }
    let fresh = tokens::random_token();
    let csrf = keep_csrf.unwrap_or(&fresh);
    create_with_csrf(conn, user, client, lifetime, csrf, now)
}

fn create_with_csrf(
    conn: &mut PgConnection,
    user: UserId,
    client: &ClientInfo,
    lifetime: Duration,
    csrf: &str,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    let token = tokens::random_token();
    diesel::insert_into(sessions::table)
        .values(NewSession {
            id: SessionId::new(),
            token_hash: tokens::hash(&token),
            user_id: user,
            csrf_token: csrf,
            user_agent: &truncate(&client.user_agent, 300),
            ip: &truncate(&client.ip, 64),
            expires_at: now + lifetime,
            created_at: now,
            last_seen_at: now,
        })
        .execute(conn)?;
    Ok(token)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Ends one session (sign-out).
pub fn delete(conn: &mut PgConnection, id: SessionId) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id)).execute(conn)
}

/// Ends every session of `user` except `keep`.
pub fn delete_others(
    conn: &mut PgConnection,
    user: UserId,
    keep: Option<SessionId>,
) -> QueryResult<usize> {
    let keep = keep.unwrap_or(SessionId(Uuid::nil()));
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user))
            .filter(sessions::id.ne(keep)),
    )
    .execute(conn)
}

/// Records activity at most once a minute per session, to keep reads cheap.
pub fn touch(conn: &mut PgConnection, id: SessionId, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::last_seen_at.lt(now - Duration::seconds(60))),
    )
    .set(sessions::last_seen_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// A session as its user sees it in the list.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: SessionId,
    pub user_agent: String,
    pub ip: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The user's live sessions (not expired, not idle longer than `idle`),
/// most recently used first.
pub fn list_live(
    conn: &mut PgConnection,
    user: UserId,
    idle: Duration,
    now: DateTime<Utc>,
) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(now - idle))
        .order((sessions::last_seen_at.desc(), sessions::id.desc()))
        .select(SessionRow::as_select())
        .load(conn)
}

/// Ends one of `user`'s sessions; 0 when `id` is not theirs (or gone).
pub fn delete_own(conn: &mut PgConnection, user: UserId, id: SessionId) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user)),
    )
    .execute(conn)
}

/// Ends every session of `user` (password reset).
pub fn delete_all(conn: &mut PgConnection, user: UserId) -> QueryResult<usize> {
    delete_others(conn, user, None)
}

/// Deletes sessions past their lifetime or idle longer than `idle`
/// (housekeeping: the context loader already refuses them).
pub fn purge_expired(
    conn: &mut PgConnection,
    idle: Duration,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::last_seen_at.le(now - idle)),
        ),
    )
    .execute(conn)
}
