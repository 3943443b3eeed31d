//! A ceiling for benchmarks: `/bench/ceiling` renders the signed-in page
//! shell like `/usage` does, but without a query of its own, so the cost of a
//! page can be compared with the framework's floor. Served only with `BENCH_ROUTES=1`.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use crate::state::AppState;
use crate::auth::CurrentOrg;
use crate::db::orgs::Membership;
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::routes::html_response;
use crate::views::layout::{self, Nav, Shell};

route_table! {
    GET "/bench/ceiling" => ceiling,
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
