//! Picking, creating and switching organizations. The switch is stored in the
//! session and only succeeds for an organization the user belongs to.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::{orgs, sessions};
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::ids::OrgId;
use crate::routes::{see_other, see_other_with_flash, user_page};
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
    let mut res = user_page(state, user, req, Nav::None, "Organizations", body).await?;
    if !errors.is_empty() {
        *res.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
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
    form: web::Form<CreateForm>,
) -> AppResult<HttpResponse> {
    let name = match forms::text(&form.name, "Organization name", 1, 100) {
        Ok(n) => n,
        Err(e) => {
            let mut errors = FieldErrors::new();
            errors.add("name", e);
            return render(&state, &user, &req, &errors, &form.name).await;
        }
    };
    let (owner, session) = (user.id(), user.session.session_id);
    state
        .db
        .tx(move |conn| -> AppResult<_> {
            let org = orgs::create(conn, owner, &name)?;
            sessions::set_current_org(conn, session, org)?;
            Ok(())
        })
        .await?;
    Ok(see_other_with_flash("/dashboard", "Organization created."))
}

#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    org_id: String,
}

async fn switch(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<SwitchForm>,
) -> AppResult<HttpResponse> {
    let org: OrgId = form.org_id.trim().parse().map_err(|_| AppError::NotFound)?;
    let (user_id, session) = (user.id(), user.session.session_id);
    state
        .db
        .tx(move |conn| {
            if !orgs::is_member(conn, user_id, org)? {
                return Err(AppError::NotFound);
            }
            sessions::set_current_org(conn, session, org)?;
            Ok(())
        })
        .await?;
    Ok(see_other("/dashboard"))
}
