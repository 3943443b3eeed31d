//! Observability: Prometheus metrics (served by `metrics_server` on
//! `METRICS_BIND`, never on the public port) and the request id every log
//! line of a request carries (returned as `X-Request-Id`).
//!
//! Requests are counted and timed per route *template* (`/leads/{id}`, not
//! the id itself), so the number of series stays bounded; a request that
//! matched no route is `unmatched`. Log lines of a request sit in a span
//! with its id and, once the session is known, its organization id
//! (`record_org`); the access log never carries tokens (see `app::logged_path`).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, App, HttpResponse, HttpServer};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use crate::db::SystemAccess;
use crate::state::AppState;

pub const REQUEST_ID: &str = "x-request-id";

/// Request latency buckets in seconds: from a cached page to a slow export.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder (installed once; every app in the process,
/// tests included, records into it).
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .expect("the buckets are not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        // Outcomes exist from the start, so a rate over them is defined at 0.
        for kind in ["mail", "webhook"] {
            for outcome in ["sent", "retry", "failed"] {
                metrics::counter!("deliveries_total", "kind" => kind, "outcome" => outcome)
                    .absolute(0);
            }
        }
        metrics::counter!("usage_limit_hits_total", "limit" => "usage").absolute(0);
        keep_up(handle.clone());
        handle
    })
}

/// How often the recorder's histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The recorder keeps every histogram sample (one per request) until they
/// are folded into buckets, which happens on a scrape of `/metrics` or an
/// upkeep; without a scraper that memory grew by 8 bytes a request for
/// as long as the process ran (about 8 MiB per million requests). A
/// thread of its own does the upkeep, as the exporter's own listener would.
fn keep_up(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "cannot start the metrics upkeep; histograms fold on scrape only");
    }
}

/// A mail or webhook delivery attempt ended with `outcome` (sent, retry, failed).
pub fn delivery(kind: &'static str, outcome: &'static str) {
    metrics::counter!("deliveries_total", "kind" => kind, "outcome" => outcome).increment(1);
}

/// A plan limit refused something.
pub fn limit_hit(limit: &'static str) {
    metrics::counter!("usage_limit_hits_total", "limit" => limit).increment(1);
}

/// Notes the organization a request acts for on its log span.
pub fn record_org(org: impl std::fmt::Display) {
    tracing::Span::current().record("org_id", tracing::field::display(org));
}

/// A request id sent by the proxy in front (nginx's `$request_id`) is kept
/// when it is short and plain; otherwise a new one is made.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Outermost layer: request id, log span, request count and latency.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    install();
    let id = request_id(&req);
    let span = tracing::info_span!("request", request_id = %id, org_id = tracing::field::Empty);
    let started = Instant::now();
    let method = req.method().to_string();
    let mut res = next.call(req).instrument(span).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16().to_string();
    metrics::counter!(
        "http_requests_total",
        "method" => method.clone(), "route" => route.clone(), "status" => status.clone()
    )
    .increment(1);
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method, "route" => route, "status" => status
    )
    .record(started.elapsed().as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), value);
    }
    Ok(res)
}

/// `GET /metrics`: reads the pool and the queues, then renders every series.
async fn metrics_page(state: web::Data<AppState>, access: web::Data<SystemAccess>) -> HttpResponse {
    let handle = install();
    let pool = state.db.pool().state();
    metrics::gauge!("db_pool_connections").set(pool.connections as f64);
    metrics::gauge!("db_pool_idle").set(pool.idle_connections as f64);
    metrics::gauge!("db_pool_max").set(state.db.pool().max_size() as f64);
    let db = state.db.clone();
    let access = *access.get_ref();
    let now = state.clock.now();
    let queues = web::block(move || -> Result<_, String> {
        let mut conn = db.system(&access).map_err(|e| format!("{e:?}"))?;
        crate::db::ops::queues(&mut conn, &access, now).map_err(|e| e.to_string())
    })
    .await;
    match queues {
        Ok(Ok(queues)) => {
            for q in queues {
                metrics::gauge!("job_queue_depth", "kind" => q.kind.clone()).set(q.depth as f64);
                metrics::gauge!("job_queue_oldest_seconds", "kind" => q.kind).set(q.oldest_seconds);
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the job queues"),
        Err(e) => tracing::warn!(error = %e, "cannot read the job queues"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

/// The metrics listener: `/metrics` only, on its own address.
pub fn metrics_server(
    state: web::Data<AppState>,
    access: SystemAccess,
    bind: &str,
) -> std::io::Result<actix_web::dev::Server> {
    install();
    let access = web::Data::from(Arc::new(access));
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(access.clone())
            .route("/metrics", web::get().to(metrics_page))
    })
    .workers(1)
    .disable_signals()
    .bind(bind)?
    .run())
}
