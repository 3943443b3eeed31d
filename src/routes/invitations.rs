//! Invitation links: `GET /invitations/{token}` shows what the link offers
//! (accept, or sign in / sign up with the invited address), `POST` accepts it.
//! What a link offers, and sign-up from a link, are in
//! `shared::invitation_link`; the mail with the link is composed in
//! `mail::invitations`. An expired, revoked, used or unknown link, another
//! signed-in address, or the invited address not yet confirmed, changes nothing.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::session as auth_session;
use crate::auth::{CurrentUser, MaybeUser};
use crate::db::invitations::{self, Found};
use crate::error::AppResult;
use crate::ids::OrgId;
use crate::routes::see_other_with_flash;
use crate::routes::shared::invitation_link::{pending, problem_of, problem_page, respond};
use crate::routes::shared::link_token::LinkToken;
use crate::state::AppState;
use crate::views::invitations::{self as view, LinkView, Problem};

route_table! {
    GET "/invitations/{token}" => show,
    POST "/invitations/{token}" => accept,
}

fn link_view<'a>(token: &'a str, f: &'a Found) -> LinkView<'a> {
    LinkView {
        token,
        org_name: &f.org_name,
        inviter: f.inviter.as_deref(),
        role: f.invitation.role,
        email: &f.invitation.email,
    }
}

async fn show(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    LinkToken(token): LinkToken,
) -> AppResult<HttpResponse> {
    let found = match pending(&state, &token, who.now).await? {
        Ok(found) => found,
        Err(problem) => return problem_page(&state, &who, &req, problem).await,
    };
    let link = link_view(&token, &found);
    let title = format!("Join {}", found.org_name);
    let (body, status) = match &who.session {
        None => (view::signed_out_body(&link), StatusCode::OK),
        Some(s) if s.user.email == found.invitation.email => {
            if s.user.email_verified_at.is_some() {
                (view::accept_body(&link, &who.csrf), StatusCode::OK)
            } else {
                (view::unverified_email_body(&link), StatusCode::FORBIDDEN)
            }
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
    Joined(OrgId),
    Problem(Problem),
    WrongEmail,
    Unverified,
}

async fn accept(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    session: Session,
    LinkToken(token): LinkToken,
) -> AppResult<HttpResponse> {
    let now = user.now;
    let who = MaybeUser {
        session: Some(user.session.clone()),
        csrf: user.csrf.clone(),
        now: user.now,
    };
    let found = match pending(&state, &token, now).await? {
        Ok(found) => found,
        Err(problem) => return problem_page(&state, &who, &req, problem).await,
    };
    let (user_id, email) = (user.id(), user.session.user.email.clone());
    // Anyone may open an account with any address; only a confirmed address
    // proves the invitation's mailbox is theirs.
    let verified = user.session.user.email_verified_at.is_some();
    let locked_token = token.clone();
    let outcome = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let Some(inv) = invitations::lock_by_token(conn, &locked_token)? else {
                return Ok(Accepted::Problem(Problem::Unknown));
            };
            if let Some(problem) = problem_of(&inv, now) {
                return Ok(Accepted::Problem(problem));
            }
            if inv.email != email {
                return Ok(Accepted::WrongEmail);
            }
            if !verified {
                return Ok(Accepted::Unverified);
            }
            let org = invitations::accept(conn, &inv, user_id, now)?;
            Ok(Accepted::Joined(org))
        })
        .await?;
    match outcome {
        Accepted::Joined(org) => {
            auth_session::set_org(&session, org)?;
            Ok(see_other_with_flash(
                "/dashboard",
                &format!("Welcome to {}.", found.org_name),
            ))
        }
        Accepted::Problem(problem) => problem_page(&state, &who, &req, problem).await,
        Accepted::Unverified => {
            let body = view::unverified_email_body(&link_view(&token, &found));
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
