//! The audit log (owners and admins): filter by action and actor, newest
//! first, keyset-paginated on (created_at, id) so deep pages stay as fast as
//! the first. HTMX requests get only the results fragment.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::db::audit::{self, Actor, Cursor, Filter, Position};
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::routes::{Part, Reply};
use crate::state::AppState;
use crate::views::audit::{self as view, AuditView};
use crate::views::layout::Nav;

route_table! {
    GET "/audit" => index,
}

/// Events per page.
const PAGE_SIZE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    before: String,
}

fn parse_filter(q: &AuditQuery) -> AppResult<Filter> {
    let action = q.action.trim();
    if action.len() > 100 {
        return Err(AppError::validation("The action filter is too long."));
    }
    let actor = match q.actor.trim() {
        "" => None,
        "system" => Some(Actor::System),
        id => Some(Actor::User(id.parse().map_err(|_| {
            AppError::validation("Choose someone from the list.")
        })?)),
    };
    Ok(Filter {
        action: Some(action.to_string()).filter(|a| !a.is_empty()),
        actor,
    })
}

/// The page asked for; a malformed page link is a clear 400.
fn parse_position(q: &AuditQuery) -> AppResult<Position> {
    let cursor = |s: &str| {
        Cursor::decode(s.trim()).ok_or_else(|| {
            AppError::validation("The page link is not valid. Start again from the newest events.")
        })
    };
    Ok(match (q.after.trim(), q.before.trim()) {
        ("", "") => Position::Newest,
        ("", before) => Position::Newer(cursor(before)?),
        (after, _) => Position::Older(cursor(after)?),
    })
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    query: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ViewAudit)?;
    let filter = parse_filter(&query)?;
    let position = parse_position(&query)?;
    let tenant = cur.tenant();
    let (page, actions, actors) = state
        .db
        .run(move |conn| -> AppResult<_> {
            Ok((
                audit::list(conn, &tenant, &filter, position, PAGE_SIZE)?,
                audit::actions(conn, &tenant)?,
                audit::actors(conn, &tenant)?,
            ))
        })
        .await?;
    let (newer, older) = page.link_cursors(|e| e.cursor());
    let v = AuditView {
        org_name: &cur.ctx.org.name,
        tz: cur.ctx.org.tz(),
        events: &page.rows,
        actions: &actions,
        actors: &actors,
        action: query.action.trim(),
        actor: query.actor.trim(),
        newer: newer.map(|c| c.encode()),
        older: older.map(|c| c.encode()),
        paged: !position.is_newest(),
    };
    Reply::Ok
        .page_or_fragment(
            &state,
            &cur,
            &req,
            (Nav::Audit, "Audit log"),
            |part| match part {
                Part::Fragment => view::results(&v),
                Part::Page => view::body(&v),
            },
        )
        .await
}
