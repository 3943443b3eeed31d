//! HTTP handlers, one module per feature. Each module declares its routes
//! with `route_table!`, which produces both the registration and a readable
//! `ROUTES` list (the tenant-isolation sweep walks `all_routes()`, so a new
//! route cannot be left out of it).

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::Markup;

use crate::app::AppState;
use crate::auth::{CurrentOrg, CurrentUser};
use crate::db::context::OrgContext;
use crate::db::sessions::ClientInfo;
use crate::domain::roles;
use crate::domain::roles::Action;
use crate::domain::subscription::Status;
use crate::error::AppResult;
use crate::views::layout::{self, Flash, FlashKind, Nav, Shell, ShellOrg};

/// Declares a feature's routes: `GET "/path" => handler, ...`.
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// (method, path) of every route this module registers.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
            $(
                cfg.route(
                    $path,
                    actix_web::web::method(actix_web::http::Method::$method).to($handler),
                );
            )*
        }
    };
}

pub mod account;
pub mod account_deletion;
pub mod account_email;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod billing;
pub mod brand;
pub mod dashboard;
pub mod enrollments;
pub mod invitations;
pub mod lead_csv;
pub mod leads;
pub mod messages;
pub mod notices;
pub mod orgs;
pub mod outbox;
pub mod password;
pub mod plans;
pub mod sequences;
pub mod sessions;
pub mod settings;
pub mod system;
pub mod team;
pub mod templates;
pub mod usage;

/// Registers every feature's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    system::configure(cfg);
    auth::configure(cfg);
    orgs::configure(cfg);
    dashboard::configure(cfg);
    billing::configure(cfg);
    account::configure(cfg);
    account_email::configure(cfg);
    password::configure(cfg);
    sessions::configure(cfg);
    account_deletion::configure(cfg);
    settings::configure(cfg);
    team::configure(cfg);
    invitations::configure(cfg);
    audit::configure(cfg);
    brand::configure(cfg);
    usage::configure(cfg);
    plans::configure(cfg);
    notices::configure(cfg);
    bench::configure(cfg);
    lead_csv::configure(cfg);
    leads::configure(cfg);
    templates::configure(cfg);
    messages::configure(cfg);
    enrollments::configure(cfg);
    sequences::configure(cfg);
    outbox::configure(cfg);
}

/// Every registered (method, path), for tests and docs.
pub fn all_routes() -> Vec<(&'static str, &'static str)> {
    [
        system::ROUTES,
        auth::ROUTES,
        orgs::ROUTES,
        dashboard::ROUTES,
        account::ROUTES,
        account_email::ROUTES,
        password::ROUTES,
        sessions::ROUTES,
        account_deletion::ROUTES,
        billing::ROUTES,
        settings::ROUTES,
        team::ROUTES,
        invitations::ROUTES,
        audit::ROUTES,
        brand::ROUTES,
        usage::ROUTES,
        plans::ROUTES,
        notices::ROUTES,
        bench::ROUTES,
        lead_csv::ROUTES,
        leads::ROUTES,
        templates::ROUTES,
        messages::ROUTES,
        enrollments::ROUTES,
        sequences::ROUTES,
        outbox::ROUTES,
    ]
    .concat()
}

const FLASH_COOKIE: &str = "ld_flash";

/// 303 to `location` (after a plain-form POST).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// 303 to `location`, with a success message shown on the next page.
pub fn see_other_with_flash(location: &str, message: &str) -> HttpResponse {
    let cookie = Cookie::build(FLASH_COOKIE, urlencode(message))
        .path("/")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Lax)
        .finish();
    let mut res = see_other(location);
    res.add_cookie(&cookie).ok();
    res
}

/// After a change that needs a whole new page: a 303 for browsers; for HTMX
/// a 200 with `HX-Redirect`, since a followed 303 would be swapped into the
/// form. The flash cookie rides along either way.
pub fn redirect_with_flash(req: &HttpRequest, location: &str, message: &str) -> HttpResponse {
    as_hx_redirect(req, location, see_other_with_flash(location, message))
}

/// Like `redirect_with_flash`, without a message.
pub fn redirect(req: &HttpRequest, location: &str) -> HttpResponse {
    as_hx_redirect(req, location, see_other(location))
}

fn as_hx_redirect(req: &HttpRequest, location: &str, mut res: HttpResponse) -> HttpResponse {
    if !wants_fragment(req) {
        return res;
    }
    *res.status_mut() = actix_web::http::StatusCode::OK;
    let headers = res.headers_mut();
    headers.remove(header::LOCATION);
    if let Ok(value) = header::HeaderValue::from_str(location) {
        headers.insert(header::HeaderName::from_static("hx-redirect"), value);
    }
    res
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn take_flash(req: &HttpRequest) -> Option<Flash> {
    let raw = req.cookie(FLASH_COOKIE)?;
    let text: String = form_urlencoded::parse(format!("m={}", raw.value()).as_bytes())
        .next()
        .map(|(_, v)| v.chars().take(300).collect())?;
    (!text.is_empty()).then_some(Flash {
        kind: FlashKind::Success,
        text,
    })
}

/// The user agent and address of a request, for the session list.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        ip: client_ip(req),
    }
}

/// The peer address (proxies' forwarding headers are not trusted).
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// True when the request wants a fragment (HTMX, not boosted).
pub fn wants_fragment(req: &HttpRequest) -> bool {
    crate::error::is_fragment_request(req)
}

/// Builds the shell of a signed-in page (organization part when the
/// session has a current organization).
pub async fn shell(state: &AppState, user: &CurrentUser, req: &HttpRequest) -> AppResult<Shell> {
    let user_id = user.id();
    let tenant = user.session.org.as_ref().map(|o| o.tenant);
    let (orgs, unread) = state
        .db
        .run(move |conn| -> AppResult<_> {
            let orgs = crate::db::orgs::memberships(conn, user_id)?;
            let unread = match &tenant {
                Some(t) => crate::db::notices::unread_count(conn, t)?,
                None => 0,
            };
            Ok((orgs, unread))
        })
        .await?;
    Ok(Shell {
        user_name: user.session.user.name.clone(),
        csrf: user.csrf.clone(),
        org: user.session.org.as_ref().map(shell_org),
        orgs,
        unread_notices: unread,
        unverified_email: user.session.user.email_verified_at.is_none(),
        flash: take_flash(req),
    })
}

pub(crate) fn shell_org(ctx: &OrgContext) -> ShellOrg {
    let now = chrono::Utc::now();
    let sub = &ctx.subscription;
    let status = sub.status();
    let white_label = sub.effective_plan(now).spec().features.white_label;
    let role = ctx.member.role();
    ShellOrg {
        id: ctx.org.id,
        name: ctx.org.name.clone(),
        brand_name: ctx.org.brand_name.clone().filter(|_| white_label),
        brand_color: ctx.org.brand_color.clone().filter(|_| white_label),
        has_logo: white_label && ctx.org.logo_content_type.is_some(),
        role_label: role.label(),
        status_label: status.label(),
        trial_days_left: (status == Status::Trial).then(|| sub.trial_days_left(now)),
        past_due: status == Status::PastDue,
        can_manage_billing: roles::allows(role, ctx.member.flags(), Action::ManageBilling),
    }
}

/// A full signed-in page as an HTML response (clears a shown flash).
pub async fn page(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    nav: Nav,
    title: &str,
    body: Markup,
) -> AppResult<HttpResponse> {
    user_page(state, &cur.user, req, nav, title, body).await
}

/// Like `page`, for pages that need no current organization.
pub async fn user_page(
    state: &AppState,
    user: &CurrentUser,
    req: &HttpRequest,
    nav: Nav,
    title: &str,
    body: Markup,
) -> AppResult<HttpResponse> {
    let shell = shell(state, user, req).await?;
    Ok(html_response(
        req,
        layout::app_page(&shell, nav, title, body),
    ))
}

/// 200 text/html, removing the flash cookie when one was shown.
pub fn html_response(req: &HttpRequest, markup: Markup) -> HttpResponse {
    let mut res = HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string());
    if req.cookie(FLASH_COOKIE).is_some() {
        res.add_removal_cookie(&Cookie::new(FLASH_COOKIE, "")).ok();
    }
    res
}

/// An HTML fragment (HTMX swap).
pub fn fragment(markup: Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// A form re-rendered with errors: 422 so HTMX and browsers both show it.
pub fn invalid(markup: Markup) -> HttpResponse {
    HttpResponse::UnprocessableEntity()
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}
