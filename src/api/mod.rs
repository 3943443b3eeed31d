//! The JSON API under `/api/v1` (docs/product.md, "API"): key authentication (`auth`),
//! problem documents for every error (`problem`), and one module per
//! resource. Handlers reuse the `db` and `domain` functions of the pages, so
//! the same rules, limits and permissions hold; they never render HTML.

pub mod auth;
pub mod idempotency;
pub mod leads;
pub mod messages;
pub mod openapi;
pub mod organization;
pub mod paging;
pub mod problem;
pub mod sequences;
pub mod templates;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest};
use diesel::PgConnection;

use crate::db::{RunError, Tenant};
use crate::domain::roles::Action;
use crate::state::AppState;
use auth::ApiCaller;
use problem::{ApiResult, Problem};

/// Largest JSON body accepted (a lead with every field at its maximum fits
/// many times over).
const JSON_LIMIT: usize = 64 * 1024;

/// Every route of the API, (method, path), for tests and the docs.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/organization"),
    ("GET", "/api/v1/usage"),
    ("GET", "/api/v1/leads"),
    ("POST", "/api/v1/leads"),
    ("GET", "/api/v1/leads/{id}"),
    ("PATCH", "/api/v1/leads/{id}"),
    ("DELETE", "/api/v1/leads/{id}"),
    ("GET", "/api/v1/templates"),
    ("POST", "/api/v1/templates"),
    ("GET", "/api/v1/templates/{id}"),
    ("PATCH", "/api/v1/templates/{id}"),
    ("DELETE", "/api/v1/templates/{id}"),
    ("GET", "/api/v1/sequences"),
    ("GET", "/api/v1/sequences/{id}"),
    ("POST", "/api/v1/sequences/{id}/enrollments"),
    ("GET", "/api/v1/messages"),
    ("POST", "/api/v1/messages"),
    ("GET", "/api/v1/messages/{id}"),
];

/// Registers the `/api/v1` scope with its authentication and its readers'
/// errors as problem documents.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Registered before the keyed scope, so they need no key.
    cfg.service(resource("/api/v1/openapi.json").route(web::get().to(openapi::serve)))
        .service(resource("/api/docs").route(web::get().to(openapi::docs)));
    cfg.service(
        web::scope("/api/v1")
            .app_data(json_config())
            .app_data(query_config())
            .app_data(path_config())
            .configure(organization::configure)
            .configure(leads::configure)
            .configure(templates::configure)
            .configure(sequences::configure)
            .configure(messages::configure)
            .default_service(web::to(|| async { Err::<(), _>(Problem::not_found()) }))
            .wrap(from_fn(auth::authenticate)),
    );
}

/// A resource of the API whose unsupported methods answer 405 as a
/// problem document (actix would answer an empty 405).
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(Problem::new(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "This resource does not support that method; see /api/docs.",
        ))
    }))
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .content_type_required(true)
        .error_handler(|err, _req: &HttpRequest| {
            use actix_web::error::JsonPayloadError as E;
            use actix_web::http::StatusCode;
            let problem = match &err {
                E::ContentType => Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported-media-type",
                    "Unsupported media type",
                    "Send the body as `Content-Type: application/json`.",
                ),
                E::Overflow { .. } | E::OverflowKnownLength { .. } => Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    "Body too large",
                    format!("The body may be at most {JSON_LIMIT} bytes."),
                ),
                E::Deserialize(e) => {
                    Problem::bad_request(format!("The JSON body could not be read: {e}."))
                }
                _ => Problem::bad_request("The JSON body could not be read."),
            };
            problem.into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        Problem::bad_request(format!("Invalid query parameter: {err}.")).into()
    })
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| Problem::not_found().into())
}

/// Runs `work` as the key's organization when the key may read the
/// workspace (403 otherwise); a database error becomes a problem document.
pub async fn read<T, E, F>(state: &AppState, caller: &ApiCaller, work: F) -> ApiResult<T>
where
    F: FnOnce(&mut PgConnection, &Tenant) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: RunError,
    Problem: From<E::Out>,
{
    let tenant = caller.tenant_for(Action::ReadWorkspace)?;
    state
        .db
        .run(move |conn| work(conn, &tenant))
        .await
        .map_err(Problem::from)
}

/// Requests per minute a plan's keys may make (docs/product.md, "API"); `None` for plans
/// without API access.
pub fn rate_limit_per_minute(plan: crate::domain::plans::Plan) -> Option<i64> {
    plan.api_calls_per_minute()
}
