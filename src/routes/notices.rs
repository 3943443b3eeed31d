//! The bell's notices: list, mark all read, mark one read. Every query is
//! scoped to the signed-in user in the current organization, so another
//! user's or organization's notice id answers 404.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use crate::auth::CurrentOrg;
use crate::db::notices;
use crate::domain::roles::Action;
use crate::error::AppResult;
use crate::ids::NoticeId;
use crate::routes::{fragment, page, redirect_with_flash, wants_fragment};
use crate::state::AppState;
use crate::views::layout::Nav;
use crate::views::notices as view;

route_table! {
    GET "/notices" => index,
    POST "/notices/read" => read_all,
    POST "/notices/{id}/read" => read_one,
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let list = member_notices(&state, &cur, false).await?;
    let body = view::body(&list, cur.ctx.org.tz(), cur.now(), &cur.user.csrf);
    page(&state, &cur, &req, Nav::None, "Notices", body).await
}

async fn read_all(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let list = member_notices(&state, &cur, true).await?;
    if !wants_fragment(&req) {
        return Ok(redirect_with_flash(
            &req,
            "/notices",
            "All notices marked read.",
        ));
    }
    let list = view::list(&list, cur.ctx.org.tz(), cur.now(), &cur.user.csrf);
    Ok(fragment(html! { (list) (view::bell_oob(0)) }))
}

async fn read_one(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<NoticeId>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    let tenant = cur.tenant_for(Action::ReadWorkspace)?;
    let id = path.into_inner();
    let (notice, unread) = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let notice = notices::mark_read(conn, &tenant, id, now)?;
            Ok((notice, notices::unread_count(conn, &tenant)?))
        })
        .await?;
    if !wants_fragment(&req) {
        return Ok(redirect_with_flash(&req, "/notices", "Notice marked read."));
    }
    let item = view::item(&notice, cur.ctx.org.tz(), cur.now(), &cur.user.csrf);
    Ok(fragment(html! { (item) (view::bell_oob(unread)) }))
}

/// The signed-in member's notices, newest first; with `mark_all_read`
/// they are marked read first, in the same transaction.
async fn member_notices(
    state: &AppState,
    cur: &CurrentOrg,
    mark_all_read: bool,
) -> AppResult<Vec<notices::Notice>> {
    let (tenant, now) = (cur.tenant_for(Action::ReadWorkspace)?, cur.now());
    state
        .db
        .tx(move |conn| -> AppResult<_> {
            if mark_all_read {
                notices::mark_all_read(conn, &tenant, now)?;
            }
            Ok(notices::list(conn, &tenant)?)
        })
        .await
}
