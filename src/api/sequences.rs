//! Sequences over the API: the organization's own and the global ones with
//! their step counts and active enrolments, one sequence with its steps in
//! order, and enrolling leads (as the page does, in the name of the key's
//! creator, who the sequence worker re-checks before every step).

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::auth::ApiCaller;
use crate::api::idempotency::{once, stored};
use crate::api::messages::sender;
use crate::api::problem::{ApiResult, Problem};
use crate::api::{read, resource};
use crate::db::sequences::{self, Sequence, StepView};
use crate::db::{enrollments, leads};
use crate::domain::roles::Action;
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::ids::{LeadId, SequenceId, StepId, TemplateId};
use crate::state::AppState;

/// Most leads one enrolment call may name.
pub const MAX_ENROL: usize = 1_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/sequences").route(web::get().to(list)))
        .service(resource("/sequences/{id}").route(web::get().to(show)))
        .service(resource("/sequences/{id}/enrollments").route(web::post().to(enrol)));
}

/// A sequence as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SequenceOut {
    pub id: SequenceId,
    pub name: String,
    /// Provided to every organization; read-only.
    pub global: bool,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_enrollments: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepOut>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StepOut {
    pub id: StepId,
    pub position: i32,
    pub delay_days: i32,
    pub template_id: TemplateId,
    pub template_name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SequenceList {
    pub data: Vec<SequenceOut>,
}

fn out(s: Sequence) -> SequenceOut {
    SequenceOut {
        global: s.is_global(),
        id: s.id,
        name: s.name,
        created_at: s.created_at,
        step_count: None,
        active_enrollments: None,
        steps: None,
    }
}

fn step_out(s: StepView) -> StepOut {
    StepOut {
        id: s.id,
        position: s.position,
        delay_days: s.delay_days,
        template_id: s.template_id,
        template_name: s.template_name,
    }
}

#[utoipa::path(get, path = "/api/v1/sequences", tag = "sequences",
    summary = "List sequences",
    description = "The organization's own sequences and the global ones, with `step_count` and `active_enrollments`.",
    responses((status = 200, description = "Every sequence.", body = SequenceList)))]
async fn list(state: web::Data<AppState>, caller: ApiCaller) -> ApiResult<HttpResponse> {
    let rows = read(&state, &caller, sequences::list).await?;
    let data = rows
        .into_iter()
        .map(|summary| SequenceOut {
            step_count: Some(summary.steps),
            active_enrollments: Some(summary.active),
            ..out(summary.sequence)
        })
        .collect();
    Ok(HttpResponse::Ok().json(SequenceList { data }))
}

#[utoipa::path(get, path = "/api/v1/sequences/{id}", tag = "sequences",
    summary = "Get a sequence with its steps",
    params(("id" = SequenceId, Path, description = "The sequence's id.")),
    responses((status = 200, description = "The sequence with `steps` in order.", body = SequenceOut)))]
async fn show(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<SequenceId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (seq, steps) = read(
        &state,
        &caller,
        move |conn, tenant| -> Result<_, AppError> {
            let seq = sequences::find(conn, tenant, id)?;
            let steps = sequences::steps(conn, tenant, &seq)?;
            Ok((seq, steps))
        },
    )
    .await?;
    let body = SequenceOut {
        steps: Some(steps.into_iter().map(step_out).collect()),
        ..out(seq)
    };
    Ok(HttpResponse::Ok().json(body))
}

/// The leads to enrol.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolBody {
    lead_ids: Vec<LeadId>,
}

/// What an enrolment call did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrolOut {
    pub sequence_id: SequenceId,
    /// Leads enrolled by this call.
    pub enrolled: usize,
    /// Leads that were already enrolled in this sequence (left as they are).
    pub already_enrolled: usize,
}

/// The distinct ids of a body, or the 422 that says what is wrong with it.
fn lead_ids(body: &EnrolBody) -> ApiResult<Vec<LeadId>> {
    let ids: BTreeSet<LeadId> = body.lead_ids.iter().copied().collect();
    let mut errors = FieldErrors::new();
    if ids.is_empty() {
        errors.add("lead_ids", "Name at least one lead to enrol.");
    } else if body.lead_ids.len() > MAX_ENROL {
        errors.add(
            "lead_ids",
            format!("At most {MAX_ENROL} leads can be enrolled in one call."),
        );
    }
    if !errors.is_empty() {
        return Err(Problem::invalid(&errors));
    }
    Ok(ids.into_iter().collect())
}

/// Enrols leads in a sequence (own or global). Every id must be a lead of
/// the organization, or nothing is enrolled (422 naming the others).
#[utoipa::path(post, path = "/api/v1/sequences/{id}/enrollments", tag = "sequences",
    summary = "Enrol leads in a sequence",
    description = "Enrols each lead once (leads already enrolled stay as they are). The steps are sent in the name of the member who created the key, who must still be allowed to send messages (403 otherwise, here and before every step). A sequence without steps is a 400.",
    params(("id" = SequenceId, Path, description = "The sequence's id (own or global).")),
    request_body = EnrolBody,
    responses(
        (status = 200, description = "How many leads were enrolled.", body = EnrolOut),
        (status = 422, description = "No ids, too many, or ids that are not leads of this organization; nothing was enrolled.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json")))]
async fn enrol(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    id: web::Path<SequenceId>,
    body: web::Json<EnrolBody>,
) -> ApiResult<HttpResponse> {
    caller.tenant_for(Action::SendMessages)?;
    let (id, body) = (id.into_inner(), body.into_inner());
    let ids = lead_ids(&body)?;
    let canonical = serde_json::to_vec(&body).unwrap_or_default();
    let (who, now) = (caller.clone(), caller.now);
    once(&state, &caller, &req, &canonical, move |conn| {
        let tenant = match sender(conn, &who)? {
            Ok(tenant) => tenant,
            Err(refused) => return Ok(Err(refused)),
        };
        let seq = sequences::find(conn, &tenant, id)?;
        let found: BTreeSet<LeadId> = leads::find_many(conn, &tenant, &ids)?
            .into_iter()
            .map(|l| l.id)
            .collect();
        let unknown: Vec<String> = ids
            .iter()
            .filter(|i| !found.contains(i))
            .map(|i| i.to_string())
            .collect();
        if !unknown.is_empty() {
            let mut errors = FieldErrors::new();
            let message = format!(
                "Not leads of this organization: {}. Nothing was enrolled.",
                unknown.join(", ")
            );
            errors.add("lead_ids", message);
            return Ok(Err(Problem::invalid(&errors)));
        }
        let (enrolled, already_enrolled) = enrollments::enrol(conn, &tenant, &seq, &ids, now)?;
        let out = EnrolOut {
            sequence_id: seq.id,
            enrolled,
            already_enrolled,
        };
        Ok(Ok(stored(StatusCode::OK, &out, None)?))
    })
    .await
}
