//! The session cookie, carried by actix-session's cookie store: a private
//! (encrypted, authenticated) cookie holding the session token, its user and
//! the current organization. The `sessions` row stays the authority — a cookie
//! whose row is gone, expired or idle signs nobody in — so sign-out ends a
//! session on the server. The user and organization in the cookie are claims
//! the session query checks; they let that query run in the same database
//! scope as the page after it (`auth::middleware::load_session`).

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::SameSite;
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::db::sessions::{self, ClientInfo};
use crate::error::{AppError, AppResult};
use crate::ids::{OrgId, SessionId, UserId};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "ld_session";
const TOKEN: &str = "token";
const ORG: &str = "org";
const USER: &str = "user";

/// What the cookie carries: the session token, the session's user (absent
/// in cookies issued before it was added) and the current organization.
#[derive(Debug, Clone)]
pub struct Carried {
    pub token: String,
    pub user: Option<UserId>,
    pub org: Option<OrgId>,
}

/// The session layer: HttpOnly, SameSite=Lax, Secure behind HTTPS, lasting
/// the session's absolute lifetime (idle expiry is the row's).
pub fn middleware(state: &AppState) -> SessionMiddleware<CookieSessionStore> {
    let ttl =
        actix_web::cookie::time::Duration::seconds(state.config.session_lifetime.as_secs() as i64);
    SessionMiddleware::builder(CookieSessionStore::default(), state.session_key.clone())
        .cookie_name(SESSION_COOKIE.to_string())
        .cookie_path("/".to_string())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(state.config.secure_cookies)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(PersistentSession::default().session_ttl(ttl))
        .build()
}

/// The token, user and organization the request's cookie carries, if any.
pub fn carried(session: &Session) -> Option<Carried> {
    let token = session.get::<String>(TOKEN).ok().flatten()?;
    let user = session.get::<UserId>(USER).ok().flatten();
    let org = session.get::<OrgId>(ORG).ok().flatten();
    Some(Carried { token, user, org })
}

/// Puts a fresh session of `user` into the cookie (renewed: a new cookie value).
pub fn begin(session: &Session, token: String, user: UserId, org: Option<OrgId>) -> AppResult<()> {
    session.renew();
    session.clear();
    session.insert(TOKEN, token).map_err(AppError::unexpected)?;
    session.insert(USER, user).map_err(AppError::unexpected)?;
    if let Some(org) = org {
        set_org(session, org)?;
    }
    Ok(())
}

/// Makes `org` the organization this browser works in (membership is
/// checked on every request by the context query).
pub fn set_org(session: &Session, org: OrgId) -> AppResult<()> {
    session.insert(ORG, org).map_err(AppError::unexpected)
}

/// Drops the cookie (sign-out; the caller deletes the row).
pub fn end(session: &Session) {
    session.purge();
}

/// Creates a session row for `user` in place of `previous` (new id, new
/// token) and puts it into the cookie.
pub async fn start(
    state: &AppState,
    session: &Session,
    client: ClientInfo,
    previous: Option<SessionId>,
    user: UserId,
    org: Option<OrgId>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let lifetime = lifetime(&state.config)?;
    let token = state
        .db
        .run(move |conn| -> AppResult<_> {
            Ok(sessions::renew(
                conn, previous, user, &client, lifetime, None, now,
            )?)
        })
        .await?;
    begin(session, token, user, org)
}

/// The configured absolute lifetime of a session.
pub fn lifetime(config: &Config) -> AppResult<chrono::Duration> {
    chrono::Duration::from_std(config.session_lifetime).map_err(AppError::unexpected)
}

/// The configured idle timeout of a session.
pub fn idle_timeout(config: &Config) -> chrono::Duration {
    chrono::Duration::from_std(config.session_idle).unwrap_or(chrono::Duration::hours(2))
}
