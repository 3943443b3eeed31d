//! The user's own sessions: list them, end one, end all others. A session
//! id of another user matches nothing (404), exactly like a missing one;
//! ending a session deletes its row, so its cookie stops working at once.

use actix_session::Session;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::session::{self as auth_session, idle_timeout};
use crate::auth::CurrentUser;
use crate::db::sessions;
use crate::error::{AppError, AppResult};
use crate::ids::SessionId;
use crate::routes::{fragment, redirect, see_other_with_flash, user_page, wants_fragment};
use crate::state::AppState;
use crate::views::layout::Nav;
use crate::views::sessions as view;

route_table! {
    GET "/account/sessions" => index,
    POST "/account/sessions/end-others" => end_others,
    POST "/account/sessions/{id}/end" => end_one,
}

async fn list(state: &AppState, user: &CurrentUser) -> AppResult<Vec<sessions::SessionRow>> {
    let (id, idle, now) = (user.id(), idle_timeout(&state.config), user.now);
    state
        .db
        .run(move |conn| sessions::list_live(conn, id, idle, now))
        .await
        .map_err(AppError::from)
}

async fn index(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let rows = list(&state, &user).await?;
    let current = user.session.session_id;
    let body = view::body(&rows, current, &user.csrf, user.now);
    user_page(&state, &user, &req, Nav::Sessions, "Sessions", body).await
}

/// The list after a change: the card with a confirmation (HTMX) or a redirect.
async fn changed(
    state: &AppState,
    user: &CurrentUser,
    req: &HttpRequest,
    text: &str,
) -> AppResult<HttpResponse> {
    if !wants_fragment(req) {
        return Ok(see_other_with_flash("/account/sessions", text));
    }
    let rows = list(state, user).await?;
    let current = user.session.session_id;
    Ok(fragment(view::card_with_flash(
        &rows, current, &user.csrf, text, user.now,
    )))
}

async fn end_one(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    session: Session,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let target = SessionId(id.into_inner());
    let owner = user.id();
    let ended = state
        .db
        .run(move |conn| sessions::delete_own(conn, owner, target))
        .await?;
    if ended == 0 {
        return Err(AppError::NotFound);
    }
    if target == user.session.session_id {
        // Ending this very session is signing out.
        auth_session::end(&session);
        return Ok(redirect(&req, "/login"));
    }
    changed(&state, &user, &req, "That session is signed out.").await
}

async fn end_others(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let (owner, keep) = (user.id(), user.session.session_id);
    let ended = state
        .db
        .run(move |conn| sessions::delete_others(conn, owner, Some(keep)))
        .await?;
    let text = match ended {
        0 => "There was no other session to sign out.".to_string(),
        1 => "1 other session is signed out.".to_string(),
        n => format!("{n} other sessions are signed out."),
    };
    changed(&state, &user, &req, &text).await
}
