//! Passwords: change (current password required; every other session ends
//! and the current one is renewed), and forgotten-password reset by a
//! single-use one-hour link. "Forgot password" answers the same, in about
//! the same time, whether or not the address has an account.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Utc};

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::limits::{self, RESETS_PER_EMAIL, RESETS_PER_IP, RESET_SUBMITS_PER_LINK};
use crate::auth::reauth;
use crate::auth::session as auth_session;
use crate::auth::{CurrentUser, MaybeUser};
use crate::db::account_tokens::{self, Purpose};
use crate::db::models::User;
use crate::db::{accounts, orgs, rate_limit, sessions};
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::mail::{account as mail, queue_account};
use crate::password;
use crate::routes::shared::account_card::{one_error, Answer};
use crate::routes::shared::link_token::LinkToken;
use crate::routes::{client_info, client_ip, html_response, see_other};
use crate::state::AppState;
use crate::tokens;
use crate::views::account::Card;
use crate::views::password as view;

route_table! {
    POST "/account/password" => change,
    GET "/password/forgot" => forgot_form,
    POST "/password/forgot" => forgot,
    GET "/password/forgot/sent" => forgot_sent,
    GET "/password/reset/{token}" => reset_form,
    POST "/password/reset/{token}" => reset,
}

/// Every "forgot password" answer takes at least this long, so the time
/// does not tell whether mail was queued.
const FORGOT_MIN_DURATION: StdDuration = StdDuration::from_millis(300);

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

fn validate_change(form: &ChangeForm) -> FieldErrors {
    let mut errors = FieldErrors::new();
    if form.current_password.is_empty() {
        errors.add("current_password", "Enter your current password.");
    }
    if let Some(e) = password::validate_new(&form.new_password) {
        errors.add("new_password", e);
    } else if form.new_password == form.current_password {
        errors.add(
            "new_password",
            "Choose a password different from the current one.",
        );
    }
    errors
}

async fn change(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    session: Session,
    form: web::Form<ChangeForm>,
) -> AppResult<HttpResponse> {
    let now = user.now;
    let answer = Answer::new(&state, &user, &req);
    let form = form.into_inner();
    let errors = validate_change(&form);
    if !errors.is_empty() {
        let refusal = (errors, StatusCode::UNPROCESSABLE_ENTITY);
        return answer.refused(Card::Password, refusal).await;
    }
    let candidate = form.current_password;
    if let Err(refusal) = reauth::confirm(&state, &user, candidate, "current_password").await? {
        return answer.refused(Card::Password, refusal).await;
    }
    let hash = state.hasher.hash(form.new_password).await?;
    let id = user.id();
    let org = user.session.org.as_ref().map(|o| o.tenant.org_id());
    let (client, lifetime) = (client_info(&req), auth_session::lifetime(&state.config)?);
    let csrf = user.csrf.clone();
    let public_url = state.config.public_url.clone();
    let token = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let account = accounts::find(conn, id)?;
            store_password(conn, &account, &hash, &public_url, now)?;
            // This browser stays signed in, under a new session id and token.
            Ok(sessions::renew(
                conn,
                None,
                id,
                &client,
                lifetime,
                Some(&csrf),
                now,
            )?)
        })
        .await?;
    auth_session::begin(&session, token, id, org)?;
    let notice = "Your password is changed. Every other session was signed out.";
    answer.done(Card::Password, notice).await
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

async fn forgot_form(who: MaybeUser, req: HttpRequest) -> AppResult<HttpResponse> {
    Ok(html_response(
        &req,
        view::forgot_page(&who.csrf, "", &FieldErrors::new()),
    ))
}

async fn forgot_sent(req: HttpRequest) -> AppResult<HttpResponse> {
    Ok(html_response(&req, view::sent_page()))
}

/// The forgot form again, with `errors`, as card (HTMX) or page.
fn forgot_again(
    who: &MaybeUser,
    req: &HttpRequest,
    email: &str,
    (errors, status): (FieldErrors, StatusCode),
) -> HttpResponse {
    let markup = if crate::routes::wants_fragment(req) {
        view::forgot_card(&who.csrf, email, &errors)
    } else {
        view::forgot_page(&who.csrf, email, &errors)
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

async fn forgot(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    form: web::Form<ForgotForm>,
) -> AppResult<HttpResponse> {
    let now = who.now;
    let started = Instant::now();
    let email = match forms::email(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let refusal = one_error("email", &e, StatusCode::UNPROCESSABLE_ENTITY);
            return Ok(forgot_again(&who, &req, &form.email, refusal));
        }
    };
    if reset_rate_limited(&state, &email, &client_ip(&req), now).await? {
        let message = "Too many reset requests. Please check your inbox, or try again in an hour.";
        let refusal = one_error("_form", message, StatusCode::TOO_MANY_REQUESTS);
        return Ok(forgot_again(&who, &req, &email, refusal));
    }
    let public_url = state.config.public_url.clone();
    state
        .db
        .tx(move |conn| send_reset_link(conn, &public_url, &email, now))
        .await?;
    if let Some(rest) = FORGOT_MIN_DURATION.checked_sub(started.elapsed()) {
        actix_web::rt::time::sleep(rest).await;
    }
    if crate::routes::wants_fragment(&req) {
        return Ok(crate::routes::fragment(view::sent_card()));
    }
    Ok(see_other("/password/forgot/sent"))
}

/// Counts the request per address and per network address.
async fn reset_rate_limited(
    state: &AppState,
    email: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let email_over = RESETS_PER_EMAIL.exceeded(state, email, now).await?;
    let ip_over = RESETS_PER_IP.exceeded(state, ip, now).await?;
    Ok(email_over || ip_over)
}

/// Queues a reset link when `email` has an account. An unknown address
/// costs the same token and text work, so both take about as long.
fn send_reset_link(
    conn: &mut diesel::PgConnection,
    public_url: &str,
    email: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    match accounts::find_by_email(conn, email)? {
        Some(user) => {
            let token =
                account_tokens::issue(conn, user.id, Purpose::PasswordReset, Some(email), now)?;
            queue_account(
                conn,
                email,
                mail::password_reset(public_url, &user.name, &token),
                now,
            )
        }
        None => {
            let token = tokens::random_token();
            let _ = tokens::hash(&token);
            let _ = mail::password_reset(public_url, "", &token);
            Ok(())
        }
    }
}

fn reset_link_invalid(req: &HttpRequest) -> HttpResponse {
    let markup =
        view::link_invalid_page("password reset", "/password/forgot", "Ask for a new link");
    let mut res = html_response(req, markup);
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// The address a live reset token belongs to.
async fn reset_target(
    state: &AppState,
    token: String,
    now: DateTime<Utc>,
) -> AppResult<Option<String>> {
    state
        .db
        .run(move |conn| -> AppResult<_> {
            let Some(found) = account_tokens::check(conn, &token, Purpose::PasswordReset, now)?
            else {
                return Ok(None);
            };
            Ok(Some(accounts::find(conn, found.user)?.email))
        })
        .await
}

async fn reset_form(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    LinkToken(token): LinkToken,
) -> AppResult<HttpResponse> {
    let Some(email) = reset_target(&state, token.clone(), who.now).await? else {
        return Ok(reset_link_invalid(&req));
    };
    let page = view::reset_page(&who.csrf, &token, &email, &FieldErrors::new());
    Ok(html_response(&req, page))
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
}

async fn reset(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    session: Session,
    LinkToken(token): LinkToken,
    form: web::Form<ResetForm>,
) -> AppResult<HttpResponse> {
    let now = who.now;
    if let Some(problem) = password::validate_new(&form.password) {
        return reset_form_again(&state, &who, &req, token, &problem).await;
    }
    // The link is looked up, and a slot of its limit taken, before the
    // (expensive) hash: a made-up link costs one indexed query.
    if reset_target(&state, token.clone(), now).await?.is_none() {
        return Ok(reset_link_invalid(&req));
    }
    let slot = RESET_SUBMITS_PER_LINK.slot(&hex::encode(tokens::hash(&token)));
    if !limits::reserve(&state, vec![slot], now).await? {
        return Err(AppError::TooManyRequests);
    }
    let hash = state.hasher.hash(form.into_inner().password).await?;
    let previous = who.session.as_ref().map(|s| s.session_id);
    let (client, lifetime) = (client_info(&req), auth_session::lifetime(&state.config)?);
    let public_url = state.config.public_url.clone();
    let started = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let Some(found) = account_tokens::redeem(conn, &token, Purpose::PasswordReset, now)?
            else {
                return Ok(None);
            };
            let account = accounts::find(conn, found.user)?;
            let id = account.id;
            store_password(conn, &account, &hash, &public_url, now)?;
            // The link proved control of the mailbox it was sent to.
            if let Some(sent_to) = &found.email {
                accounts::mark_verified(conn, id, sent_to, now)?;
            }
            rate_limit::clear(conn, &format!("login:account:{}", account.email))?;
            let org = orgs::first_org_at_sign_in(conn, id)?;
            let token = sessions::renew(conn, previous, id, &client, lifetime, None, now)?;
            Ok(Some((token, id, org)))
        })
        .await?;
    let Some((token, user, org)) = started else {
        return Ok(reset_link_invalid(&req));
    };
    auth_session::begin(&session, token, user, org)?;
    Ok(crate::routes::redirect_with_flash(
        &req,
        "/dashboard",
        "Your new password is saved. Every other session was signed out.",
    ))
}

/// The reset form with the problem of the password it was sent.
async fn reset_form_again(
    state: &AppState,
    who: &MaybeUser,
    req: &HttpRequest,
    token: String,
    problem: &str,
) -> AppResult<HttpResponse> {
    let Some(email) = reset_target(state, token.clone(), who.now).await? else {
        return Ok(reset_link_invalid(req));
    };
    let mut errors = FieldErrors::new();
    errors.add("password", problem);
    let markup = if crate::routes::wants_fragment(req) {
        view::reset_card(&who.csrf, &token, &email, &errors)
    } else {
        view::reset_page(&who.csrf, &token, &email, &errors)
    };
    Ok(crate::routes::invalid(markup))
}

/// Stores a new password: every session of the account ends (ASVS 7.4.3),
/// unused reset links die, and the account's address is told.
fn store_password(
    conn: &mut diesel::PgConnection,
    account: &User,
    hash: &str,
    public_url: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    let id = account.id;
    accounts::set_password_hash(conn, id, hash, now)?;
    sessions::delete_all(conn, id)?;
    account_tokens::drop_unused(conn, id, Purpose::PasswordReset)?;
    let notice = mail::password_changed(public_url, &account.name);
    queue_account(conn, &account.email, notice, now)
}
