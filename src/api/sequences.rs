//! Sequences over the API, read only for now: the organization's own and
//! the global ones with their step counts and active enrolments, and one
//! sequence with its steps in order.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::api::auth::ApiCaller;
use crate::api::problem::{ApiResult, Problem};
use crate::api::resource;
use crate::db::sequences::{self, Sequence, StepView};
use crate::domain::roles::Action;
use crate::error::AppError;
use crate::ids::{SequenceId, StepId, TemplateId};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/sequences").route(web::get().to(list)))
        .service(resource("/sequences/{id}").route(web::get().to(show)));
}

/// A sequence as listed.
#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
pub struct StepOut {
    pub id: StepId,
    pub position: i32,
    pub delay_days: i32,
    pub template_id: TemplateId,
    pub template_name: String,
}

#[derive(Debug, Serialize)]
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

async fn list(state: web::Data<AppState>, caller: ApiCaller) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant_for(Action::ReadWorkspace)?;
    let rows = state
        .db
        .run(move |conn| sequences::list(conn, &tenant))
        .await
        .map_err(Problem::from)?;
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

async fn show(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<SequenceId>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant_for(Action::ReadWorkspace)?;
    let id = id.into_inner();
    let (seq, steps) = state
        .db
        .run(move |conn| -> Result<_, AppError> {
            let seq = sequences::find(conn, &tenant, id)?;
            let steps = sequences::steps(conn, &tenant, &seq)?;
            Ok((seq, steps))
        })
        .await
        .map_err(Problem::from)?;
    let body = SequenceOut {
        steps: Some(steps.into_iter().map(step_out).collect()),
        ..out(seq)
    };
    Ok(HttpResponse::Ok().json(body))
}
