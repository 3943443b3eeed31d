//! Sequences: list and create (within the sequences limit), rename, delete,
//! copy a global one, add/remove/reorder steps (own or global templates
//! only), enrol leads, pause and resume enrolments. Editing needs
//! `can_manage_templates`; enrolling and pausing need `can_send_messages`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::CurrentOrg;
use crate::db::sequences::{self, Sequence};
use crate::db::{enrollments, templates, usage};
use crate::domain::plans::LimitKind;
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::ids::{SequenceId, StepId, TemplateId};
use crate::routes::{fragment, page, see_other_with_flash, wants_fragment};
use crate::views::layout::Nav;
use crate::views::sequences::{self as view, DetailPage, ListPage};

route_table! {
    GET "/sequences" => index,
    POST "/sequences" => create,
    GET "/sequences/{id}" => show,
    POST "/sequences/{id}" => rename,
    POST "/sequences/{id}/delete" => delete,
    POST "/sequences/{id}/copy" => copy,
    POST "/sequences/{id}/steps" => add_step,
    POST "/steps/{id}/up" => step_up,
    POST "/steps/{id}/down" => step_down,
    POST "/steps/{id}/delete" => remove_step,
}

pub(crate) fn parse_id<T: std::str::FromStr>(s: &str) -> AppResult<T> {
    s.parse().map_err(|_| AppError::NotFound)
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
    cur.require(Action::ReadWorkspace)?;
    render_list(
        &state,
        &cur,
        &req,
        "",
        &FieldErrors::new(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render_list(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    name: &str,
    errors: &FieldErrors,
    limit_message: Option<&str>,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let (tenant, sub) = (cur.tenant(), cur.ctx.subscription.clone());
    let (list, own, limit) = state
        .db
        .run(move |conn| -> AppResult<_> {
            let now = Utc::now();
            let list = sequences::list(conn, &tenant)?;
            let own = usage::used(conn, &tenant, LimitKind::Sequences, now)?;
            let limit = usage::effective_limits(conn, &tenant, &sub, now)?
                .limits
                .sequences;
            Ok((list, own, limit))
        })
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
    };
    if wants_fragment(req) && status != StatusCode::OK {
        let mut res = fragment(view::create_form(&p));
        *res.status_mut() = status;
        return Ok(res);
    }
    let mut res = page(
        state,
        cur,
        req,
        Nav::Sequences,
        "Sequences",
        view::list_page(&p),
    )
    .await?;
    *res.status_mut() = status;
    Ok(res)
}

async fn create(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<NameForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageTemplates)?;
    let name = match forms::text(&form.name, "Name", 1, 120) {
        Ok(n) => n,
        Err(e) => {
            let mut errors = FieldErrors::new();
            errors.add("name", e);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_list(&state, &cur, &req, &form.name, &errors, None, status).await;
        }
    };
    let tenant = cur.tenant();
    match state
        .db
        .tx(move |conn| sequences::create(conn, &tenant, &name))
        .await
        .map_err(AppError::from)
    {
        Ok(s) => Ok(crate::routes::redirect_with_flash(
            &req,
            &format!("/sequences/{}", s.id),
            "Sequence created. Add its steps.",
        )),
        Err(AppError::LimitReached(m)) => {
            let (errors, status) = (FieldErrors::new(), StatusCode::PAYMENT_REQUIRED);
            render_list(&state, &cur, &req, &form.name, &errors, Some(&m), status).await
        }
        Err(e) => Err(e),
    }
}

/// Everything the detail page shows.
async fn detail(
    state: &AppState,
    cur: &CurrentOrg,
    id: SequenceId,
) -> AppResult<(
    Sequence,
    Vec<sequences::StepView>,
    Vec<templates::Template>,
    Vec<enrollments::EnrollmentRow>,
)> {
    let tenant = cur.tenant();
    state
        .db
        .run(move |conn| -> AppResult<_> {
            let seq = sequences::find(conn, &tenant, id)?;
            let steps = sequences::steps(conn, &tenant, &seq)?;
            let tpls = templates::list(conn, &tenant)?;
            let enrolled = enrollments::for_sequence(conn, &tenant, &seq, 100)?;
            Ok((seq, steps, tpls, enrolled))
        })
        .await
}

/// The detail page, or only its steps card for HTMX.
async fn render_detail(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    id: SequenceId,
    errors: &FieldErrors,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let (seq, steps, tpls, enrolled) = detail(state, cur, id).await?;
    let p = DetailPage {
        sequence: &seq,
        steps: &steps,
        templates: &tpls,
        enrollments: &enrolled,
        editable: !seq.is_global() && cur.can(Action::ManageTemplates),
        can_manage: cur.can(Action::ManageTemplates),
        can_send: cur.can(Action::SendMessages),
        tz: cur.ctx.org.tz(),
        csrf: &cur.user.csrf,
        errors,
    };
    if wants_fragment(req) {
        let mut res = fragment(view::steps_card(&p));
        *res.status_mut() = status;
        return Ok(res);
    }
    let mut res = page(
        state,
        cur,
        req,
        Nav::Sequences,
        &seq.name,
        view::detail_page(&p),
    )
    .await?;
    *res.status_mut() = status;
    Ok(res)
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let id = parse_id(&path)?;
    render_detail(&state, &cur, &req, id, &FieldErrors::new(), StatusCode::OK).await
}

async fn rename(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    path: web::Path<String>,
    form: web::Form<NameForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageTemplates)?;
    let id: SequenceId = parse_id(&path)?;
    let name = forms::text(&form.name, "Name", 1, 120).map_err(AppError::Validation)?;
    let tenant = cur.tenant();
    state
        .db
        .tx(move |conn| sequences::rename(conn, &tenant, id, &name))
        .await?;
    Ok(see_other_with_flash(
        &format!("/sequences/{id}"),
        "Sequence renamed.",
    ))
}

async fn delete(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageTemplates)?;
    let id: SequenceId = parse_id(&path)?;
    let tenant = cur.tenant();
    let s = state
        .db
        .tx(move |conn| sequences::delete(conn, &tenant, id))
        .await?;
    Ok(see_other_with_flash(
        "/sequences",
        &format!("Sequence “{}” deleted.", s.name),
    ))
}

async fn copy(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageTemplates)?;
    let id: SequenceId = parse_id(&path)?;
    let tenant = cur.tenant();
    let s = state
        .db
        .tx(move |conn| sequences::copy(conn, &tenant, id))
        .await?;
    Ok(crate::routes::redirect_with_flash(
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
    path: web::Path<String>,
    form: web::Form<StepForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageTemplates)?;
    let id: SequenceId = parse_id(&path)?;
    let template: TemplateId = parse_id(&form.template_id)?;
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
        return render_detail(
            &state,
            &cur,
            &req,
            id,
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
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
        return render_detail(state, cur, req, id, &FieldErrors::new(), StatusCode::OK).await;
    }
    Ok(see_other_with_flash(
        &format!("/sequences/{id}"),
        "Steps saved.",
    ))
}

enum StepChange {
    Up,
    Down,
    Remove,
}

async fn change_step(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<String>,
    change: StepChange,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageTemplates)?;
    let step: StepId = parse_id(&path)?;
    let tenant = cur.tenant();
    let seq = state
        .db
        .tx(move |conn| -> AppResult<_> {
            Ok(match change {
                StepChange::Up => sequences::move_step(conn, &tenant, step, true)?,
                StepChange::Down => sequences::move_step(conn, &tenant, step, false)?,
                StepChange::Remove => sequences::remove_step(conn, &tenant, step)?,
            })
        })
        .await?;
    after_step_change(&state, &cur, &req, SequenceId(seq.id)).await
}

async fn step_up(
    s: web::Data<AppState>,
    c: CurrentOrg,
    r: HttpRequest,
    p: web::Path<String>,
) -> AppResult<HttpResponse> {
    change_step(s, c, r, p, StepChange::Up).await
}

async fn step_down(
    s: web::Data<AppState>,
    c: CurrentOrg,
    r: HttpRequest,
    p: web::Path<String>,
) -> AppResult<HttpResponse> {
    change_step(s, c, r, p, StepChange::Down).await
}

async fn remove_step(
    s: web::Data<AppState>,
    c: CurrentOrg,
    r: HttpRequest,
    p: web::Path<String>,
) -> AppResult<HttpResponse> {
    change_step(s, c, r, p, StepChange::Remove).await
}
