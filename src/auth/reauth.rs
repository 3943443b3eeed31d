//! Re-entering the current password before a sensitive change (password,
//! address, account deletion). Wrong passwords count against the same limit
//! as sign-ins, per user, in a 15-minute window.

use actix_web::http::StatusCode;
use actix_web::web;

use crate::auth::CurrentUser;
use crate::db::rate_limit;
use crate::error::AppResult;
use crate::forms::FieldErrors;
use crate::password;
use crate::state::AppState;

/// Window of the re-authentication limit (wrong current passwords).
const REAUTH_WINDOW_MINUTES: i64 = 15;

/// How a re-entered current password turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reauth {
    Confirmed,
    Wrong,
    /// Too many wrong passwords lately; not even checked.
    Locked,
}

/// Checks the signed-in user's current password.
pub async fn reauthenticate(
    state: &AppState,
    user: &CurrentUser,
    candidate: String,
) -> AppResult<Reauth> {
    let bucket = format!("reauth:{}", user.id());
    let limit = state.config.login_attempts_per_window;
    let window = chrono::Duration::minutes(REAUTH_WINDOW_MINUTES);
    let checked = bucket.clone();
    let now = user.now;
    let used = state
        .db
        .run(move |conn| rate_limit::current(conn, &checked, window, now))
        .await?;
    if used >= limit {
        return Ok(Reauth::Locked);
    }
    let stored = user.session.user.password_hash.clone();
    if web::block(move || password::verify(&candidate, &stored)).await? {
        return Ok(Reauth::Confirmed);
    }
    state
        .db
        .run(move |conn| rate_limit::hit(conn, &bucket, window, now))
        .await?;
    Ok(Reauth::Wrong)
}

/// The field error for a failed re-authentication (on `field`), and its status.
pub fn refusal(result: Reauth, field: &str) -> (FieldErrors, StatusCode) {
    let mut errors = FieldErrors::new();
    match result {
        Reauth::Locked => {
            errors.add(
                "_form",
                "Too many wrong passwords. Please wait 15 minutes and try again.",
            );
            (errors, StatusCode::TOO_MANY_REQUESTS)
        }
        _ => {
            errors.add(field, "This is not your current password.");
            (errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// `Ok` when `candidate` is the current password, else the refusal for `field`.
pub async fn confirm(
    state: &AppState,
    user: &CurrentUser,
    candidate: String,
    field: &str,
) -> AppResult<Result<(), (FieldErrors, StatusCode)>> {
    Ok(match reauthenticate(state, user, candidate).await? {
        Reauth::Confirmed => Ok(()),
        failed => Err(refusal(failed, field)),
    })
}
