//! Enrolments: enrol selected leads in a sequence (from the lead list or a
//! lead's page), pause and resume. Needs `can_send_messages`; leads and
//! enrolments of other organizations match nothing.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::CurrentOrg;
use crate::db::{enrollments, sequences};
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::ids::{EnrollmentId, SequenceId};
use crate::routes::see_other_with_flash;
use crate::routes::sequences::parse_id;

route_table! {
    POST "/sequences/enrol" => enrol,
    POST "/enrollments/{id}/pause" => pause,
    POST "/enrollments/{id}/resume" => resume,
}

/// Where to return after enrolling or pausing: a lead or sequence page, or the lead list.
fn return_to(fields: &[(String, String)], fallback: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == "return_to")
        .map(|(_, v)| v.clone())
        .filter(|v| {
            (v.starts_with("/leads") || v.starts_with("/sequences/"))
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/-".contains(c))
        })
        .unwrap_or_else(|| fallback.to_string())
}

/// Enrols the selected leads (repeated `lead_id` fields) in a sequence.
async fn enrol(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    cur.require(Action::SendMessages)?;
    // Enrolling sends messages in the enrolling user's name.
    cur.require_verified_email()?;
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let value = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let seq: SequenceId = parse_id(value("sequence_id").unwrap_or(""))?;
    let leads: Vec<Uuid> = fields
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
            enrollments::enrol(conn, &tenant, &seq, &leads, Utc::now())
        })
        .await?;
    let mut message = format!(
        "Enrolled {added} lead{}.",
        if added == 1 { "" } else { "s" }
    );
    if already > 0 {
        message.push_str(&format!(" {already} already enrolled."));
    }
    Ok(see_other_with_flash(&back, &message))
}

async fn set_paused(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    path: web::Path<String>,
    body: web::Bytes,
    paused: bool,
) -> AppResult<HttpResponse> {
    cur.require(Action::SendMessages)?;
    let id: EnrollmentId = parse_id(&path)?;
    let tenant = cur.tenant();
    let e = state
        .db
        .tx(move |conn| enrollments::set_paused(conn, &tenant, id, paused))
        .await?;
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let back = return_to(&fields, &format!("/leads/{}", e.lead_id));
    Ok(see_other_with_flash(
        &back,
        if paused {
            "Enrolment paused."
        } else {
            "Enrolment resumed."
        },
    ))
}

async fn pause(
    s: web::Data<AppState>,
    c: CurrentOrg,
    p: web::Path<String>,
    b: web::Bytes,
) -> AppResult<HttpResponse> {
    set_paused(s, c, p, b, true).await
}

async fn resume(
    s: web::Data<AppState>,
    c: CurrentOrg,
    p: web::Path<String>,
    b: web::Bytes,
) -> AppResult<HttpResponse> {
    set_paused(s, c, p, b, false).await
}
