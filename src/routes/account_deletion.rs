//! Deleting one's own account, with the password. Refused (nothing changes)
//! while the user is the last OWNER of an organization that has other
//! members; organizations where they are the only member go with them.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::middleware::SESSION_COOKIE;
use crate::auth::CurrentUser;
use crate::db::account_deletion::{self, Deleted, Fate};
use crate::error::AppResult;
use crate::forms::FieldErrors;
use crate::routes::account::{reauth_error, reauthenticate, respond, Reauth};
use crate::routes::html_response;
use crate::views::account::{self as view, Card, Outcome};

route_table! {
    POST "/account/delete" => delete,
    GET "/account/deleted" => deleted,
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    password: String,
}

async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    form: web::Form<DeleteForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    if form.password.is_empty() {
        let mut errors = FieldErrors::new();
        errors.add("password", "Enter your password to delete your account.");
        let outcome = Outcome::failed(Card::Delete, errors, "");
        return respond(
            &state,
            &user,
            &req,
            outcome,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let check = reauthenticate(&state, &user, form.password).await?;
    if check != Reauth::Confirmed {
        let (errors, status) = reauth_error(check, "password");
        let outcome = Outcome::failed(Card::Delete, errors, "");
        return respond(&state, &user, &req, outcome, status).await;
    }
    let id = user.id();
    let result = state
        .db
        .tx(move |conn| account_deletion::delete(conn, id))
        .await?;
    match result {
        Deleted::Blocked(plan) => {
            let names: Vec<&str> = plan
                .with_fate(Fate::Blocks)
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            let mut errors = FieldErrors::new();
            errors.add(
                "_form",
                format!(
                    "Your account was not deleted: you are the last owner of {}. Make another member an owner first.",
                    names.join(", ")
                ),
            );
            let outcome = Outcome::failed(Card::Delete, errors, "");
            respond(&state, &user, &req, outcome, StatusCode::CONFLICT).await
        }
        Deleted::Done => {
            tracing::info!(user = %id, "account deleted");
            Ok(signed_out_to(&req, "/account/deleted"))
        }
    }
}

/// Redirect (HTMX: `HX-Redirect`) that also drops the session cookie.
pub(crate) fn signed_out_to(req: &HttpRequest, location: &str) -> HttpResponse {
    let mut res = crate::routes::redirect(req, location);
    res.add_removal_cookie(
        &actix_web::cookie::Cookie::build(SESSION_COOKIE, "")
            .path("/")
            .finish(),
    )
    .ok();
    res
}

async fn deleted(req: HttpRequest) -> AppResult<HttpResponse> {
    Ok(html_response(&req, view::deleted_page()))
}
