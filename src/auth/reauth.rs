//! Re-entering the current password before a sensitive change (password,
//! address, account deletion). Wrong passwords count against the same limit
//! as sign-ins, per user, in a 15-minute window.

use actix_web::http::StatusCode;

use crate::auth::{limits, CurrentUser};
use crate::error::AppResult;
use crate::forms::FieldErrors;
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

/// Checks the signed-in user's current password. A slot of the limit is
/// reserved before the (expensive) verification and given back when the
/// password is right, so parallel wrong guesses cannot pass a stale count.
pub async fn reauthenticate(
    state: &AppState,
    user: &CurrentUser,
    candidate: String,
) -> AppResult<Reauth> {
    let bucket = format!("reauth:{}", user.id());
    let limit = state.config.login_attempts_per_window;
    let window = chrono::Duration::minutes(REAUTH_WINDOW_MINUTES);
    let slot = limits::Slot::new(bucket.clone(), limit, window);
    if !limits::reserve(state, vec![slot], user.now).await? {
        return Ok(Reauth::Locked);
    }
    let stored = user.session.user.password_hash.clone();
    if state.hasher.verify(candidate, Some(stored)).await? {
        limits::release(state, vec![bucket]).await?;
        return Ok(Reauth::Confirmed);
    }
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
