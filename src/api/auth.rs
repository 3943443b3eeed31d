//! Key authentication for `/api/v1`: `Authorization: Bearer <key>` only (a
//! session cookie never counts). The key's hash finds its organization; the
//! handler then runs inside that organization's database scope (`wall`), as
//! the identity middleware does for a session, and every authenticated call
//! is metered as `api_call`. What a key may do is its scope's row of the
//! role matrix: `read` reads like a VIEWER, `read_write` acts like an ADMIN.

use std::future::{ready, Ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
use chrono::{DateTime, Utc};

use crate::api::problem::{ApiResult, Problem};
use crate::db::api_keys::{self, KeyContext};
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

/// The middleware of the `/api/v1` scope.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let caller = match identify(&req).await {
        Ok(caller) => caller,
        Err(problem) => return Ok(req.into_response(problem.error_response())),
    };
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let scope = Scope::new(Some(caller.key.tenant.org_id()), None);
    req.extensions_mut().insert(caller.clone());
    wall::within(scope, async move {
        if let Some(state) = state {
            if let Err(problem) = record_call(&state, &caller).await {
                return Ok(req.into_response(problem.error_response()));
            }
        }
        Ok(next.call(req).await?.map_into_boxed_body())
    })
    .await
}

/// The caller of a request with a valid, live key of an organization whose
/// plan includes the API; a problem otherwise.
async fn identify(req: &ServiceRequest) -> ApiResult<ApiCaller> {
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
    let plan = key.subscription.effective_plan(now);
    if !plan.spec().features.has(Feature::ApiAccess) {
        return Err(Problem::forbidden(format!(
            "API access is not included in the {} plan this organization is on now. \
             An owner can upgrade to Professional or Enterprise on the plans page; the keys are kept.",
            plan.name()
        )));
    }
    Ok(ApiCaller { key, now })
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

/// Meters the call (`api_call`, per day in the organization's time zone)
/// and notes the key's last use, in the key's organization.
async fn record_call(state: &AppState, caller: &ApiCaller) -> ApiResult<()> {
    let (key, now) = (caller.key.clone(), caller.now);
    state
        .db
        .tx(move |conn| -> Result<(), AppError> {
            usage::consume_at(conn, &key.tenant, UsageKind::ApiCall, None, now)?;
            api_keys::touch(conn, &key, now)?;
            Ok(())
        })
        .await?;
    Ok(())
}
