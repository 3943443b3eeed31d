//! Key authentication for `/api/v1`: `Authorization: Bearer <key>` only (a
//! session cookie never counts). The key's hash finds its organization; the
//! handler then runs inside that organization's database scope (`wall`), as
//! the identity middleware does for a session, and every authenticated call
//! is metered as `api_call`. What a key may do is its scope's row of the
//! role matrix: `read` reads like a VIEWER, `read_write` acts like an ADMIN.

use std::future::{ready, Ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
use chrono::{DateTime, Utc};

use crate::api::problem::{ApiResult, Problem};
use crate::db::api_keys::{self, KeyContext, RateWindow};
use crate::db::models::BEING_DELETED;
use crate::db::usage::{self, UsageKind};
use crate::db::wall::{self, Scope};
use crate::db::Tenant;
use crate::domain::api_keys::{well_formed, KeyScope};
use crate::domain::plans::Feature;
use crate::domain::roles::{self, Action, MemberFlags, Role};
use crate::error::AppError;
use crate::state::AppState;
use crate::tokens;

/// Who is calling: the key's organization and scope, at one instant.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key: KeyContext,
    pub now: DateTime<Utc>,
}

impl ApiCaller {
    /// The role whose permissions the key's scope carries.
    fn role(&self) -> Role {
        match self.key.scope {
            KeyScope::Read => Role::Viewer,
            KeyScope::ReadWrite => Role::Admin,
        }
    }

    /// The organization's tenant once the key may do `action` (403 otherwise).
    pub fn tenant_for(&self, action: Action) -> ApiResult<Tenant> {
        if roles::allows(self.role(), MemberFlags::DEFAULT_MEMBER, action) {
            return Ok(self.key.tenant);
        }
        Err(Problem::forbidden(match self.key.scope {
            KeyScope::Read => "This key is read-only: create a read-and-write key to make changes.",
            KeyScope::ReadWrite => roles::denial_message(action),
        }))
    }
}

impl FromRequest for ApiCaller {
    type Error = Problem;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<ApiCaller>()
                .cloned()
                .ok_or_else(|| Problem::from(AppError::unexpected("api auth not installed"))),
        )
    }
}

/// The middleware of the `/api/v1` scope: authenticate, take a rate-limit
/// slot, meter, run the handler in the key's organization, and put the
/// `RateLimit-*` headers on whatever comes back.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (state, caller) = match identify(&req).await {
        Ok(found) => found,
        Err(problem) => return Ok(req.into_response(problem.error_response())),
    };
    let scope = Scope::new(Some(caller.key.tenant.org_id()), None);
    req.extensions_mut().insert(caller.clone());
    wall::within(scope, async move {
        let window = match admit(&state, &caller).await {
            Ok(window) => window,
            Err(problem) => return Ok(req.into_response(problem.error_response())),
        };
        let mut res = if window.admitted {
            next.call(req).await?.map_into_boxed_body()
        } else {
            req.into_response(too_many(&window, caller.now).error_response())
        };
        rate_headers(res.headers_mut(), &window, caller.now);
        Ok(res)
    })
    .await
}

/// Seconds until the window resets (at least 1).
fn seconds_left(window: &RateWindow, now: DateTime<Utc>) -> i64 {
    (window.resets_at - now).num_seconds().max(1)
}

fn too_many(window: &RateWindow, now: DateTime<Utc>) -> Problem {
    let wait = seconds_left(window, now);
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
        format!(
            "This organization's plan allows {} API calls a minute; try again in {wait} s.",
            window.limit
        ),
    )
    .with_header(header::RETRY_AFTER, wait.to_string())
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds).
fn rate_headers(headers: &mut header::HeaderMap, window: &RateWindow, now: DateTime<Utc>) {
    let values = [
        ("ratelimit-limit", window.limit),
        ("ratelimit-remaining", (window.limit - window.used).max(0)),
        ("ratelimit-reset", seconds_left(window, now)),
    ];
    for (name, value) in values {
        if let Ok(v) = header::HeaderValue::from_str(&value.to_string()) {
            headers.insert(header::HeaderName::from_static(name), v);
        }
    }
}

/// The caller of a request with a valid, live key of an organization whose
/// plan includes the API; a problem otherwise.
async fn identify(req: &ServiceRequest) -> ApiResult<(web::Data<AppState>, ApiCaller)> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Problem::from(AppError::unexpected("application state missing")))?;
    let key = bearer(req)?;
    let hash = tokens::hash(&key);
    let found = state
        .db
        .run(move |conn| api_keys::authenticate(conn, hash))
        .await?;
    let key = match found {
        Some(k) if !k.revoked => k,
        Some(_) => return Err(Problem::unauthenticated("This API key has been revoked.")),
        None => return Err(Problem::unauthenticated("This API key is not valid.")),
    };
    let now = state.clock.now();
    if !req.method().is_safe() && key.org.is_being_deleted(now) {
        return Err(Problem::from(AppError::Conflict(BEING_DELETED.into())));
    }
    let plan = key.subscription.effective_plan(now);
    if !plan.spec().features.has(Feature::ApiAccess) {
        return Err(Problem::forbidden(format!(
            "API access is not included in the {} plan this organization is on now. \
             An owner can upgrade to Professional or Enterprise on the plans page; the keys are kept.",
            plan.name()
        )));
    }
    Ok((state, ApiCaller { key, now }))
}

/// The key of `Authorization: Bearer <key>`, shaped like one this app issues.
fn bearer(req: &ServiceRequest) -> ApiResult<String> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            Problem::unauthenticated("Send your API key as `Authorization: Bearer <key>`.")
        })?
        .to_str()
        .unwrap_or("");
    let key = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|key| well_formed(key))
        .ok_or_else(|| {
            Problem::unauthenticated(
                "The Authorization header must be `Bearer ld_<prefix>_<secret>`.",
            )
        })?;
    Ok(key.to_string())
}

/// Takes a slot of the plan's per-minute rate limit and, when admitted,
/// meters the call (`api_call`, per day in the organization's time zone)
/// and notes the key's last use: one transaction in the key's organization.
async fn admit(state: &AppState, caller: &ApiCaller) -> ApiResult<RateWindow> {
    let (key, now) = (caller.key.clone(), caller.now);
    let plan = key.subscription.effective_plan(now);
    let limit = crate::api::rate_limit_per_minute(plan).unwrap_or(0);
    let window = state
        .db
        .tx(move |conn| -> Result<RateWindow, AppError> {
            // Every call of an organization takes the same two rows (its
            // rate window and its day counter), so each waits for the
            // commit before it. Not waiting for the WAL flush keeps that
            // queue short; a crash can lose at most the last moment's count
            // of calls, never data (docs/api.md).
            api_keys::relaxed_commit(conn)?;
            let window = api_keys::take_rate_slot(conn, &key.tenant, limit, now)?;
            if window.admitted {
                usage::consume_at(conn, &key.tenant, UsageKind::ApiCall, None, now)?;
                api_keys::touch(conn, &key, now)?;
            }
            Ok(window)
        })
        .await?;
    Ok(window)
}
