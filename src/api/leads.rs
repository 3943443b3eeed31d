//! Leads over the API: list (search, status, tag, keyset cursor, `limit` up
//! to 100), create (counted against the monthly limit in the same
//! transaction, 402 when reached), read, partial update and delete (audited).
//! Validation is the page's (`domain::leads::validate`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::auth::ApiCaller;
use crate::api::idempotency::{once, stored};
use crate::api::paging::{cursor_after, next_link, page_size};
use crate::api::problem::{ApiResult, Problem};
use crate::api::{read, resource};
use crate::db::leads::{self, Lead};
use crate::domain::leads::{validate, LeadFields, LeadInput, LeadSource};
use crate::domain::roles::Action;
use crate::error::AppError;
use crate::ids::{LeadId, UserId};
use crate::routes::lead_filter;
use crate::state::AppState;

/// Tags travel as a JSON array; validation splits a joined string, so they
/// are joined with a control character that a valid tag cannot contain.
const TAG_JOIN: char = '\u{1f}';

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/leads")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/leads/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// A lead as the API shows it: its id, its own fields as the pages store
/// them, the owner and the times.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LeadOut {
    pub id: LeadId,
    #[serde(flatten)]
    #[schema(value_type = LeadFieldsDoc)]
    pub fields: LeadFields,
    pub owner_user_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Lead> for LeadOut {
    fn from(l: Lead) -> LeadOut {
        LeadOut {
            id: l.id,
            fields: l.fields,
            owner_user_id: l.owner_user_id,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

/// The schema of `LeadFields` (the pages' validated lead) as the API writes
/// it; the tests check every reply against it, so it cannot drift.
#[derive(utoipa::ToSchema)]
#[schema(as = LeadFields)]
#[allow(dead_code)]
pub struct LeadFieldsDoc {
    #[schema(example = "Anna")]
    first_name: String,
    last_name: String,
    #[schema(example = "anna@example.com")]
    email: String,
    company: String,
    title: String,
    phone: String,
    status: LeadStatusDoc,
    #[schema(example = json!(["vip"]))]
    tags: Vec<String>,
    notes: String,
    /// The lead's own IANA time zone, which sending hours follow; `null`:
    /// the organization's.
    #[schema(example = "Europe/Berlin")]
    time_zone: Option<String>,
}

/// A lead's status.
#[derive(utoipa::ToSchema)]
#[schema(as = LeadStatus)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum LeadStatusDoc {
    New,
    Contacted,
    Replied,
    Qualified,
    Lost,
}

/// One page of leads and the link to the next one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LeadPage {
    pub data: Vec<LeadOut>,
    pub next: Option<String>,
}

/// The list's query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Words found in name, email or company.
    #[serde(default)]
    q: String,
    /// One of `new`, `contacted`, `replied`, `qualified`, `lost`.
    #[serde(default)]
    status: String,
    /// Leads with this tag.
    #[serde(default)]
    tag: String,
    /// Leads per page, 1 to 100 (default 50).
    limit: Option<i64>,
    /// Where the page starts: take it from a `next` link.
    cursor: Option<String>,
}

/// A lead's fields as sent; on PATCH, absent fields keep their value.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadBody {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    company: Option<String>,
    title: Option<String>,
    phone: Option<String>,
    status: Option<String>,
    tags: Option<Vec<String>>,
    notes: Option<String>,
    /// An IANA time zone such as `Europe/Berlin`; `null` or `""` clears it
    /// (the organization's applies), absent keeps it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "Europe/Berlin")]
    time_zone: Option<Option<String>>,
}

/// A field that was sent, even as `null` (`Some(None)`), told apart from
/// one that was not sent at all (`None`, through `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl LeadBody {
    /// The page's input: `base` (a stored lead, or empty) with this body's
    /// fields put over it.
    fn over(self, base: Option<&LeadFields>) -> LeadInput {
        let keep = |new: Option<String>, old: Option<&String>| {
            new.or_else(|| old.cloned()).unwrap_or_default()
        };
        let old_tags = base.map(|b| b.tags.clone());
        LeadInput {
            first_name: keep(self.first_name, base.map(|b| &b.first_name)),
            last_name: keep(self.last_name, base.map(|b| &b.last_name)),
            email: keep(self.email, base.map(|b| &b.email)),
            company: keep(self.company, base.map(|b| &b.company)),
            title: keep(self.title, base.map(|b| &b.title)),
            phone: keep(self.phone, base.map(|b| &b.phone)),
            status: self
                .status
                .or_else(|| base.map(|b| b.status.as_str().to_string()))
                .unwrap_or_default(),
            tags: joined_tags(self.tags.or(old_tags).unwrap_or_default()),
            notes: keep(self.notes, base.map(|b| &b.notes)),
            time_zone: match self.time_zone {
                Some(sent) => sent.unwrap_or_default(),
                None => base.map(|b| b.time_zone.clone()).unwrap_or_default(),
            },
        }
    }
}

/// Tags as one string for `validate`; a tag holding the joining character
/// itself is refused rather than split.
fn joined_tags(tags: Vec<String>) -> String {
    tags.iter()
        .map(|t| t.replace(TAG_JOIN, "\u{0}"))
        .collect::<Vec<_>>()
        .join(&TAG_JOIN.to_string())
}

#[utoipa::path(get, path = "/api/v1/leads", tag = "leads",
    summary = "List leads",
    description = "Newest first, filtered like the leads page; `next` is the path of the next page (keyset cursor) or `null`.",
    params(ListQuery),
    responses((status = 200, description = "One page of leads.", body = LeadPage)))]
async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = page_size(query.limit)?;
    let filter = lead_filter(&query.q, &query.status, &query.tag)?;
    let after = cursor_after(query.cursor.as_deref())?;
    let (rows, more) = read(&state, &caller, move |conn, tenant| {
        leads::list(conn, tenant, &filter, after, limit)
    })
    .await?;
    let filters = [
        ("q", query.q.as_str()),
        ("status", &query.status),
        ("tag", &query.tag),
    ];
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|l| next_link("/api/v1/leads", &filters, limit, &l.cursor()));
    let data = rows.into_iter().map(LeadOut::from).collect();
    Ok(HttpResponse::Ok().json(LeadPage { data, next }))
}

#[utoipa::path(post, path = "/api/v1/leads", tag = "leads",
    summary = "Create a lead",
    description = "Validated like the lead form; counts against the plan's leads per month.",
    request_body = LeadBody,
    responses(
        (status = 201, description = "The lead as stored.", body = LeadOut,
            headers(("Location" = String, description = "The new lead's path."))),
        (status = 402, description = "The monthly leads limit is reached; nothing was created.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or a lead with this email exists.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json")))]
async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    body: web::Json<LeadBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant_for(Action::ManageLeads)?;
    let body = body.into_inner();
    let canonical = serde_json::to_vec(&body).unwrap_or_default();
    let fields = validate(&body.over(None), TAG_JOIN).map_err(|e| Problem::invalid(&e))?;
    let now = caller.now;
    once(&state, &caller, &req, &canonical, move |conn| {
        // A refused limit is an error: the whole transaction rolls back.
        Ok(
            match leads::create(conn, &tenant, &fields, LeadSource::Api, now)? {
                Ok(lead) => {
                    let location = format!("/api/v1/leads/{}", lead.id);
                    Ok(stored(
                        StatusCode::CREATED,
                        &LeadOut::from(lead),
                        Some(location),
                    )?)
                }
                Err(errors) => Err(Problem::invalid(&errors)),
            },
        )
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/leads/{id}", tag = "leads",
    summary = "Get a lead",
    params(("id" = LeadId, Path, description = "The lead's id.")),
    responses((status = 200, description = "The lead.", body = LeadOut)))]
async fn show(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<LeadId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let lead = read(&state, &caller, move |conn, tenant| {
        leads::find(conn, tenant, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(LeadOut::from(lead)))
}

#[utoipa::path(patch, path = "/api/v1/leads/{id}", tag = "leads",
    summary = "Change a lead",
    description = "Only the fields sent change; the result is validated like the lead form.",
    params(("id" = LeadId, Path, description = "The lead's id.")),
    request_body = LeadBody,
    responses(
        (status = 200, description = "The lead as stored now.", body = LeadOut),
        (status = 422, description = "Invalid fields; nothing changed.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json")))]
async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<LeadId>,
    body: web::Json<LeadBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant_for(Action::ManageLeads)?;
    let (id, now, body) = (id.into_inner(), caller.now, body.into_inner());
    let outcome = state
        .db
        .tx(move |conn| -> Result<_, AppError> {
            let current = leads::find(conn, &tenant, id)?;
            let fields = match validate(&body.over(Some(&current.fields)), TAG_JOIN) {
                Ok(fields) => fields,
                Err(errors) => return Ok(Err(errors)),
            };
            Ok(leads::update(conn, &tenant, id, &fields, now)?)
        })
        .await
        .map_err(Problem::from)?;
    let lead = outcome.map_err(|e| Problem::invalid(&e))?;
    Ok(HttpResponse::Ok().json(LeadOut::from(lead)))
}

#[utoipa::path(delete, path = "/api/v1/leads/{id}", tag = "leads",
    summary = "Delete a lead",
    description = "Deletes the lead with its messages and enrolments; audited.",
    params(("id" = LeadId, Path, description = "The lead's id.")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<LeadId>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant_for(Action::ManageLeads)?;
    let (id, now) = (id.into_inner(), caller.now);
    state
        .db
        .tx(move |conn| leads::delete(conn, &tenant, id, now))
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::NoContent().finish())
}
