//! What an invitation link offers: the pending invitation behind a token or
//! the problem with it, the page for a link that does not work, and signing
//! up from a link (account and membership in one transaction).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use maud::Markup;

use crate::auth::{CurrentUser, MaybeUser};
use crate::db::accounts;
use crate::db::invitations::{self, Found, Invitation, State};
use crate::error::AppResult;
use crate::forms::FieldErrors;
use crate::ids::{OrgId, UserId};
use crate::routes::{html_response, user_page};
use crate::state::AppState;
use crate::views::auth::SignupValues;
use crate::views::invitations::{self as view, Problem};
use crate::views::layout::{self, Nav};

/// Why `inv` cannot be accepted now, if it cannot.
pub fn problem_of(inv: &Invitation, now: DateTime<Utc>) -> Option<Problem> {
    match inv.state(now) {
        State::Pending => None,
        State::Expired => Some(Problem::Expired),
        State::Revoked => Some(Problem::Revoked),
        State::Accepted => Some(Problem::Used),
    }
}

/// A pending invitation for `token`, or the problem with it.
pub async fn pending(
    state: &AppState,
    token: &str,
    now: DateTime<Utc>,
) -> AppResult<Result<Found, Problem>> {
    let token = token.to_string();
    let found = state
        .db
        .run(move |conn| invitations::find_by_token(conn, &token))
        .await?;
    Ok(match found {
        None => Err(Problem::Unknown),
        Some(f) => match problem_of(&f.invitation, now) {
            Some(p) => Err(p),
            None => Ok(f),
        },
    })
}

/// A page in the shell that fits the visitor: the app shell when signed in.
pub async fn respond(
    state: &AppState,
    who: &MaybeUser,
    req: &HttpRequest,
    title: &str,
    body: Markup,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let mut res = match &who.session {
        Some(session) => {
            let user = CurrentUser {
                session: session.clone(),
                csrf: who.csrf.clone(),
                now: who.now,
            };
            user_page(state, &user, req, Nav::None, title, body).await?
        }
        None => html_response(req, layout::public_page(title, Some(&who.csrf), body)),
    };
    *res.status_mut() = status;
    Ok(res)
}

/// The clear page for a link that does not work (404 or 410).
pub async fn problem_page(
    state: &AppState,
    who: &MaybeUser,
    req: &HttpRequest,
    problem: Problem,
) -> AppResult<HttpResponse> {
    let status = StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::GONE);
    respond(
        state,
        who,
        req,
        problem.title(),
        view::problem_body(problem),
        status,
    )
    .await
}

/// The sign-up form prefilled from a pending invitation (email fixed).
pub async fn signup_values(
    state: &AppState,
    token: &str,
    now: DateTime<Utc>,
) -> AppResult<Result<SignupValues, Problem>> {
    Ok(pending(state, token, now).await?.map(|found| SignupValues {
        name: String::new(),
        email: found.invitation.email,
        invitation_token: Some(token.to_string()),
    }))
}

/// What signing up from an invitation did.
pub enum Joined {
    Member { user: UserId, org: OrgId },
    EmailTaken,
    WrongEmail(String),
    Problem(Problem),
}

/// Creates the account and its membership in the inviting organization, in
/// one transaction, with the address confirmed (the invitation reached it).
/// No personal organization is created: the inviting one is the first.
pub async fn sign_up_and_join(
    state: &AppState,
    token: String,
    name: String,
    email: String,
    password_hash: String,
    now: DateTime<Utc>,
) -> AppResult<Joined> {
    state
        .db
        .tx(move |conn| -> AppResult<_> {
            let Some(inv) = invitations::lock_by_token(conn, &token)? else {
                return Ok(Joined::Problem(Problem::Unknown));
            };
            if let Some(problem) = problem_of(&inv, now) {
                return Ok(Joined::Problem(problem));
            }
            if inv.email != email {
                return Ok(Joined::WrongEmail(inv.email));
            }
            let Some(user) = accounts::insert_user(conn, &name, &email, &password_hash)? else {
                return Ok(Joined::EmailTaken);
            };
            let org = invitations::accept(conn, &inv, user, now)?;
            Ok(Joined::Member { user, org })
        })
        .await
}

/// The field error for an address that is not the invited one.
pub fn wrong_email_errors(invited: &str) -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add(
        "email",
        format!("This invitation is for {invited}; sign up with that address."),
    );
    errors
}
