//! Builds the actix `App` — shared by the server binary and the tests, so
//! tests exercise exactly the middleware stack and routes users get.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpResponse};

use crate::auth::middleware::identity;
use crate::auth::session;
use crate::error::{htmx_errors, AppError};
use crate::state::AppState;

/// Only the app's own scripts, styles and images; no framing, no foreign forms.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

/// Largest urlencoded form accepted (CSV uploads use multipart and their own limit).
const FORM_LIMIT: usize = 256 * 1024;

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Vary", "HX-Request"))
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

/// One log line per request, with its duration.
async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.path().to_string());
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
    let sessions = session::middleware(&state);
    App::new()
        .app_data(state)
        .app_data(form_config())
        .app_data(query_config())
        .app_data(path_config())
        .app_data(web::PayloadConfig::new(max_body))
        .configure(crate::routes::configure)
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(AppError::NotFound)
        }))
        .wrap(from_fn(identity))
        .wrap(sessions)
        .wrap(from_fn(htmx_errors))
        .wrap(security_headers())
        .wrap(from_fn(access_log))
}
