//! Picking, creating and switching organizations. The switch is stored in the
//! session and only succeeds for an organization the user belongs to. New
//! organizations are rate-limited per account and per client address (each
//! is a trial with its own sending allowance).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::limits::{self, ORGS_PER_ACCOUNT, ORGS_PER_IP};
use crate::auth::{session as auth_session, CurrentUser};
use crate::db::orgs;
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::ids::OrgId;
use crate::routes::{client_ip, see_other, see_other_with_flash, Reply};
use crate::state::AppState;
use crate::views::layout::Nav;

route_table! {
    GET "/orgs" => index,
    POST "/orgs" => create,
    POST "/orgs/switch" => switch,
}

async fn index(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    render(&state, &user, &req, &FieldErrors::new(), "").await
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    req: &HttpRequest,
    errors: &FieldErrors,
    name: &str,
) -> AppResult<HttpResponse> {
    let id = user.id();
    let list = state
        .db
        .run(move |conn| orgs::memberships(conn, id))
        .await?;
    let current = user.session.org.as_ref().map(|o| o.org.id);
    let body = crate::views::orgs::body(&list, current, &user.csrf, errors, name);
    let reply = if errors.is_empty() {
        Reply::Ok
    } else {
        Reply::Invalid
    };
    reply
        .page(state, user, req, (Nav::None, "Organizations"), body)
        .await
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
}

async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    session: Session,
    form: web::Form<CreateForm>,
) -> AppResult<HttpResponse> {
    let now = user.now;
    let name = match forms::plain_text(&form.name, "Organization name", 1, 100) {
        Ok(n) => n,
        Err(e) => {
            let mut errors = FieldErrors::new();
            errors.add("name", e);
            return render(&state, &user, &req, &errors, &form.name).await;
        }
    };
    let slots = vec![
        ORGS_PER_ACCOUNT.slot(&user.id().to_string()),
        ORGS_PER_IP.slot(&client_ip(&req)),
    ];
    if !limits::reserve(&state, slots, now).await? {
        return too_many_orgs(&state, &user, &req, &form.name).await;
    }
    let owner = user.id();
    let org = state
        .db
        .tx(move |conn| orgs::create(conn, owner, &name, now))
        .await?;
    auth_session::set_org(&session, org)?;
    Ok(see_other_with_flash("/dashboard", "Organization created."))
}

/// The picker again, refused for the per-account or per-address limit.
async fn too_many_orgs(
    state: &AppState,
    user: &CurrentUser,
    req: &HttpRequest,
    name: &str,
) -> AppResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    errors.add(
        "name",
        "You have created too many organizations today. Please try again tomorrow.",
    );
    let mut res = render(state, user, req, &errors, name).await?;
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    Ok(res)
}

#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    org_id: String,
}

async fn switch(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: web::Form<SwitchForm>,
) -> AppResult<HttpResponse> {
    let org: OrgId = form.org_id.trim().parse().map_err(|_| AppError::NotFound)?;
    let user_id = user.id();
    let member = state
        .db
        .run(move |conn| orgs::is_member(conn, user_id, org))
        .await?;
    if !member {
        return Err(AppError::NotFound);
    }
    auth_session::set_org(&session, org)?;
    Ok(see_other("/dashboard"))
}
