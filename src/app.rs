//! Builds the actix `App` — shared by the server binary and the tests, so
//! tests exercise exactly the middleware stack and routes users get.
//! The access log never carries a secret: token segments of paths are
//! redacted (`logged_path`) and query strings are not logged.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpResponse};

use crate::auth::host_cookies::host_prefix;
use crate::auth::middleware::identity;
use crate::auth::session;
use crate::error::{htmx_errors, AppError};
use crate::state::AppState;

/// Only the app's own scripts, styles and images; no framing, no foreign forms.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

/// Largest urlencoded form accepted (CSV uploads use multipart and their own limit).
const FORM_LIMIT: usize = 256 * 1024;

/// Behind HTTPS (secure cookies on), browsers are told to use nothing else
/// for a year, so a first plain-HTTP request cannot be intercepted.
const HSTS: &str = "max-age=31536000";

fn security_headers(secure: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Vary", "HX-Request"));
    if secure {
        headers.add(("Strict-Transport-Security", HSTS))
    } else {
        headers
    }
}

fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(FORM_LIMIT)
        .error_handler(|err, _req| {
            tracing::debug!(error = %err, "unreadable form");
            AppError::validation(
                "The form could not be read. Check that every field has a valid value and try again.",
            )
            .into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|_err, _req| {
        AppError::validation("The address contains an invalid parameter.").into()
    })
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| AppError::NotFound.into())
}

/// What the access log shows in place of a secret path segment.
pub const REDACTED: &str = "[redacted]";

/// Literal segments in front of a secret one, for every route whose path
/// carries a token (`/password/reset/{token}` → `["", "password", "reset"]`).
/// Read from the route tables, so a new token route is redacted too.
fn secret_prefixes() -> &'static [Vec<&'static str>] {
    static PREFIXES: OnceLock<Vec<Vec<&'static str>>> = OnceLock::new();
    PREFIXES.get_or_init(|| {
        let mut prefixes: Vec<Vec<&str>> = crate::routes::all_routes()
            .into_iter()
            .filter_map(|(_, path)| {
                let segments: Vec<&str> = path.split('/').collect();
                let at = segments
                    .iter()
                    .position(|s| s.starts_with('{') && s.contains("token"))?;
                Some(segments[..at].to_vec())
            })
            .collect();
        prefixes.sort();
        prefixes.dedup();
        prefixes
    })
}

/// Shaped like a token the app issues (32 random bytes, URL-safe base64).
fn looks_like_token(segment: &str) -> bool {
    segment.len() == 43
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The path as the access log shows it: everything from the token segment
/// of a token route on is `[redacted]`, and so is any other segment shaped
/// like a token.
pub fn logged_path(path: &str) -> Cow<'_, str> {
    let segments: Vec<&str> = path.split('/').collect();
    for prefix in secret_prefixes() {
        if segments.len() > prefix.len() && segments.starts_with(prefix) {
            return Cow::Owned(format!("{}/{REDACTED}", prefix.join("/")));
        }
    }
    if !segments.iter().any(|s| looks_like_token(s)) {
        return Cow::Borrowed(path);
    }
    let shown: Vec<&str> = segments
        .iter()
        .map(|s| if looks_like_token(s) { REDACTED } else { s })
        .collect();
    Cow::Owned(shown.join("/"))
}

/// One log line per request, with its duration.
async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = logged_path(req.path()).into_owned();
    let res = next.call(req).await?;
    tracing::info!(
        target: "access",
        %method, %path,
        status = res.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
    );
    Ok(res)
}

/// The whole application.
pub fn build(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let max_body = state.config.max_upload_bytes;
    let secure = state.config.secure_cookies;
    let sessions = session::middleware(&state);
    App::new()
        .app_data(state)
        .app_data(form_config())
        .app_data(query_config())
        .app_data(path_config())
        .app_data(web::PayloadConfig::new(max_body))
        .configure(crate::api::configure)
        .configure(crate::routes::configure)
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(AppError::NotFound)
        }))
        .wrap(from_fn(crate::routes::errors::in_app_errors))
        .wrap(from_fn(identity))
        .wrap(sessions)
        .wrap(from_fn(htmx_errors))
        .wrap(from_fn(host_prefix))
        .wrap(from_fn(crate::client_addr::middleware))
        .wrap(security_headers(secure))
        .wrap(from_fn(access_log))
        .wrap(from_fn(crate::observe::middleware))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "q3Jx0sV8b2mYfP1eKcT7wLhN4uA9dZ6gR5iE_oWj-Bk";

    #[test]
    fn every_token_route_is_redacted() {
        let token_routes: Vec<&str> = crate::routes::all_routes()
            .into_iter()
            .map(|(_, path)| path)
            .filter(|p| p.contains("token}"))
            .collect();
        assert!(token_routes.len() >= 4, "{token_routes:?}");
        for route in token_routes {
            let real = route.replace("{token}", TOKEN);
            let logged = logged_path(&real);
            assert!(!logged.contains(TOKEN), "{real} logged as {logged}");
            assert!(logged.ends_with(REDACTED));
            let short = route.replace("{token}", "bogus");
            assert!(!logged_path(&short).contains("bogus"), "{short}");
        }
        assert_eq!(
            logged_path(&format!("/password/reset/{TOKEN}")),
            "/password/reset/[redacted]"
        );
        assert_eq!(
            logged_path("/password/reset/a/b"),
            "/password/reset/[redacted]"
        );
    }

    #[test]
    fn other_paths_are_logged_as_they_are_unless_token_shaped() {
        let id = "/leads/0190f5c2-6b1e-7cc1-9a4b-3f2d1e0c9b8a";
        assert_eq!(logged_path(id), id);
        assert_eq!(logged_path("/password/forgot"), "/password/forgot");
        assert_eq!(logged_path(&format!("/x/{TOKEN}/y")), "/x/[redacted]/y");
    }
}
