//! Email address: verification at sign-up (link, resend) and change. A
//! change needs the current password and takes effect only when the link
//! sent to the new address is opened — if that address is still free then.
//! Links to an address act only while it is still the account's address.
//! Opening a link shows a button; only its POST acts, so a mail scanner
//! that fetches links confirms nothing.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::limits::{EMAIL_CHANGES, VERIFY_RESENDS};
use crate::auth::reauth;
use crate::auth::{CurrentUser, MaybeUser};
use crate::db::account_tokens::{self, Purpose};
use crate::db::accounts;
use crate::error::AppResult;
use crate::forms::{self, FieldErrors};
use crate::ids::UserId;
use crate::mail::{account as mail, queue_account};
use crate::routes::shared::account_card::{one_error, Answer, Refusal};
use crate::routes::shared::link_token::LinkToken;
use crate::routes::{html_response, see_other_with_flash};
use crate::state::AppState;
use crate::views::account::{Card, Outcome};
use crate::views::password::{confirm_link_page, email_confirmed_page, link_invalid_page};

route_table! {
    POST "/account/email" => request_email_change,
    GET "/account/email/confirm/{token}" => confirm_email_change_form,
    POST "/account/email/confirm/{token}" => confirm_email_change,
    // Before `{token}`, which would take "resend" for a token.
    POST "/account/verify/resend" => resend_verification,
    GET "/account/verify/{token}" => verify_email_form,
    POST "/account/verify/{token}" => verify_email,
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    email_password: String,
}

fn validate_email_change(form: &EmailForm, current: &str) -> Result<String, FieldErrors> {
    let mut errors = FieldErrors::new();
    let email = match forms::email(&form.new_email) {
        Ok(e) if e == current => {
            errors.add("new_email", "This is already your address.");
            None
        }
        Ok(e) => Some(e),
        Err(e) => {
            errors.add("new_email", e);
            None
        }
    };
    if form.email_password.is_empty() {
        errors.add("email_password", "Enter your current password.");
    }
    email.filter(|_| errors.is_empty()).ok_or(errors)
}

/// Checks the form, the current password and the hourly limit; the new
/// address when all pass.
async fn vet_email_change(
    state: &AppState,
    user: &CurrentUser,
    form: &EmailForm,
) -> AppResult<Result<String, Refusal>> {
    let now = user.now;
    let email = match validate_email_change(form, &user.session.user.email) {
        Ok(e) => e,
        Err(errors) => return Ok(Err((errors, StatusCode::UNPROCESSABLE_ENTITY))),
    };
    let candidate = form.email_password.clone();
    if let Err(refusal) = reauth::confirm(state, user, candidate, "email_password").await? {
        return Ok(Err(refusal));
    }
    if EMAIL_CHANGES
        .exceeded(state, &user.id().to_string(), now)
        .await?
    {
        return Ok(Err(one_error(
            "_form",
            "You asked for several address changes already. Please try again in an hour.",
            StatusCode::TOO_MANY_REQUESTS,
        )));
    }
    Ok(Ok(email))
}

/// Issues the link and queues it to the new address; false when another
/// account uses that address.
async fn queue_email_change(
    state: &AppState,
    user: &CurrentUser,
    email: String,
) -> AppResult<bool> {
    let now = user.now;
    let (id, name) = (user.id(), user.session.user.name.clone());
    let public_url = state.config.public_url.clone();
    state
        .db
        .tx(move |conn| -> AppResult<_> {
            if accounts::email_taken(conn, &email)? {
                return Ok(false);
            }
            let token = account_tokens::issue(conn, id, Purpose::ChangeEmail, Some(&email), now)?;
            queue_account(
                conn,
                &email,
                mail::confirm_new_email(&public_url, &name, &token),
                now,
            )?;
            Ok(true)
        })
        .await
}

async fn request_email_change(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    form: web::Form<EmailForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let typed = form.new_email.clone();
    let (outcome, status) = match vet_email_change(&state, &user, &form).await? {
        Err((errors, status)) => (Outcome::failed(Card::Email, errors, &typed), status),
        Ok(email) if queue_email_change(&state, &user, email.clone()).await? => {
            let notice = format!(
                "We sent a confirmation link to {email}. Your address changes when you open it."
            );
            (Outcome::done(Card::Email, &notice), StatusCode::OK)
        }
        Ok(_) => {
            let (errors, status) = one_error(
                "new_email",
                "Another account already uses this address.",
                StatusCode::UNPROCESSABLE_ENTITY,
            );
            (Outcome::failed(Card::Email, errors, &typed), status)
        }
    };
    Answer::new(&state, &user, &req).with(outcome, status).await
}

/// What opening an email-change link did.
enum EmailChange {
    Invalid,
    Taken,
    Changed { user: UserId, email: String },
}

/// Whether `token` is a live link of `purpose`, without using it.
async fn link_is_live(
    state: &AppState,
    token: String,
    purpose: Purpose,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<bool> {
    let found = state
        .db
        .run(move |conn| account_tokens::check(conn, &token, purpose, now))
        .await?;
    Ok(found.is_some())
}

async fn confirm_email_change_form(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    LinkToken(token): LinkToken,
) -> AppResult<HttpResponse> {
    if !link_is_live(&state, token.clone(), Purpose::ChangeEmail, who.now).await? {
        let markup = link_invalid_page("email change", "/account", "Go to your account");
        return Ok(link_error(&req, markup));
    }
    let page = confirm_link_page(
        &who.csrf,
        &format!("/account/email/confirm/{token}"),
        "Confirm your new email address",
        "Your account's address changes to this one when you confirm.",
    );
    Ok(html_response(&req, page))
}

async fn confirm_email_change(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    LinkToken(token): LinkToken,
) -> AppResult<HttpResponse> {
    let now = who.now;
    let public_url = state.config.public_url.clone();
    let result = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let Some(redeemed) = account_tokens::redeem(conn, &token, Purpose::ChangeEmail, now)?
            else {
                return Ok(EmailChange::Invalid);
            };
            let Some(new_email) = redeemed.email else {
                return Ok(EmailChange::Invalid);
            };
            let user = redeemed.user;
            let Some(old_email) = accounts::change_email(conn, user, &new_email, now)? else {
                return Ok(EmailChange::Taken);
            };
            let name = accounts::find(conn, user)?.name;
            queue_account(
                conn,
                &old_email,
                mail::email_changed(&public_url, &name, &new_email),
                now,
            )?;
            // Links sent to the old address must not act on the new one.
            account_tokens::drop_unused(conn, user, Purpose::VerifyEmail)?;
            account_tokens::drop_unused(conn, user, Purpose::PasswordReset)?;
            Ok(EmailChange::Changed {
                user,
                email: new_email,
            })
        })
        .await?;
    match result {
        EmailChange::Invalid => Ok(link_error(
            &req,
            link_invalid_page("email change", "/account", "Go to your account"),
        )),
        EmailChange::Taken => {
            let markup = link_invalid_page("email change", "/account", "Choose another address");
            let mut res = link_error(&req, markup);
            *res.status_mut() = StatusCode::CONFLICT;
            Ok(res)
        }
        EmailChange::Changed { user, email } => {
            if signed_in_as(&who, user) {
                let text = format!("Your email address is now {email}.");
                return Ok(see_other_with_flash("/account", &text));
            }
            Ok(html_response(&req, email_confirmed_page(&email)))
        }
    }
}

fn signed_in_as(who: &MaybeUser, user: UserId) -> bool {
    who.session.as_ref().is_some_and(|s| s.user_id() == user)
}

/// A link that no longer works: its page, status 404.
fn link_error(req: &HttpRequest, markup: maud::Markup) -> HttpResponse {
    let mut res = html_response(req, markup);
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

async fn verify_email_form(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    LinkToken(token): LinkToken,
) -> AppResult<HttpResponse> {
    if !link_is_live(&state, token.clone(), Purpose::VerifyEmail, who.now).await? {
        let markup = link_invalid_page(
            "confirmation",
            "/account",
            "Send a new link from your account",
        );
        return Ok(link_error(&req, markup));
    }
    let page = confirm_link_page(
        &who.csrf,
        &format!("/account/verify/{token}"),
        "Confirm your email address",
        "Confirm that this address is yours to finish setting up your account.",
    );
    Ok(html_response(&req, page))
}

async fn verify_email(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    LinkToken(token): LinkToken,
) -> AppResult<HttpResponse> {
    let now = who.now;
    let verified = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let Some(redeemed) = account_tokens::redeem(conn, &token, Purpose::VerifyEmail, now)?
            else {
                return Ok(None);
            };
            let Some(email) = redeemed.email else {
                return Ok(None);
            };
            let done = accounts::mark_verified(conn, redeemed.user, &email, now)?;
            Ok(done.then_some((redeemed.user, email)))
        })
        .await?;
    let Some((user, email)) = verified else {
        let markup = link_invalid_page(
            "confirmation",
            "/account",
            "Send a new link from your account",
        );
        return Ok(link_error(&req, markup));
    };
    if signed_in_as(&who, user) {
        return Ok(see_other_with_flash(
            "/account",
            "Thank you: your email address is confirmed.",
        ));
    }
    Ok(html_response(&req, email_confirmed_page(&email)))
}

async fn resend_verification(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let now = user.now;
    let answer = Answer::new(&state, &user, &req);
    let account = &user.session.user;
    if account.email_verified_at.is_some() {
        return answer
            .done(Card::Email, "Your address is already confirmed.")
            .await;
    }
    if VERIFY_RESENDS
        .exceeded(&state, &user.id().to_string(), now)
        .await?
    {
        let message = "We already sent you several links. Please check your inbox (and spam folder), or try again in an hour.";
        let refusal = one_error("_form", message, StatusCode::TOO_MANY_REQUESTS);
        return answer.refused(Card::Email, refusal).await;
    }
    let (id, name, email) = (user.id(), account.name.clone(), account.email.clone());
    let public_url = state.config.public_url.clone();
    state
        .db
        .tx(move |conn| mail::queue_verification(conn, &public_url, id, &name, &email, now))
        .await?;
    let notice = format!("We sent a new confirmation link to {}.", account.email);
    answer.done(Card::Email, &notice).await
}
