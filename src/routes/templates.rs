//! Message templates: list (own + global), create within the templates limit,
//! edit own ones, copy a global one, delete, and the live preview against a
//! lead. Changing templates needs `can_manage_templates`.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use maud::Markup;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::CurrentOrg;
use crate::db::leads::{self, Lead};
use crate::db::messages;
use crate::db::templates::{self, Template, TemplateFields};
use crate::domain::leads::{LeadFields, LeadStatus};
use crate::domain::placeholders;
use crate::domain::plans::LimitKind;
use crate::domain::roles::Action;
use crate::error::AppResult;
use crate::forms::{self, FieldErrors};
use crate::ids::{LeadId, TemplateId};
use crate::routes::{
    fragment, list_with_usage, page, redirect, redirect_with_flash, wants_fragment, within_limit,
    Part, Reply,
};
use crate::state::AppState;
use crate::views::layout::Nav;
use crate::views::templates::{self as view, Editor, ListPage};

route_table! {
    GET "/templates" => index,
    GET "/templates/new" => new_form,
    POST "/templates" => create,
    POST "/templates/preview" => preview,
    GET "/templates/{id}" => show,
    POST "/templates/{id}" => update,
    POST "/templates/{id}/delete" => delete_or_copy::<false>,
    POST "/templates/{id}/copy" => delete_or_copy::<true>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct TemplateForm {
    pub name: String,
    pub subject: String,
    pub body: String,
    lead_id: String,
    template_id: String,
}

/// Name, subject and body, with every placeholder known and closed.
pub fn validate(form: &TemplateForm) -> Result<TemplateFields, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = forms::plain_text(&form.name, "Name", 1, 120);
    let subject = forms::text(&form.subject, "Subject", 1, 200).and_then(|s| {
        if s.contains(['\n', '\r']) {
            return Err("Subject must be on one line.".to_string());
        }
        placeholders::parse(&s).map_err(|e| e.to_string())?;
        Ok(s)
    });
    let body = forms::text(&form.body, "Body", 1, 10_000).and_then(|b| {
        placeholders::parse(&b)
            .map(|_| b.clone())
            .map_err(|e| e.to_string())
    });
    match (name, subject, body) {
        (Ok(name), Ok(subject), Ok(body)) => Ok(TemplateFields {
            name,
            subject,
            body,
        }),
        (name, subject, body) => {
            errors.check("name", name.map(|_| ()));
            errors.check("subject", subject.map(|_| ()));
            errors.check("body", body.map(|_| ()));
            Err(errors)
        }
    }
}

/// A made-up lead for previews when the organization has none yet.
fn sample_lead(now: DateTime<Utc>) -> Lead {
    Lead {
        id: LeadId(Uuid::nil()),
        fields: LeadFields {
            first_name: "Anna".into(),
            last_name: "Berger".into(),
            email: "anna.berger@northwind.example".into(),
            company: "Northwind".into(),
            title: "Head of Sales".into(),
            phone: String::new(),
            status: LeadStatus::New,
            tags: Vec::new(),
            notes: String::new(),
            time_zone: String::new(),
        },
        owner_user_id: None,
        created_at: now,
        updated_at: now,
    }
}

/// Renders subject and body for a lead as the current user would send them.
fn render_preview(cur: &CurrentOrg, lead: &Lead, subject: &str, body: &str) -> Markup {
    let sender = &cur.user.session.user.name;
    let result = messages::render(subject, body, lead, sender, &cur.ctx.org.name);
    view::preview(result.map_err(|e| e.to_string()))
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let (list, own, limit) =
        list_with_usage(&state, &cur, LimitKind::Templates, templates::list).await?;
    let body = view::list_page(&ListPage {
        templates: &list,
        own_count: own,
        limit,
        can_manage: cur.can(Action::ManageTemplates),
        tz: cur.ctx.org.tz(),
        csrf: &cur.user.csrf,
    });
    page(&state, &cur, &req, Nav::Templates, "Templates", body).await
}

/// The leads a preview can use, and the one chosen (or the first).
async fn preview_leads(
    state: &AppState,
    cur: &CurrentOrg,
    chosen: &str,
) -> AppResult<(Vec<Lead>, Lead)> {
    let (tenant, now) = (cur.tenant(), cur.now());
    let chosen: Option<LeadId> = chosen.parse().ok();
    state
        .db
        .run(move |conn| -> AppResult<_> {
            let recent = leads::recent(conn, &tenant, 25)?;
            let lead = match chosen {
                Some(id) => Some(leads::find(conn, &tenant, id)?),
                None => recent.first().cloned(),
            };
            Ok((recent, lead.unwrap_or_else(|| sample_lead(now))))
        })
        .await
}

/// What the editor shows besides the form values.
struct Shown<'a> {
    errors: FieldErrors,
    limit: Option<&'a str>,
    reply: Reply,
}

impl<'a> Shown<'a> {
    /// The editor as opened: no errors, 200.
    fn fresh() -> Self {
        Self::with(FieldErrors::new(), None, Reply::Ok)
    }

    /// After a rejected form: the field errors, 422.
    fn invalid(errors: FieldErrors) -> Self {
        Self::with(errors, None, Reply::Invalid)
    }

    /// After the plan's template limit refused a save: its message, 402.
    fn over_limit(message: &'a str) -> Self {
        Self::with(FieldErrors::new(), Some(message), Reply::OverLimit)
    }

    fn with(errors: FieldErrors, limit: Option<&'a str>, reply: Reply) -> Self {
        Shown {
            errors,
            limit,
            reply,
        }
    }
}

/// The editor page with its preview; after a failed save (422/402) HTMX
/// gets only the form.
async fn render_editor(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    existing: Option<&Template>,
    form: &TemplateForm,
    shown: Shown<'_>,
) -> AppResult<HttpResponse> {
    let Shown {
        errors,
        limit,
        reply,
    } = shown;
    let (recent, lead) = preview_leads(state, cur, &form.lead_id).await?;
    let editor = Editor {
        id: existing.map(|t| t.id),
        name: &form.name,
        subject: &form.subject,
        body: &form.body,
        lead_id: Some(lead.id),
        leads: &recent,
        errors: &errors,
        limit,
        preview: render_preview(cur, &lead, &form.subject, &form.body),
    };
    let csrf = &cur.user.csrf;
    if reply == Reply::Ok {
        let body = view::editor_page(editor, existing, csrf);
        return page(state, cur, req, Nav::Templates, "Template", body).await;
    }
    reply
        .page_or_fragment(
            state,
            cur,
            req,
            (Nav::Templates, "Template"),
            |part| match part {
                Part::Fragment => view::editor_form(&editor, csrf),
                Part::Page => view::editor_page(editor, existing, csrf),
            },
        )
        .await
}

async fn new_form(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageTemplates)?;
    let form = TemplateForm {
        subject: "Quick question, {{first_name}}".into(),
        body: "Hi {{first_name}},\n\n\n\nBest,\n{{sender_name}}".into(),
        ..TemplateForm::default()
    };
    render_editor(&state, &cur, &req, None, &form, Shown::fresh()).await
}

async fn create(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<TemplateForm>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    cur.require(Action::ManageTemplates)?;
    let form = form.into_inner();
    let fields = match validate(&form) {
        Ok(f) => f,
        Err(errors) => {
            return render_editor(&state, &cur, &req, None, &form, Shown::invalid(errors)).await;
        }
    };
    let tenant = cur.tenant();
    let created = state
        .db
        .tx(move |conn| templates::create(conn, &tenant, &fields, now))
        .await;
    match within_limit(created)? {
        Ok(t) => Ok(redirect_with_flash(
            &req,
            &format!("/templates/{}", t.id),
            "Template saved.",
        )),
        Err(message) => {
            render_editor(&state, &cur, &req, None, &form, Shown::over_limit(&message)).await
        }
    }
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<TemplateId>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ReadWorkspace)?;
    let id = path.into_inner();
    let t = state
        .db
        .run(move |conn| templates::find(conn, &tenant, id))
        .await?;
    let form = TemplateForm {
        name: t.name.clone(),
        subject: t.subject.clone(),
        body: t.body.clone(),
        ..TemplateForm::default()
    };
    let can_manage = cur.can(Action::ManageTemplates);
    if !t.is_global() && can_manage {
        return render_editor(&state, &cur, &req, Some(&t), &form, Shown::fresh()).await;
    }
    let (_, lead) = preview_leads(&state, &cur, "").await?;
    let preview = render_preview(&cur, &lead, &t.subject, &t.body);
    let body = view::read_only_page(&t, can_manage, preview, &cur.user.csrf);
    page(&state, &cur, &req, Nav::Templates, &t.name, body).await
}

async fn update(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<TemplateId>,
    form: web::Form<TemplateForm>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    let tenant = cur.tenant_for(Action::ManageTemplates)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let fields = match validate(&form) {
        Ok(f) => f,
        Err(errors) => {
            // Only an own template can be edited: 404 for any other.
            let t = state
                .db
                .run(move |conn| templates::find_own(conn, &tenant, id))
                .await?;
            return render_editor(&state, &cur, &req, Some(&t), &form, Shown::invalid(errors))
                .await;
        }
    };
    let t = state
        .db
        .tx(move |conn| templates::update(conn, &tenant, id, &fields, now))
        .await?;
    Ok(redirect_with_flash(
        &req,
        &format!("/templates/{}", t.id),
        "Template saved.",
    ))
}

/// Deletes an own template, or (`COPY`) copies one into the organization.
async fn delete_or_copy<const COPY: bool>(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<TemplateId>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    cur.require(Action::ManageTemplates)?;
    let (id, tenant) = (path.into_inner(), cur.tenant());
    let t = state
        .db
        .tx(move |conn| match COPY {
            true => templates::copy(conn, &tenant, id, now),
            false => templates::delete(conn, &tenant, id),
        })
        .await?;
    Ok(match COPY {
        true => redirect_with_flash(
            &req,
            &format!("/templates/{}", t.id),
            "Copied to your organization. You can edit it now.",
        ),
        false => redirect_with_flash(
            &req,
            "/templates",
            &format!("Template “{}” deleted.", t.name),
        ),
    })
}

/// Live preview (HTMX fragment), or the editor page with the preview
/// filled in for a browser without JavaScript.
async fn preview(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<TemplateForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let form = form.into_inner();
    if wants_fragment(&req) {
        let (_, lead) = preview_leads(&state, &cur, &form.lead_id).await?;
        return Ok(fragment(render_preview(
            &cur,
            &lead,
            &form.subject,
            &form.body,
        )));
    }
    if form.name.is_empty() && form.subject.is_empty() && form.body.is_empty() {
        return Ok(redirect(&req, "/templates/new"));
    }
    let existing = match form.template_id.parse::<TemplateId>() {
        Ok(id) => {
            let tenant = cur.tenant();
            Some(
                state
                    .db
                    .run(move |conn| templates::find_own(conn, &tenant, id))
                    .await?,
            )
        }
        Err(_) => None,
    };
    render_editor(&state, &cur, &req, existing.as_ref(), &form, Shown::fresh()).await
}
