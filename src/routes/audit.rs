//! The audit log (owners and admins): filter by action and actor, newest
//! first, keyset-paginated on (created_at, id) so deep pages stay as fast as
//! the first. HTMX requests get only the results fragment.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::state::AppState;
use crate::auth::CurrentOrg;
use crate::db::audit::{self, Actor, Cursor, Filter};
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::routes::{Part, Reply};
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

fn parse_cursor(after: &str) -> AppResult<Option<Cursor>> {
    match after.trim() {
        "" => Ok(None),
        s => Cursor::decode(s).map(Some).ok_or_else(|| {
            AppError::validation("The page link is not valid. Start again from the newest events.")
        }),
    }
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    query: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ViewAudit)?;
    let filter = parse_filter(&query)?;
    let after = parse_cursor(&query.after)?;
    let tenant = cur.tenant();
    let (mut events, actions, actors) = state
        .db
        .run(move |conn| -> AppResult<_> {
            Ok((
                audit::list(conn, &tenant, &filter, after, PAGE_SIZE + 1)?,
                audit::actions(conn, &tenant)?,
                audit::actors(conn, &tenant)?,
            ))
        })
        .await?;
    let has_more = events.len() as i64 > PAGE_SIZE;
    events.truncate(PAGE_SIZE as usize);
    let older = events
        .last()
        .filter(|_| has_more)
        .map(|e| e.cursor().encode());
    let v = AuditView {
        org_name: &cur.ctx.org.name,
        tz: cur.ctx.org.tz(),
        events: &events,
        actions: &actions,
        actors: &actors,
        action: query.action.trim(),
        actor: query.actor.trim(),
        older,
        paged: after.is_some(),
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
