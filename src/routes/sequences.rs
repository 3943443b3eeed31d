//! Sequences: list and create (within the sequences limit), rename, delete,
//! copy a global one, add/remove/reorder steps (own or global templates
//! only), choose the mailboxes it sends from, enrol leads, pause and resume
//! enrolments. Editing (mailboxes included) needs `can_manage_templates`;
//! enrolling and pausing need `can_send_messages`.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::db::sequences::{self, Sequence};
use crate::db::{enrollments, mailboxes, senders, templates, DbError, Tenant};
use crate::domain::plans::LimitKind;
use crate::domain::roles::Action;
use crate::domain::senders::SenderMode;
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::ids::{MailboxId, SequenceId, StepId, TemplateId};
use crate::routes::{
    form_id, list_with_usage, redirect_with_flash, wants_fragment, within_limit, Part, Reply,
};
use crate::state::AppState;
use crate::views::layout::Nav;
use crate::views::sequences::{self as view, DetailPage, ListPage};

route_table! {
    GET "/sequences" => index,
    POST "/sequences" => create,
    GET "/sequences/{id}" => show,
    POST "/sequences/{id}" => rename,
    POST "/sequences/{id}/delete" => delete,
    POST "/sequences/{id}/copy" => copy,
    POST "/sequences/{id}/stop-on-reply" => stop_on_reply,
    POST "/sequences/{id}/senders" => set_senders,
    POST "/sequences/{id}/steps" => add_step,
    POST "/steps/{id}/up" => change_step::<STEP_UP>,
    POST "/steps/{id}/down" => change_step::<STEP_DOWN>,
    POST "/steps/{id}/delete" => change_step::<STEP_REMOVE>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NameForm {
    name: String,
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    render_list(&state, &cur, &req, "", &FieldErrors::new(), None, Reply::Ok).await
}

/// The list page; any member may read it (`list_with_usage` checks).
async fn render_list(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    name: &str,
    errors: &FieldErrors,
    limit_message: Option<&str>,
    reply: Reply,
) -> AppResult<HttpResponse> {
    let (list, own, limit) =
        list_with_usage(state, cur, LimitKind::Sequences, sequences::list).await?;
    let tenant = cur.tenant_for(Action::ReadWorkspace)?;
    let has_mailbox = state
        .db
        .run(move |conn| mailboxes::any(conn, &tenant))
        .await?;
    let p = ListPage {
        sequences: &list,
        own_count: own,
        limit,
        can_manage: cur.can(Action::ManageTemplates),
        csrf: &cur.user.csrf,
        name,
        errors,
        limit_message,
        has_mailbox,
    };
    let page = (Nav::Sequences, "Sequences");
    if reply == Reply::Ok {
        return reply
            .page(state, &cur.user, req, page, view::list_page(&p))
            .await;
    }
    reply
        .page_or_fragment(state, cur, req, page, |part| match part {
            Part::Fragment => view::create_form(&p),
            Part::Page => view::list_page(&p),
        })
        .await
}

async fn create(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<NameForm>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    cur.require(Action::ManageTemplates)?;
    let name = match forms::plain_text(&form.name, "Name", 1, 120) {
        Ok(n) => n,
        Err(e) => {
            let mut errors = FieldErrors::new();
            errors.add("name", e);
            let reply = Reply::Invalid;
            return render_list(&state, &cur, &req, &form.name, &errors, None, reply).await;
        }
    };
    let tenant = cur.tenant();
    let created = state
        .db
        .tx(move |conn| sequences::create(conn, &tenant, &name, now))
        .await;
    match within_limit(created)? {
        Ok(s) => Ok(redirect_with_flash(
            &req,
            &format!("/sequences/{}", s.id),
            "Sequence created. Add its steps.",
        )),
        Err(m) => {
            let (errors, reply) = (FieldErrors::new(), Reply::OverLimit);
            render_list(&state, &cur, &req, &form.name, &errors, Some(&m), reply).await
        }
    }
}

/// Everything the detail page shows.
struct Detail {
    seq: Sequence,
    steps: Vec<sequences::StepView>,
    templates: Vec<templates::Template>,
    enrolled: Vec<enrollments::EnrollmentRow>,
    senders: senders::Senders,
    mailboxes: Vec<mailboxes::Mailbox>,
}

async fn detail(state: &AppState, cur: &CurrentOrg, id: SequenceId) -> AppResult<Detail> {
    let (tenant, now) = (cur.tenant(), cur.now());
    state
        .db
        .run(move |conn| -> AppResult<_> {
            let seq = sequences::find(conn, &tenant, id)?;
            Ok(Detail {
                steps: sequences::steps(conn, &tenant, &seq)?,
                templates: templates::list(conn, &tenant)?,
                enrolled: enrollments::for_sequence(conn, &tenant, &seq, 100, now)?,
                senders: senders::get(conn, &tenant, &seq)?,
                mailboxes: mailboxes::list(conn, &tenant)?,
                seq,
            })
        })
        .await
}

/// The detail page, or only its steps card for HTMX. `refused_name` is a
/// name the rename refused: the field shows it (with its error) so it can
/// be corrected, instead of the stored name.
async fn render_detail(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    id: SequenceId,
    errors: &FieldErrors,
    refused_name: Option<&str>,
    reply: Reply,
) -> AppResult<HttpResponse> {
    let d = detail(state, cur, id).await?;
    let seq = &d.seq;
    let p = DetailPage {
        sequence: seq,
        name_value: refused_name.unwrap_or(&seq.name),
        steps: &d.steps,
        templates: &d.templates,
        enrollments: &d.enrolled,
        editable: !seq.is_global() && cur.can(Action::ManageTemplates),
        can_manage: cur.can(Action::ManageTemplates),
        can_send: cur.can(Action::SendMessages),
        tz: cur.ctx.org.tz(),
        csrf: &cur.user.csrf,
        errors,
        senders: &d.senders,
        mailboxes: &d.mailboxes,
    };
    reply
        .page_or_fragment(
            state,
            cur,
            req,
            (Nav::Sequences, &seq.name),
            |part| match part {
                Part::Fragment => view::steps_card(&p),
                Part::Page => view::detail_page(&p),
            },
        )
        .await
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<SequenceId>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let id = path.into_inner();
    render_detail(&state, &cur, &req, id, &FieldErrors::new(), None, Reply::Ok).await
}

async fn rename(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<SequenceId>,
    form: web::Form<NameForm>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    cur.require(Action::ManageTemplates)?;
    let id = path.into_inner();
    let name = match forms::plain_text(&form.name, "Name", 1, 120) {
        Ok(name) => name,
        Err(e) => {
            let mut errors = FieldErrors::new();
            errors.add("name", e);
            let refused = Some(form.name.as_str());
            return render_detail(&state, &cur, &req, id, &errors, refused, Reply::Invalid).await;
        }
    };
    let tenant = cur.tenant();
    state
        .db
        .tx(move |conn| sequences::rename(conn, &tenant, id, &name, now))
        .await?;
    Ok(redirect_with_flash(
        &req,
        &format!("/sequences/{id}"),
        "Sequence renamed.",
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StopForm {
    /// A checkbox: "on" when ticked, absent when not.
    stop_on_reply: String,
}

async fn stop_on_reply(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<SequenceId>,
    form: web::Form<StopForm>,
) -> AppResult<HttpResponse> {
    let (tenant, now) = (cur.tenant_for(Action::ManageTemplates)?, cur.now());
    let id = path.into_inner();
    let on = match form.stop_on_reply.as_str() {
        "" => false,
        "on" => true,
        _ => return Err(AppError::validation("Tick the box or leave it empty.")),
    };
    state
        .db
        .tx(move |conn| sequences::set_stop_on_reply(conn, &tenant, id, on, now))
        .await?;
    let text = if on {
        "Leads that reply or are lost now leave this sequence."
    } else {
        "Leads stay in this sequence when they reply or are lost."
    };
    Ok(redirect_with_flash(&req, &format!("/sequences/{id}"), text))
}

/// Sets which mailboxes the sequence sends from (`mode`, and the ticked
/// `mailbox_id`s for a rotation), for a member who may edit sequences; an
/// unknown mode or another organization's mailbox is refused with a clear
/// message and changes nothing.
async fn set_senders(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<SequenceId>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let (tenant, now) = (cur.tenant_for(Action::ManageTemplates)?, cur.now());
    let id = path.into_inner();
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let choice = sender_choice(&fields);
    state
        .db
        .tx(move |conn| -> AppResult<_> {
            // Another organization's sequence is 404 before the form is judged.
            sequences::find(conn, &tenant, id)?;
            let (mode, chosen) = choice?;
            Ok(senders::set(conn, &tenant, id, mode, &chosen, now)?)
        })
        .await?;
    let text = "Sending mailboxes saved: they apply to enrolments whose first step is still to go.";
    Ok(redirect_with_flash(&req, &format!("/sequences/{id}"), text))
}

/// The mode and mailboxes a "Sends from" form submitted; a mode or id that
/// cannot be read is a clear 400.
fn sender_choice(fields: &[(String, String)]) -> AppResult<(SenderMode, Vec<MailboxId>)> {
    let mode = fields
        .iter()
        .find(|(k, _)| k == "mode")
        .and_then(|(_, v)| v.parse::<SenderMode>().ok())
        .ok_or_else(|| AppError::validation("Choose how this sequence sends."))?;
    let chosen = fields
        .iter()
        .filter(|(k, _)| k == "mailbox_id")
        .map(|(_, v)| v.trim().parse::<MailboxId>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| AppError::validation(senders::FOREIGN_MAILBOX))?;
    Ok((mode, chosen))
}

/// Runs `change` on sequence `id` in one transaction, for a member who may
/// edit templates and sequences, at the request's `now`; the sequence as
/// `change` returns it.
async fn change_sequence<E: 'static>(
    state: &AppState,
    cur: &CurrentOrg,
    id: SequenceId,
    change: fn(&mut PgConnection, &Tenant, SequenceId, DateTime<Utc>) -> Result<Sequence, E>,
) -> AppResult<Sequence>
where
    DbError: From<E>,
{
    let (tenant, now) = (cur.tenant_for(Action::ManageTemplates)?, cur.now());
    Ok(state
        .db
        .tx(move |conn| change(conn, &tenant, id, now).map_err(DbError::from))
        .await?)
}

async fn delete(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<SequenceId>,
) -> AppResult<HttpResponse> {
    let s = change_sequence(&state, &cur, path.into_inner(), |conn, tenant, id, _| {
        sequences::delete(conn, tenant, id)
    })
    .await?;
    Ok(redirect_with_flash(
        &req,
        "/sequences",
        &format!("Sequence “{}” deleted.", s.name),
    ))
}

async fn copy(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<SequenceId>,
) -> AppResult<HttpResponse> {
    let s = change_sequence(&state, &cur, path.into_inner(), sequences::copy).await?;
    Ok(redirect_with_flash(
        &req,
        &format!("/sequences/{}", s.id),
        "Copied to your organization.",
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StepForm {
    template_id: String,
    delay_days: String,
}

async fn add_step(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<SequenceId>,
    form: web::Form<StepForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageTemplates)?;
    let id = path.into_inner();
    let template: TemplateId = form_id(&form.template_id)?;
    let delay = form
        .delay_days
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|d| (0..=365).contains(d));
    let Some(delay) = delay else {
        let mut errors = FieldErrors::new();
        errors.add("delay_days", "Enter a whole number of days from 0 to 365.");
        let tenant = cur.tenant();
        state
            .db
            .run(move |conn| sequences::find_own(conn, &tenant, id))
            .await?;
        return render_detail(&state, &cur, &req, id, &errors, None, Reply::Invalid).await;
    };
    let tenant = cur.tenant();
    state
        .db
        .tx(move |conn| sequences::add_step(conn, &tenant, id, template, delay))
        .await?;
    after_step_change(&state, &cur, &req, id).await
}

async fn after_step_change(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    id: SequenceId,
) -> AppResult<HttpResponse> {
    if wants_fragment(req) {
        return render_detail(state, cur, req, id, &FieldErrors::new(), None, Reply::Ok).await;
    }
    Ok(redirect_with_flash(
        req,
        &format!("/sequences/{id}"),
        "Steps saved.",
    ))
}

/// What a step button does: the const parameter of `change_step`.
const STEP_UP: u8 = 0;
const STEP_DOWN: u8 = 1;
const STEP_REMOVE: u8 = 2;

async fn change_step<const CHANGE: u8>(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<StepId>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageTemplates)?;
    let step = path.into_inner();
    let seq = state
        .db
        .tx(move |conn| -> AppResult<_> {
            Ok(match CHANGE {
                STEP_REMOVE => sequences::remove_step(conn, &tenant, step)?,
                _ => sequences::move_step(conn, &tenant, step, CHANGE == STEP_UP)?,
            })
        })
        .await?;
    after_step_change(&state, &cur, &req, seq.id).await
}
