//! How the account page's cards answer a form: the card (HTMX), the page with
//! the errors, or a redirect to the page with the confirmation. Shared by the
//! account routes (name, address, password, deletion); it declares no routes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::session::idle_timeout;
use crate::auth::CurrentUser;
use crate::db::{account_deletion, account_tokens, accounts, sessions};
use crate::error::AppResult;
use crate::forms::FieldErrors;
use crate::ids::UserId;
use crate::routes::{fragment, see_other_with_flash, user_page, wants_fragment};
use crate::state::AppState;
use crate::views::account::{self as view, AccountData, Card, Outcome};
use crate::views::layout::Nav;

/// Everything the account page shows, fresh from the database.
pub async fn load(
    state: &AppState,
    user: UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<AccountData> {
    let idle = idle_timeout(&state.config);
    state
        .db
        .run(move |conn| -> AppResult<_> {
            Ok(AccountData {
                user: accounts::find(conn, user)?,
                pending_email: account_tokens::pending_email_change(conn, user, now)?,
                deletion: account_deletion::plan(conn, user)?,
                live_sessions: sessions::list_live(conn, user, idle, now)?.len(),
            })
        })
        .await
}

/// Why a form was refused: the errors to show, and the status.
pub type Refusal = (FieldErrors, StatusCode);

/// The request a card answers: who sent which form.
pub struct Answer<'a> {
    pub state: &'a AppState,
    pub user: &'a CurrentUser,
    pub req: &'a HttpRequest,
}

impl<'a> Answer<'a> {
    pub fn new(state: &'a AppState, user: &'a CurrentUser, req: &'a HttpRequest) -> Answer<'a> {
        Answer { state, user, req }
    }

    /// Answers with `outcome`; `error_status` when it carries errors.
    pub async fn with(
        &self,
        outcome: Outcome,
        error_status: StatusCode,
    ) -> AppResult<HttpResponse> {
        let (state, user, req) = (self.state, self.user, self.req);
        let data = load(state, user.id(), user.now).await?;
        let failed = !outcome.errors.is_empty();
        if wants_fragment(req) {
            let mut res = fragment(view::card(&data, &user.csrf, &outcome));
            if failed {
                *res.status_mut() = error_status;
            }
            return Ok(res);
        }
        if failed {
            let body = view::body(&data, &user.csrf, Some(&outcome));
            let mut res = user_page(state, user, req, Nav::Account, "Your account", body).await?;
            *res.status_mut() = error_status;
            return Ok(res);
        }
        let text = outcome.notice.as_deref().unwrap_or("Saved.");
        Ok(see_other_with_flash("/account", text))
    }

    /// The change is done: `notice` in `card`.
    pub async fn done(&self, card: Card, notice: &str) -> AppResult<HttpResponse> {
        self.with(Outcome::done(card, notice), StatusCode::OK).await
    }

    /// The form was refused with `errors` (the typed value is not kept).
    pub async fn refused(&self, card: Card, (errors, status): Refusal) -> AppResult<HttpResponse> {
        self.with(Outcome::failed(card, errors, ""), status).await
    }
}

/// One error on `field`, with `status`.
pub fn one_error(field: &str, message: &str, status: StatusCode) -> Refusal {
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    (errors, status)
}
