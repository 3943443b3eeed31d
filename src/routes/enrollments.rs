//! Enrolments: enrol selected leads in a sequence (from the lead list or a
//! lead's page), pause and resume. Needs `can_send_messages`; leads and
//! enrolments of other organizations match nothing.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentOrg;
use crate::db::{enrollments, sequences};
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::ids::{EnrollmentId, LeadId, SequenceId};
use crate::routes::{form_id, redirect_with_flash};
use crate::state::AppState;

route_table! {
    POST "/sequences/enrol" => enrol,
    POST "/enrollments/{id}/pause" => set_paused::<true>,
    POST "/enrollments/{id}/resume" => set_paused::<false>,
}

/// Where to return after enrolling or pausing: a lead or sequence page, or the lead list.
fn return_to(fields: &[(String, String)], fallback: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == "return_to")
        .map(|(_, v)| v.clone())
        .filter(|v| {
            crate::forms::local_path(v).is_some()
                && (v.starts_with("/leads") || v.starts_with("/sequences/"))
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/-".contains(c))
        })
        .unwrap_or_else(|| fallback.to_string())
}

/// Enrols the selected leads (repeated `lead_id` fields) in a sequence.
async fn enrol(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    cur.require(Action::SendMessages)?;
    let now = cur.now();
    // Enrolling sends messages in the enrolling user's name.
    cur.require_verified_email()?;
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let value = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let seq: SequenceId = form_id(value("sequence_id").unwrap_or(""))?;
    let leads: Vec<LeadId> = fields
        .iter()
        .filter(|(k, _)| k == "lead_id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let back = return_to(&fields, "/leads");
    if leads.is_empty() {
        return Err(AppError::validation("Select at least one lead to enrol."));
    }
    let tenant = cur.tenant();
    let (added, already) = state
        .db
        .tx(move |conn| {
            let seq = sequences::find(conn, &tenant, seq)?;
            enrollments::enrol(conn, &tenant, &seq, &leads, now)
        })
        .await?;
    let mut message = format!(
        "Enrolled {added} lead{}.",
        if added == 1 { "" } else { "s" }
    );
    if already > 0 {
        message.push_str(&format!(" {already} already enrolled."));
    }
    Ok(redirect_with_flash(&req, &back, &message))
}

/// Pauses (`PAUSED`) or resumes an enrolment.
async fn set_paused<const PAUSED: bool>(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<EnrollmentId>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    let paused = PAUSED;
    let tenant = cur.tenant_for(Action::SendMessages)?;
    if !paused {
        // Resuming may send the remaining steps in the resumer's name.
        cur.require_verified_email()?;
    }
    let id = path.into_inner();
    let e = state
        .db
        .tx(move |conn| enrollments::set_paused(conn, &tenant, id, paused, now))
        .await?;
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let back = return_to(&fields, &format!("/leads/{}", e.lead_id));
    Ok(redirect_with_flash(
        &req,
        &back,
        if paused {
            "Enrolment paused."
        } else {
            "Enrolment resumed."
        },
    ))
}
