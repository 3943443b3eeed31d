//! The account page and what its forms share: loading the page, answering
//! a card's form (fragment, page or redirect), re-entering the current
//! password before a sensitive change, rate limits, and queuing account mail
//! in the transaction of the change that causes it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::PgConnection;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{password, CurrentUser};
use crate::db::account_tokens::{self, Purpose};
use crate::db::outbox::{self, MailKind, OutgoingMail};
use crate::db::{account_deletion, accounts, rate_limit, sessions};
use crate::error::AppResult;
use crate::forms::{self, FieldErrors};
use crate::ids::UserId;
use crate::routes::{fragment, see_other_with_flash, user_page, wants_fragment};
use crate::views::account::{self as view, AccountData, Card, Outcome};
use crate::views::account_mail::{self, MailText};
use crate::views::layout::Nav;

route_table! {
    GET "/account" => show,
    POST "/account" => update_name,
}

/// Window of the re-authentication limit (wrong current passwords).
const REAUTH_WINDOW_MINUTES: i64 = 15;

async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let data = load(&state, user.id()).await?;
    let body = view::body(&data, &user.csrf, None);
    user_page(&state, &user, &req, Nav::Account, "Your account", body).await
}

/// Everything the account page shows, fresh from the database.
async fn load(state: &AppState, user: UserId) -> AppResult<AccountData> {
    let idle = idle_timeout(state);
    state
        .db
        .run(move |conn| -> AppResult<_> {
            Ok(AccountData {
                user: accounts::find(conn, user)?,
                pending_email: account_tokens::pending_email_change(conn, user)?,
                deletion: account_deletion::plan(conn, user)?,
                live_sessions: sessions::list_live(conn, user, idle)?.len(),
            })
        })
        .await
}

pub(crate) fn idle_timeout(state: &AppState) -> chrono::Duration {
    chrono::Duration::from_std(state.config.session_idle).unwrap_or(chrono::Duration::hours(2))
}

/// Answers a card's form: the card (HTMX), the page with the errors, or a
/// redirect to the page with the confirmation.
pub(crate) async fn respond(
    state: &AppState,
    user: &CurrentUser,
    req: &HttpRequest,
    outcome: Outcome,
    error_status: StatusCode,
) -> AppResult<HttpResponse> {
    let data = load(state, user.id()).await?;
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

#[derive(Debug, Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

async fn update_name(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    form: web::Form<NameForm>,
) -> AppResult<HttpResponse> {
    let checked = forms::text(&form.name, "Name", 1, 100)
        .and_then(|n| forms::no_markup(&n, "Name").map(|_| n));
    let name = match checked {
        Ok(n) => n,
        Err(e) => {
            let mut errors = FieldErrors::new();
            errors.add("name", e);
            let outcome = Outcome::failed(Card::Profile, errors, &form.name);
            return respond(
                &state,
                &user,
                &req,
                outcome,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let id = user.id();
    state
        .db
        .run(move |conn| accounts::set_name(conn, id, &name))
        .await?;
    let outcome = Outcome::done(Card::Profile, "Your name is saved.");
    respond(&state, &user, &req, outcome, StatusCode::OK).await
}

/// How a re-entered current password turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reauth {
    Confirmed,
    Wrong,
    /// Too many wrong passwords lately; not even checked.
    Locked,
}

/// Checks the signed-in user's current password before a sensitive change.
/// Wrong passwords count against the same limit as sign-ins.
pub(crate) async fn reauthenticate(
    state: &AppState,
    user: &CurrentUser,
    candidate: String,
) -> AppResult<Reauth> {
    let bucket = format!("reauth:{}", user.id());
    let limit = state.config.login_attempts_per_window;
    let window = chrono::Duration::minutes(REAUTH_WINDOW_MINUTES);
    let checked = bucket.clone();
    let used = state
        .db
        .run(move |conn| rate_limit::current(conn, &checked, window))
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
        .run(move |conn| rate_limit::hit(conn, &bucket, window))
        .await?;
    Ok(Reauth::Wrong)
}

/// The field error for a failed re-authentication, and its status.
pub(crate) fn reauth_error(result: Reauth, field: &str) -> (FieldErrors, StatusCode) {
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

/// Counts one request in each bucket; true when any is over `limit`.
pub(crate) async fn over_limit(
    state: &AppState,
    buckets: Vec<String>,
    limit: i32,
    window: chrono::Duration,
) -> AppResult<bool> {
    state
        .db
        .run(move |conn| -> AppResult<_> {
            let mut over = false;
            for bucket in &buckets {
                over |= rate_limit::hit(conn, bucket, window)? > limit;
            }
            Ok(over)
        })
        .await
}

/// Issues a verification token for `email` and queues the link (used at
/// sign-up, inside its transaction, and by "resend").
pub(crate) fn send_verification(
    conn: &mut PgConnection,
    public_url: &str,
    user: UserId,
    name: &str,
    email: &str,
) -> diesel::QueryResult<()> {
    let token = account_tokens::issue(conn, user, Purpose::VerifyEmail, Some(email))?;
    send(
        conn,
        email,
        account_mail::verify_email(public_url, name, &token),
    )
}

/// Queues one account email (no organization).
pub(crate) fn send(conn: &mut PgConnection, to: &str, text: MailText) -> diesel::QueryResult<()> {
    outbox::enqueue(
        conn,
        &OutgoingMail {
            kind: MailKind::Account,
            org: None,
            message: None,
            to,
            subject: &text.subject,
            body: &text.body,
        },
    )?;
    Ok(())
}
