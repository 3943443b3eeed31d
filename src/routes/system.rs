//! The landing page, health probe and static assets.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::state::AppState;
use crate::assets;
use crate::auth::MaybeUser;
use crate::error::{AppError, AppResult};
use crate::routes::{html_response, see_other};

route_table! {
    GET "/" => home,
    GET "/healthz" => healthz,
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
