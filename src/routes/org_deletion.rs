//! Deleting the organization (OWNER only): scheduling it with the password
//! and the organization's name typed again, and cancelling it before the
//! date. The erasure itself is a job (`jobs::org_deletion`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::reauth;
use crate::auth::CurrentOrg;
use crate::db::org_deletion::{self, Cancelled};
use crate::domain::roles::Role;
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::routes::{fragment, page, redirect_with_flash, wants_fragment};
use crate::state::AppState;
use crate::views::format::date;
use crate::views::layout::Nav;
use crate::views::org_deletion as view;

route_table! {
    POST "/settings/delete" => schedule,
    POST "/settings/delete/cancel" => cancel,
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_name: String,
}

/// 403 unless the user is an OWNER of the organization.
fn require_owner(cur: &CurrentOrg) -> Result<(), AppError> {
    if cur.role() == Role::Owner {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "Only an owner can delete the organization or cancel its deletion.",
        ))
    }
}

async fn schedule(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<DeleteForm>,
) -> AppResult<HttpResponse> {
    require_owner(&cur)?;
    let form = form.into_inner();
    if let Err((errors, status)) = check(&state, &cur, form).await? {
        return refused(&state, &cur, &req, &errors, status).await;
    }
    let (tenant, now) = (cur.tenant(), cur.now());
    let provider = crate::billing::provider(&state.config);
    let site = state.config.public_url.trim_end_matches('/').to_string();
    let day = state
        .db
        .tx(move |conn| org_deletion::schedule(conn, &tenant, provider.as_ref(), &site, now))
        .await?;
    let text = format!(
        "This organization will be deleted on {}. Every member was told by mail.",
        date(day, cur.ctx.org.tz())
    );
    Ok(redirect_with_flash(&req, "/settings", &text))
}

/// The name first (cheap, and no password attempt is spent on a typo), then
/// the password, through the same limit as every re-authentication.
async fn check(
    state: &AppState,
    cur: &CurrentOrg,
    form: DeleteForm,
) -> AppResult<Result<(), (FieldErrors, StatusCode)>> {
    let mut errors = FieldErrors::new();
    if form.password.is_empty() {
        errors.add(
            "password",
            "Enter your password to delete the organization.",
        );
    }
    if form.confirm_name != cur.ctx.org.name {
        errors.add(
            "confirm_name",
            format!("Type the organization's name exactly: {}", cur.ctx.org.name),
        );
    }
    if !errors.is_empty() {
        return Ok(Err((errors, StatusCode::UNPROCESSABLE_ENTITY)));
    }
    reauth::confirm(state, &cur.user, form.password, "password").await
}

/// The card with its errors: the fragment, or a page holding it.
async fn refused(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    errors: &FieldErrors,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let card = view::card(&cur.user.csrf, &cur.ctx.org.name, None, errors);
    let mut res = if wants_fragment(req) {
        fragment(card)
    } else {
        page(
            state,
            cur,
            req,
            Nav::Settings,
            "Delete organization",
            view::body(card),
        )
        .await?
    };
    *res.status_mut() = status;
    Ok(res)
}

async fn cancel(
    state: web::Data<AppState>,
    cur: Result<CurrentOrg, AppError>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    // Once erased, the organization is gone from the session: there is
    // nothing to cancel any more, rather than a choice of organization.
    let cur = cur.map_err(|e| match e {
        AppError::NoOrganization => AppError::NotFound,
        other => other,
    })?;
    require_owner(&cur)?;
    let (tenant, now) = (cur.tenant(), cur.now());
    let outcome = state
        .db
        .tx(move |conn| org_deletion::cancel(conn, &tenant, now))
        .await?;
    let text = match outcome {
        Cancelled::Done => {
            "The deletion is cancelled: the organization and all its data stay. \
                            Choose a plan again on the plans page if you need one."
        }
        Cancelled::NotScheduled => "This organization is not scheduled for deletion.",
        Cancelled::TooLate => {
            return Err(AppError::Conflict(
                "The deletion date has passed: the organization is being erased.".into(),
            ))
        }
    };
    Ok(redirect_with_flash(&req, "/settings", text))
}
