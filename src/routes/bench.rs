//! A ceiling for benchmarks: `/bench/ceiling` renders the signed-in page
//! shell like `/usage` does, but without a query of its own, so the cost of a
//! page can be compared with the framework's floor; `/bench/slow?ms=` answers
//! after a pause, the in-flight request of the shutdown and rolling-restart
//! tests. Served only with `BENCH_ROUTES=1`.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use crate::auth::CurrentOrg;
use crate::db::orgs::Membership;
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::routes::html_response;
use crate::state::AppState;
use crate::views::layout::{self, Nav, Shell};

route_table! {
    GET "/bench/ceiling" => ceiling,
    GET "/bench/slow" => slow,
}

#[derive(serde::Deserialize)]
struct SlowQuery {
    #[serde(default)]
    ms: u64,
}

/// Longest pause `/bench/slow` takes.
const SLOW_MAX_MS: u64 = 10_000;

/// Answers after `ms` milliseconds (at most 10 s), holding no connection.
async fn slow(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    query: web::Query<SlowQuery>,
) -> AppResult<HttpResponse> {
    if !state.config.bench_routes {
        return Err(AppError::NotFound);
    }
    cur.require(Action::ReadWorkspace)?;
    let ms = query.ms.min(SLOW_MAX_MS);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(ms)).await;
    Ok(HttpResponse::Ok()
        .content_type("text/plain")
        .body(format!("slept {ms} ms")))
}

async fn ceiling(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    if !state.config.bench_routes {
        return Err(AppError::NotFound);
    }
    cur.require(Action::ReadWorkspace)?;
    let ctx = &cur.ctx;
    let shell = Shell {
        user_name: cur.user.session.user.name.clone(),
        csrf: cur.user.csrf.clone(),
        org: Some(crate::routes::shell_org(ctx, cur.now())),
        orgs: vec![Membership {
            org_id: ctx.org.id,
            name: ctx.org.name.clone(),
            slug: ctx.org.slug.clone(),
            role: ctx.member.role,
            plan: ctx.subscription.plan,
        }],
        unread_notices: 0,
        unverified_email: false,
        flash: None,
    };
    let body = html! {
        div.page-head { h1 { "Ceiling" } }
        section.card { p { "The page shell without queries." } }
    };
    Ok(html_response(
        &req,
        layout::app_page(&shell, Nav::Usage, "Ceiling", body),
    ))
}
