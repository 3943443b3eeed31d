//! Bulk actions on the lead list: one form posts the action with either the
//! ticked rows or the list's filter (the server selects "all matching", not
//! the browser). A delete, or any change to "all matching", first shows a
//! confirmation with the count. Up to `INLINE_MAX` leads change in the
//! request (one transaction, one audit entry); more are queued as a job
//! whose progress page polls itself.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::auth::CurrentOrg;
use crate::db::lead_bulk::{self, Selection, INLINE_MAX};
use crate::db::leads::{self, LeadFilter};
use crate::domain::lead_bulk::{self as rules, BulkAction, BulkChange};
use crate::domain::leads::LeadStatus;
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::ids::LeadId;
use crate::routes::{lead_filter, owner_filter, page, redirect, redirect_with_flash};
use crate::state::AppState;
use crate::views::layout::Nav;
use crate::views::lead_bulk::{self as view, Confirm};
use crate::views::workspace::query_string;

route_table! {
    POST "/leads/bulk" => bulk,
    GET "/leads/bulk/{id}" => progress,
}

/// The bulk form, as posted.
struct BulkForm {
    filter: LeadFilter,
    matching: bool,
    picked: Vec<String>,
    action: String,
    tag: String,
    confirmed: bool,
}

impl BulkForm {
    fn parse(body: &[u8], cur: &CurrentOrg) -> AppResult<BulkForm> {
        let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        let value = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let mut filter = lead_filter(value("q"), value("status"), value("tag"))?;
        filter.owner = owner_filter(value("owner"), cur.user.id())?;
        Ok(BulkForm {
            filter,
            matching: value("scope") == "matching",
            picked: fields
                .iter()
                .filter(|(k, _)| k == "lead_id")
                .map(|(_, v)| v.clone())
                .collect(),
            action: value("action").to_string(),
            tag: value("bulk_tag").to_string(),
            confirmed: value("confirm") == "yes",
        })
    }

    /// The selection; ticking nothing is a clear message.
    fn selection(&self) -> AppResult<Selection> {
        if self.matching {
            return Ok(Selection::Matching(self.filter.clone()));
        }
        let ids: Vec<LeadId> = self.picked.iter().filter_map(|v| v.parse().ok()).collect();
        if ids.is_empty() {
            return Err(AppError::validation(
                "Tick at least one lead, or choose “All leads matching the filter”.",
            ));
        }
        Ok(Selection::Picked(ids))
    }

    /// The list as it was, to go back to.
    fn back(&self) -> String {
        let f = &self.filter;
        let owner = f.owner.map(|o| o.as_param()).unwrap_or_default();
        format!(
            "/leads{}",
            query_string(&[
                ("q", &f.q),
                ("status", f.status.map(LeadStatus::as_str).unwrap_or("")),
                ("tag", f.tag.as_deref().unwrap_or("")),
                ("owner", &owner),
            ])
        )
    }
}

async fn bulk(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let form = BulkForm::parse(&body, &cur)?;
    let action = rules::parse(&form.action, &form.tag).map_err(AppError::validation)?;
    cur.require(action.needs())?;
    let selection = form.selection()?;
    match action {
        BulkAction::Export => export(&state, &cur, &req, &form, selection).await,
        BulkAction::Change(change) => {
            if matches!(change, BulkChange::Enrol(_)) {
                // Enrolling sends messages in the enrolling user's name.
                cur.require_verified_email()?;
            }
            let ask_first = matches!(change, BulkChange::Delete) || form.matching;
            if ask_first && !form.confirmed {
                return confirm(&state, &cur, &req, &form, selection, &change).await;
            }
            apply(&state, &cur, &req, &form, selection, change).await
        }
    }
}

/// What a bulk change came to.
enum Outcome {
    Nothing,
    Done { selected: usize, changed: usize },
    Queued(Uuid),
}

async fn apply(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    form: &BulkForm,
    selection: Selection,
    change: BulkChange,
) -> AppResult<HttpResponse> {
    let (tenant, now) = (cur.tenant(), cur.now());
    let todo = change.clone();
    let outcome = state
        .db
        .tx(move |conn| -> AppResult<Outcome> {
            let ids = lead_bulk::resolve(conn, &tenant, &selection)?;
            if ids.is_empty() {
                return Ok(Outcome::Nothing);
            }
            if ids.len() > INLINE_MAX {
                return Ok(Outcome::Queued(lead_bulk::queue(
                    conn, &tenant, &todo, &ids, now,
                )?));
            }
            let changed = lead_bulk::apply(conn, &tenant, &todo, &ids, now)?;
            lead_bulk::record(conn, &tenant, &todo, ids.len(), changed)?;
            Ok(Outcome::Done {
                selected: ids.len(),
                changed,
            })
        })
        .await?;
    let back = form.back();
    Ok(match outcome {
        Outcome::Nothing => redirect_with_flash(req, &back, "No leads matched; nothing changed."),
        Outcome::Done { selected, changed } => {
            redirect_with_flash(req, &back, &rules::summary(&change, selected, changed))
        }
        Outcome::Queued(job) => redirect(req, &format!("/leads/bulk/{job}")),
    })
}

/// The confirmation page, with the count the server finds now.
async fn confirm(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    form: &BulkForm,
    selection: Selection,
    change: &BulkChange,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant();
    let ids = state
        .db
        .run(move |conn| lead_bulk::resolve(conn, &tenant, &selection))
        .await?;
    let back = form.back();
    if ids.is_empty() {
        return Ok(redirect_with_flash(
            req,
            &back,
            "No leads matched; nothing changed.",
        ));
    }
    let picked: Vec<String> = if form.matching {
        Vec::new()
    } else {
        ids.iter().map(ToString::to_string).collect()
    };
    let body = view::confirm_page(&Confirm {
        filter: &form.filter,
        csrf: &cur.user.csrf,
        change,
        picked: &picked,
        count: ids.len(),
        back: &back,
    });
    page(state, cur, req, Nav::Leads, "Confirm bulk change", body).await
}

/// A CSV of the selection: "all matching" is the list's export; ticked rows
/// are written here.
async fn export(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    form: &BulkForm,
    selection: Selection,
) -> AppResult<HttpResponse> {
    let ids = match selection {
        Selection::Matching(_) => {
            let export = form.back().replacen("/leads", "/leads/export", 1);
            return Ok(redirect(req, &export));
        }
        Selection::Picked(ids) => ids,
    };
    let tenant = cur.tenant();
    let mut rows = state
        .db
        .run(move |conn| leads::find_many(conn, &tenant, &ids))
        .await?;
    rows.sort_by_key(|l| std::cmp::Reverse((l.created_at, l.id)));
    let csv = crate::routes::shared::lead_csv::chunk(&rows, true)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"leads-selected.csv\"",
        ))
        .body(csv))
}

/// The progress of a queued bulk change (the whole page, or the card alone
/// when HTMX polls).
async fn progress(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ReadWorkspace)?;
    let id = path.into_inner();
    let job = state
        .db
        .run(move |conn| lead_bulk::find_job(conn, &tenant, id))
        .await?;
    let what = match rules::parse(&job.action, &job.tag) {
        Ok(BulkAction::Change(change)) => change.describe(),
        _ => "change them".to_string(),
    };
    if crate::routes::wants_fragment(&req) {
        return Ok(crate::routes::fragment(view::progress(&job, &what)));
    }
    page(
        &state,
        &cur,
        &req,
        Nav::Leads,
        "Bulk change",
        view::progress_page(&job, &what),
    )
    .await
}
