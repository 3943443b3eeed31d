//! The identity middleware: loads the session context (one query) for the
//! token and organization the session cookie carries (`auth::session`),
//! enforces CSRF on every state-changing request, and issues the anonymous
//! CSRF cookie that protects the sign-in and sign-up forms.
//!
//! CSRF is a synchronizer token: the session row holds it; forms send it as
//! the `csrf_token` field, HTMX as the `X-CSRF-Token` header (set through
//! `hx-headers` on <body>), multipart forms as a `csrf_token` query parameter.
//! Signed-out forms use a signed double-submit cookie: the `ld_csrf` cookie
//! holds a random value, and forms must send the server's HMAC of it, so a
//! cookie planted from a sibling subdomain is useless without the server key.

use actix_session::{Session, SessionExt, SessionStatus};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::HttpMessage;
use chrono::{DateTime, Utc};

use crate::auth::session::{self, Carried, SESSION_COOKIE};
use crate::db::context::{self, SessionContext};
use crate::db::sessions;
use crate::db::wall::{self, Scope};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tokens;

pub const CSRF_COOKIE: &str = "ld_csrf";
pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// Who is asking, stored in the request extensions for the extractors.
#[derive(Debug, Clone)]
pub struct Identity {
    pub session: Option<SessionContext>,
    /// The token forms on this page must send back.
    pub csrf_token: String,
    /// The instant of this request, read once from the app's clock, so one
    /// request judges every date, period and expiry at the same time.
    pub now: DateTime<Utc>,
}

/// Paths that never touch sessions: static assets, the health probe, the
/// API, which only an API key authenticates (`api::auth`), and unsubscribe
/// links (`/u/{token}`, RFC 8058 one-click: a mail provider POSTs there
/// with no cookies, so the token alone authorizes it and CSRF cannot apply
/// — see `routes::unsubscribe`). A session cookie is never even read there.
fn is_sessionless(path: &str) -> bool {
    path.starts_with("/assets/")
        || path.starts_with("/api/")
        || path.starts_with("/u/")
        || path == "/healthz"
        || path == "/favicon.ico"
}

/// Endpoints authenticated by something other than the session cookie
/// (a provider's signature, an API key, an unsubscribe link's token), so
/// CSRF does not apply.
pub fn csrf_exempt(path: &str) -> bool {
    path == "/billing/webhook" || path.starts_with("/api/") || path.starts_with("/u/")
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn identity(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if is_sessionless(req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    // Errors here become responses directly (outer middleware expect Ok).
    let prepared = match prepare(&mut req).await {
        Ok(p) => p,
        Err(e) => return Ok(req.error_response(e)),
    };
    // Every query the handler runs is held to this session's organization
    // and user by PostgreSQL as well (`db::wall`).
    let mut res = wall::within(prepared.scope, next.call(req))
        .await?
        .map_into_boxed_body();
    if let Some(token) = prepared.new_anon_csrf {
        let cookie = build_cookie(CSRF_COOKIE, token, prepared.secure, None);
        res.response_mut().add_cookie(&cookie).ok();
    }
    if let Some(stale) = prepared.stale {
        drop_stale(&mut res, &stale);
    }
    Ok(res)
}

/// What `identity` must do to the response once the handler has run.
struct Prepared {
    /// The organization (proved by a membership row) and user of the session.
    scope: Scope,
    new_anon_csrf: Option<String>,
    /// The session cookie names no live session: drop it, unless the handler
    /// started a new one.
    stale: Option<Stale>,
    secure: bool,
}

struct Stale {
    session: Session,
    /// Whether the cookie could be read at all (else actix-session ignores it).
    readable: bool,
}

fn drop_stale(res: &mut ServiceResponse<BoxBody>, stale: &Stale) {
    match (stale.session.status(), stale.readable) {
        (SessionStatus::Unchanged, true) => session::end(&stale.session),
        (SessionStatus::Unchanged | SessionStatus::Purged, false) => {
            let removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
            res.response_mut().add_removal_cookie(&removal).ok();
        }
        _ => {}
    }
}

/// Loads the session, checks CSRF and stores the `Identity`.
async fn prepare(req: &mut ServiceRequest) -> Result<Prepared, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::unexpected("application state missing"))?;
    let now = state.clock.now();
    let cookie_sent = req.cookie(SESSION_COOKIE).is_some();
    let cookie_session = req.get_session();
    let carried = session::carried(&cookie_session);
    let readable = carried.is_some();
    let session = match carried {
        Some(carried) => load_session(&state, carried, now).await?,
        None => None,
    };
    let anon_cookie = req.cookie(CSRF_COOKIE).map(|c| c.value().to_string());
    let (csrf_token, new_anon_csrf) = match (&session, anon_cookie) {
        (Some(s), _) => (s.csrf_token.clone(), None),
        (None, Some(existing)) if existing.len() == 43 => {
            (anon_csrf_token(&state, &existing), None)
        }
        (None, _) => {
            let fresh = tokens::random_token();
            (anon_csrf_token(&state, &fresh), Some(fresh))
        }
    };
    if is_unsafe(req.method()) && !csrf_exempt(req.path()) {
        check_csrf(req, &csrf_token).await?;
    }
    let stale = (cookie_sent && session.is_none()).then_some(Stale {
        session: cookie_session,
        readable,
    });
    let scope = session.as_ref().map_or(Scope::default(), |s| {
        Scope::new(s.org.as_ref().map(|o| o.tenant.org_id()), Some(s.user_id()))
    });
    if let Some(org) = session.as_ref().and_then(|s| s.org.as_ref()) {
        crate::observe::record_org(org.tenant.org_id());
    }
    req.extensions_mut().insert(Identity {
        session,
        csrf_token,
        now,
    });
    Ok(Prepared {
        scope,
        new_anon_csrf,
        stale,
        secure: state.config.secure_cookies,
    })
}

/// The token signed-out forms must send for the `ld_csrf` cookie `value`:
/// an HMAC under the server's key, never the cookie value itself.
fn anon_csrf_token(state: &AppState, value: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(state.session_key.signing())
        .expect("HMAC takes any key length");
    mac.update(b"anonymous-csrf\0");
    mac.update(value.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

async fn load_session(
    state: &AppState,
    carried: Carried,
    now: DateTime<Utc>,
) -> Result<Option<SessionContext>, AppError> {
    let idle = session::idle_timeout(&state.config);
    // The cookie's organization and user are only claims: the query proves
    // the session and the membership, and the wall lets it see that
    // organization's rows alone. Claiming the user as well makes this scope
    // the page's own (built from the loaded session in `prepare`), so the
    // pooled connection is set up once for both, not once for each.
    let claimed = Scope::new(carried.org, carried.user);
    let load = state.db.run(move |conn| -> AppResult<_> {
        let ctx = context::load(conn, &carried.token, carried.org, idle, now)?;
        if let Some(ctx) = &ctx {
            if now - ctx.last_seen_at > chrono::Duration::seconds(60) {
                sessions::touch(conn, ctx.session_id, now)?;
            }
        }
        Ok(ctx)
    });
    wall::within(claimed, load).await
}

/// Compares the token the request carries with the expected one; 403 on mismatch.
async fn check_csrf(req: &mut ServiceRequest, expected: &str) -> Result<(), AppError> {
    let sent = match header_token(req) {
        Some(t) => Some(t),
        None => body_or_query_token(req).await?,
    };
    match sent {
        Some(t) if tokens::same(&t, expected) => Ok(()),
        _ => Err(AppError::forbidden(
            "This form has expired or did not come from this site. Reload the page and try again.",
        )),
    }
}

fn header_token(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Reads `csrf_token` from a urlencoded body (putting the body back for the
/// handler) or, for other content types, from the query string.
async fn body_or_query_token(req: &mut ServiceRequest) -> Result<Option<String>, AppError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(find_field(req.query_string().as_bytes()));
    }
    let body = req
        .extract::<Bytes>()
        .await
        .map_err(|_| AppError::validation("The request body is too large or malformed."))?;
    let token = find_field(&body);
    req.set_payload(actix_web::dev::Payload::from(body));
    Ok(token)
}

fn find_field(encoded: &[u8]) -> Option<String> {
    form_urlencoded::parse(encoded)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned())
}

/// HttpOnly, SameSite=Lax cookie for the whole site; Secure behind HTTPS.
pub fn build_cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age: Option<std::time::Duration>,
) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish();
    if let Some(age) = max_age {
        cookie.set_max_age(actix_web::cookie::time::Duration::seconds(
            age.as_secs() as i64
        ));
    }
    cookie
}
