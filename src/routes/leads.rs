//! Leads: the list (search, filters, keyset pages), inline create and edit,
//! delete, and the detail page. Creating counts against leads/month; viewers
//! read only, members need `can_manage_leads` to change anything.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::CurrentOrg;
use crate::db::leads::{self, Cursor, LeadFilter};
use crate::db::{enrollments, messages, sequences, templates, usage};
use crate::domain::leads::{validate, LeadInput, LeadStatus};
use crate::domain::plans::{Limit, LimitKind};
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::ids::LeadId;
use crate::routes::{fragment, page, see_other_with_flash, wants_fragment};
use crate::views::layout::Nav;
use crate::views::lead_detail::{self, DetailPage};
use crate::views::leads::{self as view, FormState, ListPage, Perms};
use crate::views::workspace::query_string;

route_table! {
    GET "/leads" => index,
    POST "/leads" => create,
    GET "/leads/{id}" => show,
    GET "/leads/{id}/edit" => edit,
    GET "/leads/{id}/row" => row,
    POST "/leads/{id}" => update,
    POST "/leads/{id}/delete" => delete,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    status: String,
    tag: String,
    after: String,
}

/// The list filter of a query string; an unknown status is a clear 400.
pub fn parse_filter(q: &str, status: &str, tag: &str) -> AppResult<LeadFilter> {
    let status = match status.trim() {
        "" => None,
        s => Some(s.parse::<LeadStatus>().map_err(|_| {
            AppError::validation(format!(
                "Unknown status. Use one of: {}.",
                LeadStatus::ALL.map(LeadStatus::as_str).join(", ")
            ))
        })?),
    };
    let tag = Some(tag.trim().to_string()).filter(|t| !t.is_empty());
    Ok(LeadFilter {
        q: q.trim().chars().take(200).collect(),
        status,
        tag,
    })
}

pub fn perms(cur: &CurrentOrg) -> Perms {
    Perms {
        manage: cur.can(Action::ManageLeads),
        send: cur.can(Action::SendMessages),
    }
}

/// Leads created this month and the limit.
fn month_usage(conn: &mut diesel::PgConnection, cur: &CurrentOrg) -> AppResult<(i64, Limit)> {
    let now = chrono::Utc::now();
    let tenant = cur.tenant();
    let sub = &cur.ctx.subscription;
    let limits = usage::effective_limits(conn, &tenant, sub, now)?;
    let used = usage::used(conn, &tenant, LimitKind::LeadsPerMonth, now)?;
    Ok((used, limits.limits.get(LimitKind::LeadsPerMonth)))
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let filter = parse_filter(&query.q, &query.status, &query.tag)?;
    let after = Cursor::decode(&query.after);
    let empty = (LeadInput::default(), FieldErrors::new(), None);
    render_list(&state, &cur, &req, filter, after, empty, StatusCode::OK).await
}

/// The list page, with the create form in the given state.
async fn render_list(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    filter: LeadFilter,
    after: Option<Cursor>,
    form: (LeadInput, FieldErrors, Option<String>),
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant();
    let perms = perms(cur);
    let (f, c) = (filter.clone(), cur.clone());
    let ((rows, more), seqs, month) = state
        .db
        .run(move |conn| -> AppResult<_> {
            let page = leads::list(conn, &tenant, &f, after, leads::PAGE_SIZE)?;
            let seqs = if perms.send {
                sequences::options(conn, &tenant)?
            } else {
                Vec::new()
            };
            Ok((page, seqs, month_usage(conn, &c)?))
        })
        .await?;
    let next_href = more
        .then(|| rows.last().map(|l| next_href(&filter, l.cursor())))
        .flatten();
    let body = view::list_page(&ListPage {
        leads: &rows,
        filter: &filter,
        next_href,
        on_first: after.is_none(),
        tz: cur.ctx.org.tz(),
        perms,
        csrf: &cur.user.csrf,
        sequences: &seqs,
        leads_this_month: month,
        form: FormState {
            input: &form.0,
            errors: &form.1,
            limit: form.2.as_deref(),
        },
    });
    let mut res = page(state, cur, req, Nav::Leads, "Leads", body).await?;
    *res.status_mut() = status;
    Ok(res)
}

fn next_href(filter: &LeadFilter, cursor: Cursor) -> String {
    let status = filter.status.map(LeadStatus::as_str).unwrap_or("");
    let tag = filter.tag.as_deref().unwrap_or("");
    let after = cursor.encode();
    format!(
        "/leads{}",
        query_string(&[
            ("q", &filter.q),
            ("status", status),
            ("tag", tag),
            ("after", &after)
        ])
    )
}

/// HX-Trigger after a change to usage, so meters refresh themselves.
fn usage_changed(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("hx-trigger"),
        actix_web::http::header::HeaderValue::from_static("usage-changed"),
    );
    res
}

fn with_status(markup: Markup, status: StatusCode) -> HttpResponse {
    let mut res = fragment(markup);
    *res.status_mut() = status;
    res
}

async fn create(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<LeadInput>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageLeads)?;
    let input = form.into_inner();
    let (errors, limit) = match validate(&input, ',') {
        Err(errors) => (errors, None),
        Ok(fields) => {
            let tenant = cur.tenant();
            let outcome = state
                .db
                .tx(move |conn| leads::create(conn, &tenant, &fields))
                .await
                .map_err(AppError::from);
            match outcome {
                Ok(Ok(lead)) => return Ok(created(&cur, &req, &lead)),
                Ok(Err(errors)) => (errors, None),
                Err(AppError::LimitReached(message)) => (FieldErrors::new(), Some(message)),
                Err(e) => return Err(e),
            }
        }
    };
    let status = if limit.is_some() {
        StatusCode::PAYMENT_REQUIRED
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    if wants_fragment(&req) {
        let state = FormState {
            input: &input,
            errors: &errors,
            limit: limit.as_deref(),
        };
        return Ok(with_status(
            view::create_form(&state, &cur.user.csrf),
            status,
        ));
    }
    let form = (input, errors, limit);
    render_list(
        &state,
        &cur,
        &req,
        LeadFilter::default(),
        None,
        form,
        status,
    )
    .await
}

fn created(cur: &CurrentOrg, req: &HttpRequest, lead: &leads::Lead) -> HttpResponse {
    if !wants_fragment(req) {
        return usage_changed(see_other_with_flash("/leads", "Lead added."));
    }
    let blank = LeadInput::default();
    let no_errors = FieldErrors::new();
    let state = FormState {
        input: &blank,
        errors: &no_errors,
        limit: None,
    };
    let markup = html! {
        (view::create_form(&state, &cur.user.csrf))
        // Table rows only parse inside <template> in a fragment that starts with a form.
        template { tbody hx-swap-oob="afterbegin:#lead-rows" { (view::row(lead, cur.ctx.org.tz(), perms(cur))) } }
        template { tr #leads-empty hx-swap-oob="delete" {} }
        div #flash hx-swap-oob="innerHTML" { div.flash.flash-success role="status" { "Lead added." } }
    };
    usage_changed(fragment(markup))
}

fn lead_id(path: &str) -> AppResult<LeadId> {
    path.parse().map_err(|_| AppError::NotFound)
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let id = lead_id(&path)?;
    let tenant = cur.tenant();
    let perms = perms(&cur);
    let (lead, msgs, enrolled, tpls, seqs) = state
        .db
        .run(move |conn| -> AppResult<_> {
            let lead = leads::find(conn, &tenant, id)?;
            let msgs = messages::for_lead(conn, &tenant, id)?;
            let enrolled = enrollments::for_lead(conn, &tenant, id)?;
            let (tpls, seqs) = if perms.send {
                (
                    templates::list(conn, &tenant)?,
                    sequences::options(conn, &tenant)?,
                )
            } else {
                (Vec::new(), Vec::new())
            };
            Ok((lead, msgs, enrolled, tpls, seqs))
        })
        .await?;
    let body = lead_detail::page(&DetailPage {
        lead: &lead,
        messages: &msgs,
        enrollments: &enrolled,
        templates: &tpls,
        sequences: &seqs,
        perms,
        tz: cur.ctx.org.tz(),
        csrf: &cur.user.csrf,
    });
    page(&state, &cur, &req, Nav::Leads, &lead.full_name(), body).await
}

async fn edit(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageLeads)?;
    let id = lead_id(&path)?;
    let tenant = cur.tenant();
    let lead = state
        .db
        .run(move |conn| leads::find(conn, &tenant, id))
        .await?;
    let input = view::input_of(&lead);
    let errors = FieldErrors::new();
    let form = FormState {
        input: &input,
        errors: &errors,
        limit: None,
    };
    if wants_fragment(&req) {
        return Ok(fragment(view::edit_row(
            lead.id,
            &form,
            view::columns(perms(&cur)),
        )));
    }
    let body = view::edit_page(&lead, &form, &cur.user.csrf);
    page(&state, &cur, &req, Nav::Leads, "Edit lead", body).await
}

/// The display row again (cancelling an inline edit).
async fn row(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let id = lead_id(&path)?;
    let tenant = cur.tenant();
    let lead = state
        .db
        .run(move |conn| leads::find(conn, &tenant, id))
        .await?;
    Ok(fragment(view::row(&lead, cur.ctx.org.tz(), perms(&cur))))
}

/// True when HTMX targets the list row (inline edit), not the edit page form.
fn targets_row(req: &HttpRequest) -> bool {
    req.headers()
        .get("HX-Target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("lead-") && t != "lead-edit")
}

async fn update(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<LeadInput>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageLeads)?;
    let id = lead_id(&path)?;
    let tenant = cur.tenant();
    let mut input = form.into_inner();
    if targets_row(&req) {
        // The inline row form has no notes field: keep the stored notes.
        let stored = state
            .db
            .run(move |conn| leads::find(conn, &tenant, id))
            .await?;
        input.notes = stored.notes;
    }
    let result = match validate(&input, ',') {
        Err(errors) => Err(errors),
        Ok(fields) => {
            state
                .db
                .tx(move |conn| leads::update(conn, &tenant, id, &fields))
                .await?
        }
    };
    match result {
        Ok(lead) => Ok(updated(&cur, &req, &lead)),
        Err(errors) => {
            let form = FormState {
                input: &input,
                errors: &errors,
                limit: None,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            if targets_row(&req) {
                let cols = view::columns(perms(&cur));
                return Ok(with_status(view::edit_row(id.uuid(), &form, cols), status));
            }
            if wants_fragment(&req) {
                return Ok(with_status(
                    view::edit_form(id.uuid(), &form, &cur.user.csrf),
                    status,
                ));
            }
            let tenant = cur.tenant();
            let lead = state
                .db
                .run(move |conn| leads::find(conn, &tenant, id))
                .await?;
            let body = view::edit_page(&lead, &form, &cur.user.csrf);
            let mut res = page(&state, &cur, &req, Nav::Leads, "Edit lead", body).await?;
            *res.status_mut() = status;
            Ok(res)
        }
    }
}

fn updated(cur: &CurrentOrg, req: &HttpRequest, lead: &leads::Lead) -> HttpResponse {
    if targets_row(req) {
        return fragment(view::row(lead, cur.ctx.org.tz(), perms(cur)));
    }
    if wants_fragment(req) {
        let input = view::input_of(lead);
        let errors = FieldErrors::new();
        let form = FormState {
            input: &input,
            errors: &errors,
            limit: None,
        };
        return fragment(html! {
            (view::edit_form(lead.id, &form, &cur.user.csrf))
            div #flash hx-swap-oob="innerHTML" { div.flash.flash-success role="status" { "Lead saved." } }
        });
    }
    see_other_with_flash(&format!("/leads/{}", lead.id), "Lead saved.")
}

async fn delete(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageLeads)?;
    let id = lead_id(&path)?;
    let tenant = cur.tenant();
    let lead = state
        .db
        .tx(move |conn| leads::delete(conn, &tenant, id))
        .await?;
    let message = format!("{} was deleted.", lead.full_name());
    if wants_fragment(&req) {
        return Ok(fragment(html! {
            div #flash hx-swap-oob="innerHTML" { div.flash.flash-success role="status" { (message) } }
        }));
    }
    Ok(see_other_with_flash("/leads", &message))
}
