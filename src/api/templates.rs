//! Message templates over the API: the organization's own and the global
//! ones are listed and read; own ones are created (within the templates
//! limit, 402 when reached), changed and deleted (audited). Global templates
//! are read-only (403). Validation is the editor's.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::auth::ApiCaller;
use crate::api::idempotency::{once, stored};
use crate::api::problem::{ApiResult, Problem};
use crate::api::{read, resource};
use crate::db::templates::{self, Template};
use crate::domain::roles::Action;
use crate::error::AppError;
use crate::ids::TemplateId;
use crate::routes::templates::{validate, TemplateForm};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/templates")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/templates/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// A template as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateOut {
    pub id: TemplateId,
    pub name: String,
    pub subject: String,
    pub body: String,
    /// Provided to every organization; read-only.
    pub global: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Template> for TemplateOut {
    fn from(t: Template) -> TemplateOut {
        TemplateOut {
            global: t.is_global(),
            id: t.id,
            name: t.name,
            subject: t.subject,
            body: t.body,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    pub data: Vec<TemplateOut>,
}

/// A template's fields as sent; on PATCH, absent fields keep their value.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    name: Option<String>,
    subject: Option<String>,
    body: Option<String>,
}

impl TemplateBody {
    fn over(self, base: Option<&Template>) -> TemplateForm {
        let keep = |new: Option<String>, old: Option<&String>| {
            new.or_else(|| old.cloned()).unwrap_or_default()
        };
        let mut form = TemplateForm::default();
        form.name = keep(self.name, base.map(|t| &t.name));
        form.subject = keep(self.subject, base.map(|t| &t.subject));
        form.body = keep(self.body, base.map(|t| &t.body));
        form
    }
}

fn read_only() -> Problem {
    Problem::forbidden(
        "Global templates are read-only: copy one into your organization to change it.",
    )
}

#[utoipa::path(get, path = "/api/v1/templates", tag = "templates",
    summary = "List templates",
    description = "The organization's own templates and the global ones.",
    responses((status = 200, description = "Every template.", body = TemplateList)))]
async fn list(state: web::Data<AppState>, caller: ApiCaller) -> ApiResult<HttpResponse> {
    let rows = read(&state, &caller, templates::list).await?;
    let data = rows.into_iter().map(TemplateOut::from).collect();
    Ok(HttpResponse::Ok().json(TemplateList { data }))
}

#[utoipa::path(get, path = "/api/v1/templates/{id}", tag = "templates",
    summary = "Get a template",
    params(("id" = TemplateId, Path, description = "The template's id.")),
    responses((status = 200, description = "The template.", body = TemplateOut)))]
async fn show(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<TemplateId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let t = read(&state, &caller, move |conn, tenant| {
        templates::find(conn, tenant, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(TemplateOut::from(t)))
}

#[utoipa::path(post, path = "/api/v1/templates", tag = "templates",
    summary = "Create a template",
    description = "Validated like the template editor (unknown placeholders are refused); counts against the plan's templates limit.",
    request_body = TemplateBody,
    responses(
        (status = 201, description = "The template as stored.", body = TemplateOut,
            headers(("Location" = String, description = "The new template's path."))),
        (status = 402, description = "The templates limit is reached; nothing was created.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json")))]
async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    body: web::Json<TemplateBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant_for(Action::ManageTemplates)?;
    let body = body.into_inner();
    let canonical = serde_json::to_vec(&body).unwrap_or_default();
    let fields = validate(&body.over(None)).map_err(|e| Problem::invalid(&e))?;
    let now = caller.now;
    once(&state, &caller, &req, &canonical, move |conn| {
        let t = templates::create(conn, &tenant, &fields, now)?;
        let location = format!("/api/v1/templates/{}", t.id);
        Ok(Ok(stored(
            StatusCode::CREATED,
            &TemplateOut::from(t),
            Some(location),
        )?))
    })
    .await
}

#[utoipa::path(patch, path = "/api/v1/templates/{id}", tag = "templates",
    summary = "Change a template",
    description = "Only the fields sent change. Global templates are read-only (403).",
    params(("id" = TemplateId, Path, description = "The template's id.")),
    request_body = TemplateBody,
    responses(
        (status = 200, description = "The template as stored now.", body = TemplateOut),
        (status = 422, description = "Invalid fields; nothing changed.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json")))]
async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<TemplateId>,
    body: web::Json<TemplateBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant_for(Action::ManageTemplates)?;
    let (id, now, body) = (id.into_inner(), caller.now, body.into_inner());
    let outcome = state
        .db
        .tx(move |conn| -> Result<_, AppError> {
            let current = templates::find(conn, &tenant, id)?;
            if current.is_global() {
                return Ok(Err(read_only()));
            }
            match validate(&body.over(Some(&current))) {
                Ok(fields) => Ok(Ok(templates::update(conn, &tenant, id, &fields, now)?)),
                Err(errors) => Ok(Err(Problem::invalid(&errors))),
            }
        })
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::Ok().json(TemplateOut::from(outcome?)))
}

#[utoipa::path(delete, path = "/api/v1/templates/{id}", tag = "templates",
    summary = "Delete a template",
    description = "Global templates are read-only (403); a template used by a sequence step cannot be deleted (409).",
    params(("id" = TemplateId, Path, description = "The template's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 409, description = "A sequence step uses this template.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json")))]
async fn delete(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<TemplateId>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant_for(Action::ManageTemplates)?;
    let id = id.into_inner();
    let outcome = state
        .db
        .tx(move |conn| -> Result<_, AppError> {
            if templates::find(conn, &tenant, id)?.is_global() {
                return Ok(Err(read_only()));
            }
            templates::delete(conn, &tenant, id)?;
            Ok(Ok(()))
        })
        .await
        .map_err(Problem::from)?;
    outcome?;
    Ok(HttpResponse::NoContent().finish())
}
