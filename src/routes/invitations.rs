//! Invitation links: `GET /invitations/{token}` shows what the link offers
//! (accept, or sign in / sign up with the invited address), `POST` accepts it.
//! Sign-up from a link also ends here (`sign_up_and_join`), and the mail with
//! the link is queued from here (`MailContext`). An expired, revoked, used or
//! unknown link, or another signed-in address, changes nothing.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use maud::Markup;

use crate::app::AppState;
use crate::auth::{CurrentOrg, CurrentUser, MaybeUser};
use crate::db::invitations::{self, Found, Invitation, State};
use crate::db::outbox::{self, MailKind, OutgoingMail};
use crate::db::{accounts, sessions};
use crate::domain::roles::Role;
use crate::error::AppResult;
use crate::forms::FieldErrors;
use crate::ids::{OrgId, UserId};
use crate::routes::{html_response, see_other_with_flash, user_page};
use crate::views::auth::SignupValues;
use crate::views::invitations::{self as view, LinkView, Problem};
use crate::views::layout::{self, Nav};

route_table! {
    GET "/invitations/{token}" => show,
    POST "/invitations/{token}" => accept,
}

/// Why `inv` cannot be accepted now, if it cannot.
pub fn problem_of(inv: &Invitation) -> Option<Problem> {
    match inv.state(Utc::now()) {
        State::Pending => None,
        State::Expired => Some(Problem::Expired),
        State::Revoked => Some(Problem::Revoked),
        State::Accepted => Some(Problem::Used),
    }
}

/// A pending invitation for `token`, or the problem with it.
pub async fn pending(state: &AppState, token: &str) -> AppResult<Result<Found, Problem>> {
    let token = token.to_string();
    let found = state
        .db
        .run(move |conn| invitations::find_by_token(conn, &token))
        .await?;
    Ok(match found {
        None => Err(Problem::Unknown),
        Some(f) => match problem_of(&f.invitation) {
            Some(p) => Err(p),
            None => Ok(f),
        },
    })
}

fn link_view<'a>(token: &'a str, f: &'a Found) -> LinkView<'a> {
    LinkView {
        token,
        org_name: &f.org_name,
        inviter: f.inviter.as_deref(),
        role: f.invitation.role(),
        email: &f.invitation.email,
    }
}

/// A page in the shell that fits the visitor: the app shell when signed in.
async fn respond(
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

async fn show(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    let found = match pending(&state, &token).await? {
        Ok(found) => found,
        Err(problem) => return problem_page(&state, &who, &req, problem).await,
    };
    let link = link_view(&token, &found);
    let title = format!("Join {}", found.org_name);
    let (body, status) = match &who.session {
        None => (view::signed_out_body(&link), StatusCode::OK),
        Some(s) if s.user.email == found.invitation.email => {
            (view::accept_body(&link, &who.csrf), StatusCode::OK)
        }
        Some(s) => (
            view::wrong_email_body(&link, &s.user.email),
            StatusCode::FORBIDDEN,
        ),
    };
    respond(&state, &who, &req, &title, body, status).await
}

/// What accepting did.
enum Accepted {
    Joined,
    Problem(Problem),
    WrongEmail,
}

async fn accept(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    let who = MaybeUser {
        session: Some(user.session.clone()),
        csrf: user.csrf.clone(),
    };
    let found = match pending(&state, &token).await? {
        Ok(found) => found,
        Err(problem) => return problem_page(&state, &who, &req, problem).await,
    };
    let (user_id, email, session) = (
        user.id(),
        user.session.user.email.clone(),
        user.session.session_id,
    );
    let locked_token = token.clone();
    let outcome = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let Some(inv) = invitations::lock_by_token(conn, &locked_token)? else {
                return Ok(Accepted::Problem(Problem::Unknown));
            };
            if let Some(problem) = problem_of(&inv) {
                return Ok(Accepted::Problem(problem));
            }
            if inv.email != email {
                return Ok(Accepted::WrongEmail);
            }
            let org = invitations::accept(conn, &inv, user_id)?;
            sessions::set_current_org(conn, session, org)?;
            Ok(Accepted::Joined)
        })
        .await?;
    match outcome {
        Accepted::Joined => Ok(see_other_with_flash(
            "/dashboard",
            &format!("Welcome to {}.", found.org_name),
        )),
        Accepted::Problem(problem) => problem_page(&state, &who, &req, problem).await,
        Accepted::WrongEmail => {
            let body = view::wrong_email_body(&link_view(&token, &found), &user.session.user.email);
            respond(
                &state,
                &who,
                &req,
                "Invitation",
                body,
                StatusCode::FORBIDDEN,
            )
            .await
        }
    }
}

/// The sign-up form prefilled from a pending invitation (email fixed).
pub async fn signup_values(
    state: &AppState,
    token: &str,
) -> AppResult<Result<SignupValues, Problem>> {
    Ok(pending(state, token).await?.map(|found| SignupValues {
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
) -> AppResult<Joined> {
    state
        .db
        .tx(move |conn| -> AppResult<_> {
            let Some(inv) = invitations::lock_by_token(conn, &token)? else {
                return Ok(Joined::Problem(Problem::Unknown));
            };
            if let Some(problem) = problem_of(&inv) {
                return Ok(Joined::Problem(problem));
            }
            if inv.email != email {
                return Ok(Joined::WrongEmail(inv.email));
            }
            let Some(user) = accounts::insert_user(conn, &name, &email, &password_hash)? else {
                return Ok(Joined::EmailTaken);
            };
            let org = invitations::accept(conn, &inv, user)?;
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

/// What an invitation email needs from the request, movable into a transaction.
pub struct MailContext {
    org: crate::ids::OrgId,
    org_name: String,
    inviter: String,
    public_url: String,
    tz: chrono_tz::Tz,
}

impl MailContext {
    pub fn of(state: &AppState, cur: &CurrentOrg) -> MailContext {
        MailContext {
            org: cur.org_id(),
            org_name: cur.ctx.org.name.clone(),
            inviter: cur.user.session.user.name.clone(),
            public_url: state.config.public_url.trim_end_matches('/').to_string(),
            tz: cur.ctx.org.tz(),
        }
    }

    /// Queues the invitation email in the caller's transaction.
    pub fn enqueue(
        &self,
        conn: &mut diesel::PgConnection,
        to: &str,
        role: Role,
        token: &str,
        expires_at: DateTime<Utc>,
    ) -> AppResult<()> {
        let link = format!("{}/invitations/{token}", self.public_url);
        let (subject, body) = view::email(
            &self.org_name,
            &self.inviter,
            role,
            &link,
            self.tz,
            expires_at,
        );
        outbox::enqueue(
            conn,
            &OutgoingMail {
                kind: MailKind::Invitation,
                org: Some(self.org),
                message: None,
                to,
                subject: &subject,
                body: &body,
            },
        )?;
        Ok(())
    }
}
