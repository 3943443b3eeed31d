//! One way to answer: a full page or, for HTMX, a fragment — both with the
//! same status; `usage-changed` for the meters; redirects that work for plain
//! forms and HTMX alike. Handlers never set a status or an `HX-` header by hand.

use actix_web::cookie::Cookie;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use maud::Markup;

use crate::auth::{CurrentOrg, CurrentUser};
use crate::db::pages::ShellData;
use crate::error::AppResult;
use crate::state::AppState;
use crate::views::layout::{self, Nav};

pub(super) const FLASH_COOKIE: &str = "ld_flash";

/// How a rendered page or form answers (see "Status codes" in the decisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// 200.
    Ok,
    /// 422: a form shown again with its errors.
    Invalid,
    /// 402: a plan limit stopped the change.
    OverLimit,
    /// 413: an upload over the size limit.
    TooLarge,
    /// 400: a request the server could not read.
    Unreadable,
}

/// Which part of a page a handler renders: the whole body, or HTMX's fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Page,
    Fragment,
}

impl Reply {
    pub fn status(self) -> StatusCode {
        match self {
            Reply::Ok => StatusCode::OK,
            Reply::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Reply::OverLimit => StatusCode::PAYMENT_REQUIRED,
            Reply::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reply::Unreadable => StatusCode::BAD_REQUEST,
        }
    }

    /// `res` with this status.
    pub fn apply(self, mut res: HttpResponse) -> HttpResponse {
        *res.status_mut() = self.status();
        res
    }

    /// An HTML fragment (HTMX swap) with this status.
    pub fn fragment(self, markup: Markup) -> HttpResponse {
        self.apply(fragment(markup))
    }

    /// A full signed-in page with this status; `(nav, title)` as for
    /// `page_or_fragment`.
    pub async fn page(
        self,
        state: &AppState,
        user: &CurrentUser,
        req: &HttpRequest,
        (nav, title): (Nav, &str),
        body: Markup,
    ) -> AppResult<HttpResponse> {
        Ok(self.apply(user_page(state, user, req, nav, title, body).await?))
    }

    /// `page`, with the shell's data read by the handler in its own
    /// checkout (`db::pages::shell_data`): one pool round trip less.
    pub fn page_with(
        self,
        user: &CurrentUser,
        req: &HttpRequest,
        (nav, title): (Nav, &str),
        body: Markup,
        shell: ShellData,
    ) -> HttpResponse {
        self.apply(page_with(user, req, nav, title, body, shell))
    }

    /// The page titled `title`, or for HTMX only its fragment; `render`
    /// is asked for the part the request wants.
    pub async fn page_or_fragment(
        self,
        state: &AppState,
        cur: &CurrentOrg,
        req: &HttpRequest,
        (nav, title): (Nav, &str),
        render: impl FnOnce(Part) -> Markup,
    ) -> AppResult<HttpResponse> {
        if wants_fragment(req) {
            return Ok(self.fragment(render(Part::Fragment)));
        }
        let body = render(Part::Page);
        self.page(state, &cur.user, req, (nav, title), body).await
    }
}

/// True when the request wants a fragment (HTMX, not boosted, not a history restore).
pub fn wants_fragment(req: &HttpRequest) -> bool {
    crate::error::is_fragment_request(req)
}

/// `HX-Trigger: usage-changed`, so the meters refresh themselves.
pub fn usage_changed(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        header::HeaderName::from_static("hx-trigger"),
        header::HeaderValue::from_static("usage-changed"),
    );
    res
}

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

fn as_hx_redirect(req: &HttpRequest, location: &str, res: HttpResponse) -> HttpResponse {
    if !wants_fragment(req) {
        return res;
    }
    let mut res = Reply::Ok.apply(res);
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
    let shell = super::shell(state, user, req).await?;
    Ok(html_response(
        req,
        layout::app_page(&shell, nav, title, body),
    ))
}

/// `user_page` with the shell's data already read (`db::pages::shell_data`).
pub fn page_with(
    user: &CurrentUser,
    req: &HttpRequest,
    nav: Nav,
    title: &str,
    body: Markup,
    shell: ShellData,
) -> HttpResponse {
    let shell = super::shell_from(user, req, shell);
    html_response(req, layout::app_page(&shell, nav, title, body))
}

/// 200 text/html, removing the flash cookie when one was shown.
pub fn html_response(req: &HttpRequest, markup: Markup) -> HttpResponse {
    let mut res = fragment(markup);
    if req.cookie(FLASH_COOKIE).is_some() {
        // The path must match the one it was set with ("/"): without it the
        // browser scopes the removal to this page's directory and keeps
        // showing the message on every page below it.
        let shown = Cookie::build(FLASH_COOKIE, "").path("/").finish();
        res.add_removal_cookie(&shown).ok();
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
    Reply::Invalid.fragment(markup)
}
