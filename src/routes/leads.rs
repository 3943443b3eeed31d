//! Leads: the list (search, filters, keyset pages), inline create and edit,
//! delete, and the detail page. Creating counts against leads/month; viewers
//! read only, members need `can_manage_leads` to change anything.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::db::leads::{self, Cursor, LeadFilter, Position};
use crate::db::{cursor, enrollments, mailboxes, pages, team, templates, timeline, Tenant};
use crate::domain::leads::{validate, LeadInput, LeadSource, LeadStatus};
use crate::domain::plans::LimitKind;
use crate::domain::roles::{self, Action, MemberFlags, Role};
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::ids::{LeadId, UserId};
use crate::routes::{
    fragment, lead_filter, owner_filter, page, redirect_with_flash, usage_changed, wants_fragment,
    Reply,
};
use crate::state::AppState;
use crate::views::layout::{flash_oob, Nav};
use crate::views::lead_detail::{self, DetailPage, SendFrom};
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
    POST "/leads/{id}/owner" => set_owner,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    status: String,
    tag: String,
    owner: String,
    after: String,
    before: String,
}

pub fn perms(cur: &CurrentOrg) -> Perms {
    Perms {
        manage: cur.can(Action::ManageLeads),
        send: cur.can(Action::SendMessages),
    }
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let mut filter = lead_filter(&query.q, &query.status, &query.tag)?;
    filter.owner = owner_filter(&query.owner, cur.user.id())?;
    let position = Position::from_query(&query.after, &query.before);
    let empty = (LeadInput::default(), FieldErrors::new(), None);
    render_list(&state, &cur, &req, filter, position, empty, Reply::Ok).await
}

/// The list page, with the create form in the given state.
async fn render_list(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    filter: LeadFilter,
    position: Position,
    form: (LeadInput, FieldErrors, Option<String>),
    reply: Reply,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant();
    let perms = perms(cur);
    let f = filter.clone();
    let (org, sub, now) = (cur.ctx.org.clone(), cur.ctx.subscription.clone(), cur.now());
    // Two statements in one checkout: the page of leads, and the rest of
    // the page (limits, pickers, shell).
    let (list, side) = state
        .db
        .run(move |conn| -> AppResult<_> {
            let page = leads::list_page(conn, &tenant, &f, position, leads::PAGE_SIZE)?;
            let side = pages::workspace_side(conn, &tenant, &org, &sub, now)?;
            Ok((page, side))
        })
        .await?;
    let seqs = if perms.send {
        side.sequence_options
    } else {
        Vec::new()
    };
    let month = (
        side.leads_this_month,
        side.effective.limits.get(LimitKind::LeadsPerMonth),
    );
    let (members, shell) = (side.member_names, side.shell);
    let rows = &list.rows;
    let older_href = list
        .has_older
        .then(|| {
            rows.last()
                .map(|l| page_href(&filter, ("after", l.cursor())))
        })
        .flatten();
    let newer_href = list
        .has_newer
        .then(|| {
            rows.first()
                .map(|l| page_href(&filter, ("before", l.cursor())))
        })
        .flatten();
    let body = view::list_page(&ListPage {
        leads: rows,
        filter: &filter,
        older_href,
        newer_href,
        on_first: position.is_newest(),
        tz: cur.ctx.org.tz(),
        perms,
        csrf: &cur.user.csrf,
        sequences: &seqs,
        leads_this_month: month,
        members: &members,
        me: cur.user.id(),
        form: FormState {
            input: &form.0,
            errors: &form.1,
            limit: form.2.as_deref(),
        },
    });
    Ok(reply.page_with(&cur.user, req, (Nav::Leads, "Leads"), body, shell))
}

/// The list at a cursor: `("after", c)` for the next page down,
/// `("before", c)` for the page above.
fn page_href(filter: &LeadFilter, (side, cursor): (&str, Cursor)) -> String {
    let status = filter.status.map(LeadStatus::as_str).unwrap_or("");
    let tag = filter.tag.as_deref().unwrap_or("");
    let owner = filter.owner.map(|o| o.as_param()).unwrap_or_default();
    let at = cursor.encode();
    format!(
        "/leads{}",
        query_string(&[
            ("q", &filter.q),
            ("status", status),
            ("tag", tag),
            ("owner", &owner),
            (side, &at)
        ])
    )
}

async fn create(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<LeadInput>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    cur.require(Action::ManageLeads)?;
    let input = form.into_inner();
    let (errors, limit) = match validate(&input, ',') {
        Err(errors) => (errors, None),
        Ok(fields) => {
            let tenant = cur.tenant();
            let outcome = state
                .db
                .tx(move |conn| leads::create(conn, &tenant, &fields, LeadSource::Page, now))
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
    let reply = if limit.is_some() {
        Reply::OverLimit
    } else {
        Reply::Invalid
    };
    if wants_fragment(&req) {
        let state = FormState {
            input: &input,
            errors: &errors,
            limit: limit.as_deref(),
        };
        return Ok(reply.fragment(view::create_form(&state, &cur.user.csrf)));
    }
    let form = (input, errors, limit);
    render_list(
        &state,
        &cur,
        &req,
        LeadFilter::default(),
        Position::Newest,
        form,
        reply,
    )
    .await
}

fn created(cur: &CurrentOrg, req: &HttpRequest, lead: &leads::Lead) -> HttpResponse {
    if !wants_fragment(req) {
        return usage_changed(redirect_with_flash(req, "/leads", "Lead added."));
    }
    let blank = LeadInput::default();
    let no_errors = FieldErrors::new();
    let state = FormState {
        input: &blank,
        errors: &no_errors,
        limit: None,
    };
    // A new lead belongs to whoever added it.
    let me = [(cur.user.id(), cur.user.session.user.name.clone())];
    let markup = html! {
        (view::create_form(&state, &cur.user.csrf))
        // Table rows only parse inside <template> in a fragment that starts with a form.
        template { tbody hx-swap-oob="afterbegin:#lead-rows" { (view::row(lead, row_ctx(cur, &me))) } }
        template { tr #leads-empty hx-swap-oob="delete" {} }
        (flash_oob("Lead added."))
    };
    usage_changed(fragment(markup))
}

/// Where the lead page's activity timeline starts (`after=` / `before=`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActivityQuery {
    after: String,
    before: String,
}

/// The mailboxes the acting member may send a message from (their own;
/// owners and admins any), labelled, with their own first mailbox as the
/// default.
fn send_from(all: Vec<mailboxes::Mailbox>, tenant: &Tenant, who: (Role, MemberFlags)) -> SendFrom {
    let me = tenant.user_id();
    let own = |m: &mailboxes::Mailbox| m.owner_user_id.is_some() && m.owner_user_id == me;
    let default = all.iter().find(|m| own(m)).map(|m| m.id);
    let options = all
        .iter()
        .filter(|m| roles::may_send_from_mailbox(who.0, who.1, own(m)))
        .map(|m| (m.id, format!("{} <{}>", m.display_name, m.email)))
        .collect();
    SendFrom { options, default }
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<LeadId>,
    query: web::Query<ActivityQuery>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ReadWorkspace)?;
    let id = path.into_inner();
    let perms = perms(&cur);
    let position = cursor::Position::from_query(&query.after, &query.before);
    let (org, sub, now) = (cur.ctx.org.clone(), cur.ctx.subscription.clone(), cur.now());
    let who = (cur.role(), cur.ctx.member.flags());
    let (lead, activity, enrolled, (tpls, send_from), side) = state
        .db
        .run(move |conn| -> AppResult<_> {
            let lead = leads::find(conn, &tenant, id)?;
            let activity = timeline::page(conn, &tenant, id, &position)?;
            let enrolled = enrollments::for_lead(conn, &tenant, id, now)?;
            let compose = if perms.send {
                let from = send_from(mailboxes::list(conn, &tenant)?, &tenant, who);
                (templates::list(conn, &tenant)?, from)
            } else {
                Default::default()
            };
            let side = pages::workspace_side(conn, &tenant, &org, &sub, now)?;
            Ok((lead, activity, enrolled, compose, side))
        })
        .await?;
    let seqs = if perms.send {
        side.sequence_options
    } else {
        Vec::new()
    };
    let (members, shell) = (side.member_names, side.shell);
    let body = lead_detail::page(&DetailPage {
        lead: &lead,
        activity: &activity,
        on_first: position.is_newest(),
        enrollments: &enrolled,
        templates: &tpls,
        sequences: &seqs,
        members: &members,
        send_from: &send_from,
        perms,
        tz: cur.ctx.org.tz(),
        csrf: &cur.user.csrf,
    });
    let title = lead.full_name();
    Ok(Reply::Ok.page_with(&cur.user, &req, (Nav::Leads, &title), body, shell))
}

async fn edit(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<LeadId>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageLeads)?;
    let lead = find(&state, &cur, path.into_inner()).await?;
    let input = view::input_of(&lead);
    let errors = FieldErrors::new();
    let form = FormState {
        input: &input,
        errors: &errors,
        limit: None,
    };
    if wants_fragment(&req) {
        return Ok(fragment(view::edit_row(lead.id, &form, view::COLUMNS)));
    }
    let body = view::edit_page(&lead, &form, &cur.user.csrf);
    page(&state, &cur, &req, Nav::Leads, "Edit lead", body).await
}

/// The display row again (cancelling an inline edit).
async fn row(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    path: web::Path<LeadId>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let lead = find(&state, &cur, path.into_inner()).await?;
    let members = member_names(&state, &cur).await?;
    Ok(fragment(view::row(&lead, row_ctx(&cur, &members))))
}

/// The row context: the organization's time zone, what the member may do,
/// and the members' names for the owner column.
fn row_ctx<'a>(cur: &CurrentOrg, members: &'a [(UserId, String)]) -> view::RowCtx<'a> {
    view::RowCtx {
        tz: cur.ctx.org.tz(),
        perms: perms(cur),
        members,
    }
}

/// The organization's members (id, name).
async fn member_names(state: &AppState, cur: &CurrentOrg) -> AppResult<Vec<(UserId, String)>> {
    let tenant = cur.tenant();
    Ok(state.db.run(move |conn| team::names(conn, &tenant)).await?)
}

/// One lead of the current organization (404 for any other).
async fn find(state: &AppState, cur: &CurrentOrg, id: LeadId) -> AppResult<leads::Lead> {
    let tenant = cur.tenant();
    state
        .db
        .run(move |conn| leads::find(conn, &tenant, id))
        .await
        .map_err(AppError::from)
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
    path: web::Path<LeadId>,
    form: web::Form<LeadInput>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    let tenant = cur.tenant_for(Action::ManageLeads)?;
    let id = path.into_inner();
    let mut input = form.into_inner();
    if targets_row(&req) {
        // The inline row form has no notes field: keep the stored notes.
        let stored = find(&state, &cur, id).await?;
        input.notes = stored.fields.notes;
    }
    let result = match validate(&input, ',') {
        Err(errors) => Err(errors),
        Ok(fields) => {
            state
                .db
                .tx(move |conn| leads::update(conn, &tenant, id, &fields, now))
                .await?
        }
    };
    match result {
        Ok(lead) => {
            let members = if targets_row(&req) {
                member_names(&state, &cur).await?
            } else {
                Vec::new()
            };
            Ok(updated(&cur, &req, &lead, &members))
        }
        Err(errors) => {
            let form = FormState {
                input: &input,
                errors: &errors,
                limit: None,
            };
            let reply = Reply::Invalid;
            if targets_row(&req) {
                let cols = view::COLUMNS;
                return Ok(reply.fragment(view::edit_row(id, &form, cols)));
            }
            if wants_fragment(&req) {
                return Ok(reply.fragment(view::edit_form(id, &form, &cur.user.csrf)));
            }
            let lead = find(&state, &cur, id).await?;
            let body = view::edit_page(&lead, &form, &cur.user.csrf);
            reply
                .page(&state, &cur.user, &req, (Nav::Leads, "Edit lead"), body)
                .await
        }
    }
}

fn updated(
    cur: &CurrentOrg,
    req: &HttpRequest,
    lead: &leads::Lead,
    members: &[(UserId, String)],
) -> HttpResponse {
    if targets_row(req) {
        return fragment(view::row(lead, row_ctx(cur, members)));
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
            (flash_oob("Lead saved."))
        });
    }
    redirect_with_flash(req, &format!("/leads/{}", lead.id), "Lead saved.")
}

async fn delete(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<LeadId>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageLeads)?;
    let (id, now) = (path.into_inner(), cur.now());
    let lead = state
        .db
        .tx(move |conn| leads::delete(conn, &tenant, id, now))
        .await?;
    let message = format!("{} was deleted.", lead.full_name());
    if wants_fragment(&req) {
        return Ok(fragment(html! {
            (flash_oob(&message))
        }));
    }
    Ok(redirect_with_flash(&req, "/leads", &message))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OwnerForm {
    /// A member's id, or empty for nobody.
    owner: String,
}

/// Gives the lead to another member (or to nobody): anyone with lead rights.
async fn set_owner(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<LeadId>,
    form: web::Form<OwnerForm>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageLeads)?;
    let owner = match form.owner.trim() {
        "" => None,
        id => Some(id.parse().map_err(|_| {
            AppError::validation("Choose a member of this organization as the owner.")
        })?),
    };
    let (id, now) = (path.into_inner(), cur.now());
    state
        .db
        .tx(move |conn| leads::set_owner(conn, &tenant, id, owner, now))
        .await?;
    let href = format!("/leads/{id}");
    Ok(redirect_with_flash(&req, &href, "Owner changed."))
}
