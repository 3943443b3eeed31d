//! The usage & plan page and its self-refreshing meters fragment. Every role
//! may read them; the figures come from `db::meters` (counters, constant cost),
//! the page's in one statement with its shell (`db::pages`).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentOrg;
use crate::db::{meters, pages};
use crate::domain::roles::Action;
use crate::error::AppResult;
use crate::routes::{fragment, html_response, shell_from};
use crate::state::AppState;
use crate::views::layout::{self, Nav};
use crate::views::usage::{self as view, UsagePage};

route_table! {
    GET "/usage" => show,
    GET "/usage/meters" => meters_fragment,
}

/// Days in the usage chart.
const HISTORY_DAYS: u32 = 30;

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ReadWorkspace)?;
    let now = cur.now();
    // The request's organization and subscription, loaded with its session.
    let organization = cur.ctx.org.clone();
    let subscription = cur.ctx.subscription.clone();
    // Page and shell in one statement, one round trip (`db::pages`).
    let data = state
        .db
        .run(move |conn| {
            pages::usage_page(conn, &tenant, organization, subscription, now, HISTORY_DAYS)
        })
        .await?;
    let page = UsagePage {
        snapshot: &data.snapshot,
        history: &data.history,
        now,
        can_manage_billing: cur.can(Action::ManageBilling),
        can_view_billing: cur.can(Action::ViewBilling),
        csrf: &cur.user.csrf,
    };
    let body = view::body(&page);
    let mut shell = shell_from(&cur.user, &req, data.shell);
    if let Some(org) = shell.org.as_mut() {
        // In its last days the page shows its own, more detailed trial banner.
        org.trial_days_left = org.trial_days_left.filter(|d| *d > 3);
    }
    Ok(html_response(
        &req,
        layout::app_page(&shell, Nav::Usage, "Usage & plan", body),
    ))
}

/// The meters alone (`hx-get` on `usage-changed` and every 60 s).
async fn meters_fragment(state: web::Data<AppState>, cur: CurrentOrg) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ReadWorkspace)?;
    let now = cur.now();
    let snapshot = state
        .db
        .run(move |conn| meters::snapshot(conn, &tenant, now))
        .await?;
    Ok(fragment(view::meters(&snapshot, now)))
}
