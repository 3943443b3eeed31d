//! The landing page, health probe and static assets.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::assets;
use crate::auth::MaybeUser;
use crate::db::DbError;
use crate::error::{AppError, AppResult};
use crate::routes::{html_response, see_other};
use crate::state::AppState;

route_table! {
    GET "/" => home,
    GET "/healthz" => healthz,
    GET "/readyz" => readyz,
    GET "/assets/{file}" => asset,
    GET "/favicon.ico" => favicon,
}

/// Visitors see pricing and sign-up; signed-in users go to their dashboard.
async fn home(who: MaybeUser, req: HttpRequest) -> AppResult<HttpResponse> {
    if who.session.is_some() {
        return Ok(see_other("/dashboard"));
    }
    Ok(html_response(&req, crate::views::home::page()))
}

/// 200 when the app and its database answer, 503 otherwise.
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    if state.db.ping().await {
        HttpResponse::Ok().content_type("text/plain").body("ok")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable")
    }
}

/// 200 when this instance may take traffic: the database answers and its
/// schema is at this build's migrations; 503 otherwise (the load balancer
/// sends requests elsewhere). `/healthz` stays the liveness probe.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ready = state
        .db
        .run(|conn| crate::db::ops::schema_ready(conn).map_err(DbError::from))
        .await;
    let (status, body) = match ready {
        Ok(true) => (StatusCode::OK, "ready"),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations not applied"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    };
    HttpResponse::build(status)
        .content_type("text/plain")
        .body(body)
}

async fn asset(path: web::Path<String>) -> AppResult<HttpResponse> {
    let (asset, immutable) = assets::lookup(&path).ok_or(AppError::NotFound)?;
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .body(asset.bytes))
}

async fn favicon() -> HttpResponse {
    see_other(&assets::url("icon.svg"))
}
