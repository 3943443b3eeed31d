//! The dashboard of the current organization.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentOrg;
use crate::db::pages;
use crate::error::AppResult;
use crate::routes::page_with;
use crate::state::AppState;
use crate::views::dashboard::{self, DashboardData};
use crate::views::layout::Nav;

route_table! {
    GET "/dashboard" => show,
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant();
    // The page and its shell in one statement (`db::pages`).
    let pages::DashboardData { overview, shell } = state
        .db
        .run(move |conn| pages::dashboard(conn, &tenant))
        .await?;
    let now = cur.now();
    let sub = &cur.ctx.subscription;
    let data = DashboardData {
        org: &cur.ctx.org,
        subscription: sub,
        overview: &overview,
        effective_plan: sub.effective_plan(now),
        trial_days_left: sub.trial_days_left(now),
    };
    let body = dashboard::body(&data);
    Ok(page_with(
        &cur.user,
        &req,
        Nav::Dashboard,
        "Dashboard",
        body,
        shell,
    ))
}
