//! `GET /dev/outbox`: the development view of outgoing mail. It exists only
//! while no SMTP server is configured, and shows a signed-in user only mail
//! addressed to their *confirmed* address and message mail of their current
//! organization: anyone can open an account with someone else's address, and
//! must not read that person's invitations or links here.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentUser;
use crate::db::outbox;
use crate::error::{AppError, AppResult};
use crate::routes::user_page;
use crate::state::AppState;
use crate::views::layout::Nav;

route_table! {
    GET "/dev/outbox" => index,
}

async fn index(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    if state.config.smtp_url.is_some() {
        return Err(AppError::NotFound);
    }
    let account = &user.session.user;
    let email = account
        .email_verified_at
        .is_some()
        .then(|| account.email.clone());
    let tenant = user.session.org.as_ref().map(|o| o.tenant);
    let tz = user
        .session
        .org
        .as_ref()
        .map(|o| o.org.tz())
        .unwrap_or(chrono_tz::UTC);
    let mails = state
        .db
        .run(move |conn| outbox::visible_to(conn, email.as_deref(), tenant.as_ref(), 100))
        .await?;
    let body = crate::views::outbox::page(&mails, tz);
    user_page(&state, &user, &req, Nav::None, "Outbox", body).await
}
