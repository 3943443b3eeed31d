//! Sign-up, sign-in and sign-out. Sign-in answers the same, in the same
//! time, for an unknown email and a wrong password, is rate-limited per
//! account and per address, and always starts a fresh session (new id).
//! Sign-up is rate-limited per client address. Both check their limit and
//! every cheap precondition before hashing a password.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::limits::{self, SIGNUPS_PER_IP};
use crate::auth::session as auth_session;
use crate::auth::MaybeUser;
use crate::db::accounts::{self, SignUp};
use crate::db::{orgs, rate_limit, sessions};
use crate::error::AppResult;
use crate::forms::{self, FieldErrors};
use crate::ids::{OrgId, UserId};
use crate::mail::account::queue_verification;
use crate::password;
use crate::routes::shared::invitation_link::{self as invitations, Joined};
use crate::routes::{client_info, client_ip, html_response, see_other};
use crate::state::AppState;
use crate::views::auth::{self as view, SignupValues};

route_table! {
    GET "/signup" => signup_form,
    POST "/signup" => signup,
    GET "/login" => login_form,
    POST "/login" => login,
    POST "/logout" => logout,
}

#[derive(Debug, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    invitation: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct InvitationQuery {
    invitation: Option<String>,
}

async fn signup_form(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    query: web::Query<InvitationQuery>,
) -> AppResult<HttpResponse> {
    let now = who.now;
    if who.session.is_some() {
        return Ok(see_other("/dashboard"));
    }
    let values = match query.invitation.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => match invitations::signup_values(&state, token, now).await? {
            Ok(values) => values,
            Err(problem) => return invitations::problem_page(&state, &who, &req, problem).await,
        },
        None => SignupValues::default(),
    };
    Ok(html_response(
        &req,
        view::signup_page(&who.csrf, &values, &FieldErrors::new()),
    ))
}

struct ValidSignup {
    name: String,
    email: String,
    password: String,
}

fn validate_signup(form: &SignupForm) -> Result<ValidSignup, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = forms::text(&form.name, "Name", 1, 100)
        .and_then(|n| forms::no_markup(&n, "Name").map(|_| n));
    let email = forms::email(&form.email);
    if let Err(e) = &name {
        errors.add("name", e.clone());
    }
    if let Err(e) = &email {
        errors.add("email", e.clone());
    }
    if let Some(e) = password::validate_new(&form.password) {
        errors.add("password", e);
    }
    match (name, email) {
        (Ok(name), Ok(email)) if errors.is_empty() => Ok(ValidSignup {
            name,
            email,
            password: form.password.clone(),
        }),
        _ => Err(errors),
    }
}

async fn signup(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    session: Session,
    form: web::Form<SignupForm>,
) -> AppResult<HttpResponse> {
    let now = who.now;
    let form = form.into_inner();
    let invitation = form.invitation.clone().filter(|t| !t.is_empty());
    let values = SignupValues {
        name: form.name.clone(),
        email: form.email.clone(),
        invitation_token: invitation.clone(),
    };
    let invited = match &invitation {
        Some(token) => match invitations::pending(&state, token, now).await? {
            Ok(found) => Some(found.invitation.email),
            Err(problem) => return invitations::problem_page(&state, &who, &req, problem).await,
        },
        None => None,
    };
    let valid = match validate_signup(&form) {
        Ok(v) => v,
        Err(errors) => return Ok(rerender_signup(&who, &values, &errors)),
    };
    // Everything cheap comes before the hash: the limit (invitation links
    // are bounded by the invitations themselves), the invited address, a
    // free address.
    if invited.is_none() {
        let slot = SIGNUPS_PER_IP.slot(&client_ip(&req));
        if !limits::reserve(&state, vec![slot], now).await? {
            return Ok(too_many_signups(&who, &values));
        }
    }
    if let Some(invited) = invited.filter(|i| *i != valid.email) {
        let errors = invitations::wrong_email_errors(&invited);
        return Ok(rerender_signup(&who, &values, &errors));
    }
    let ValidSignup {
        name,
        email,
        password,
    } = valid;
    let lookup = email.clone();
    if state
        .db
        .run(move |conn| accounts::find_by_email(conn, &lookup))
        .await?
        .is_some()
    {
        return Ok(rerender_signup(&who, &values, &email_taken()));
    }
    let hash = state.hasher.hash(password).await?;
    if let Some(token) = invitation {
        let joined = invitations::sign_up_and_join(&state, token, name, email, hash, now).await?;
        return join_from_invitation(&state, &who, &req, &session, &values, joined).await;
    }
    let public_url = state.config.public_url.clone();
    let outcome = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let outcome = accounts::sign_up(conn, &name, &email, &hash, now)?;
            if let SignUp::Created { user, .. } = &outcome {
                queue_verification(conn, &public_url, *user, &name, &email, now)?;
            }
            Ok(outcome)
        })
        .await?;
    match outcome {
        // Taken between the check above and the insert.
        SignUp::EmailTaken => Ok(rerender_signup(&who, &values, &email_taken())),
        SignUp::Created { user, org } => {
            tracing::info!(user = %user, org = %org, "signed up");
            start_session(&state, &req, &who, &session, user, Some(org), "/dashboard").await
        }
    }
}

/// The sign-up form again, refused for the client address's limit.
fn too_many_signups(who: &MaybeUser, values: &SignupValues) -> HttpResponse {
    let mut errors = FieldErrors::new();
    errors.add(
        "_form",
        "Too many sign-ups from your network in the last hour. Please try again later.",
    );
    HttpResponse::build(StatusCode::TOO_MANY_REQUESTS)
        .content_type("text/html; charset=utf-8")
        .body(view::signup_page(&who.csrf, values, &errors).into_string())
}

/// Finishes a sign-up from an invitation link (see `invitations::sign_up_and_join`).
async fn join_from_invitation(
    state: &AppState,
    who: &MaybeUser,
    req: &HttpRequest,
    session: &Session,
    values: &SignupValues,
    joined: Joined,
) -> AppResult<HttpResponse> {
    match joined {
        Joined::Member { user, org } => {
            tracing::info!(user = %user, org = %org, "signed up from an invitation");
            start_session(state, req, who, session, user, Some(org), "/dashboard").await
        }
        Joined::EmailTaken => Ok(rerender_signup(who, values, &email_taken())),
        Joined::WrongEmail(invited) => Ok(rerender_signup(
            who,
            values,
            &invitations::wrong_email_errors(&invited),
        )),
        Joined::Problem(problem) => invitations::problem_page(state, who, req, problem).await,
    }
}

fn email_taken() -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add(
        "email",
        "An account with this email already exists. Sign in instead.",
    );
    errors
}

fn rerender_signup(who: &MaybeUser, values: &SignupValues, errors: &FieldErrors) -> HttpResponse {
    HttpResponse::build(StatusCode::UNPROCESSABLE_ENTITY)
        .content_type("text/html; charset=utf-8")
        .body(view::signup_page(&who.csrf, values, errors).into_string())
}

async fn login_form(
    who: MaybeUser,
    req: HttpRequest,
    query: web::Query<NextQuery>,
) -> AppResult<HttpResponse> {
    if who.session.is_some() {
        return Ok(see_other("/dashboard"));
    }
    let next = query.next.as_deref().and_then(forms::local_path);
    Ok(html_response(
        &req,
        view::login_page(&who.csrf, "", &FieldErrors::new(), next),
    ))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

const LOGIN_WINDOW_MINUTES: i64 = 15;

async fn login(
    state: web::Data<AppState>,
    who: MaybeUser,
    req: HttpRequest,
    session: Session,
    form: web::Form<LoginForm>,
) -> AppResult<HttpResponse> {
    let now = who.now;
    let form = form.into_inner();
    // Control characters (NUL above all) can be in no address; PostgreSQL
    // refuses them in text, so they are dropped before any lookup.
    let email: String = form
        .email
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_control())
        .take(254)
        .collect();
    let account_bucket = format!("login:account:{email}");
    let ip_bucket = format!("login:ip:{}", client_ip(&req));
    let limit = state.config.login_attempts_per_window;
    let window = chrono::Duration::minutes(LOGIN_WINDOW_MINUTES);
    // A slot per account and per address is taken before the (expensive)
    // verification, so parallel guesses cannot all pass a stale count; a
    // wrong password keeps its slots, a right one gives them back.
    let slots = vec![
        limits::Slot::new(account_bucket.clone(), limit, window),
        limits::Slot::new(ip_bucket.clone(), limit, window),
    ];
    let allowed = limits::reserve(&state, slots, now).await?;
    // Only same-site paths are followed after sign-in (no open redirect).
    let next = form
        .next
        .as_deref()
        .and_then(forms::local_path)
        .map(str::to_string);
    if !allowed {
        return Ok(login_failed(
            &who,
            &email,
            next.as_deref(),
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts. Please wait 15 minutes and try again.",
        ));
    }
    let lookup_email = email.clone();
    let user = state
        .db
        .run(move |conn| accounts::find_by_email(conn, &lookup_email))
        .await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = state.hasher.verify(form.password, stored).await?;
    let Some(user) = user.filter(|_| verified).map(|u| u.id) else {
        return Ok(login_failed(
            &who,
            &email,
            next.as_deref(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Email or password is incorrect.",
        ));
    };
    let first_org = state
        .db
        .run(move |conn| -> AppResult<_> {
            rate_limit::clear(conn, &account_bucket)?;
            rate_limit::release(conn, &ip_bucket)?;
            Ok(orgs::first_org_at_sign_in(conn, user)?)
        })
        .await?;
    let target = forms::redirect_target(next.as_deref());
    start_session(&state, &req, &who, &session, user, first_org, target).await
}

fn login_failed(
    who: &MaybeUser,
    email: &str,
    next: Option<&str>,
    status: StatusCode,
    message: &str,
) -> HttpResponse {
    let mut errors = FieldErrors::new();
    errors.add("_form", message);
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(view::login_page(&who.csrf, email, &errors, next).into_string())
}

/// Creates a fresh session (ending any previous one of this browser), puts
/// it into the cookie and redirects.
async fn start_session(
    state: &AppState,
    req: &HttpRequest,
    who: &MaybeUser,
    session: &Session,
    user: UserId,
    org: Option<OrgId>,
    location: &str,
) -> AppResult<HttpResponse> {
    let now = who.now;
    let previous = who.session.as_ref().map(|s| s.session_id);
    auth_session::start(state, session, client_info(req), previous, user, org, now).await?;
    Ok(see_other(location))
}

async fn logout(
    state: web::Data<AppState>,
    who: MaybeUser,
    session: Session,
) -> AppResult<HttpResponse> {
    if let Some(current) = who.session {
        let id = current.session_id;
        state.db.run(move |conn| sessions::delete(conn, id)).await?;
    }
    auth_session::end(&session);
    Ok(see_other("/"))
}
