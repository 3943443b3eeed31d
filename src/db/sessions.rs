//! Server-side sessions. The cookie carries a random token; only its SHA-256
//! hash is stored, so a database leak does not yield usable cookies.
//! Deleting the row ends the session at once.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::tokens;
use crate::db::schema::sessions;
use crate::ids::{OrgId, SessionId, UserId};

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    id: Uuid,
    token_hash: Vec<u8>,
    user_id: Uuid,
    current_org_id: Option<Uuid>,
    csrf_token: &'a str,
    user_agent: &'a str,
    ip: &'a str,
    expires_at: DateTime<Utc>,
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
    current_org: Option<OrgId>,
    client: &ClientInfo,
    lifetime: Duration,
) -> QueryResult<String> {
    let token = tokens::random_token();
    let csrf = tokens::random_token();
    diesel::insert_into(sessions::table)
        .values(NewSession {
            id: Uuid::now_v7(),
            token_hash: tokens::hash(&token),
            user_id: user.uuid(),
            current_org_id: current_org.map(OrgId::uuid),
            csrf_token: &csrf,
            user_agent: &truncate(&client.user_agent, 300),
            ip: &truncate(&client.ip, 64),
            expires_at: Utc::now() + lifetime,
        })
        .execute(conn)?;
    Ok(token)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Ends one session (sign-out).
pub fn delete(conn: &mut PgConnection, id: SessionId) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id.uuid())).execute(conn)
}

/// Ends every session of `user` except `keep`.
pub fn delete_others(
    conn: &mut PgConnection,
    user: UserId,
    keep: Option<SessionId>,
) -> QueryResult<usize> {
    let keep = keep.map(SessionId::uuid).unwrap_or(Uuid::nil());
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user.uuid()))
            .filter(sessions::id.ne(keep)),
    )
    .execute(conn)
}

/// Stores the organization the session works in.
pub fn set_current_org(conn: &mut PgConnection, id: SessionId, org: OrgId) -> QueryResult<()> {
    diesel::update(sessions::table.find(id.uuid()))
        .set(sessions::current_org_id.eq(Some(org.uuid())))
        .execute(conn)?;
    Ok(())
}

/// Records activity at most once a minute per session, to keep reads cheap.
pub fn touch(conn: &mut PgConnection, id: SessionId) -> QueryResult<()> {
    let now = Utc::now();
    diesel::update(
        sessions::table
            .find(id.uuid())
            .filter(sessions::last_seen_at.lt(now - Duration::seconds(60))),
    )
    .set(sessions::last_seen_at.eq(now))
    .execute(conn)?;
    Ok(())
}
