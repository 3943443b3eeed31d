//! White label in the page: the brand stylesheet (`/brand.css`, the colour
//! as a same-origin stylesheet, never inline CSS) and the logo as served.
//! Only a validated `#rrggbb` is ever written into CSS; uploading and
//! removing the logo are settings actions (`routes::settings`).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::auth::CurrentOrg;
use crate::db::settings as db_settings;
use crate::domain::settings::parse_brand_color;
use crate::error::{AppError, AppResult};
use crate::routes::white_label;
use crate::state::AppState;

route_table! {
    GET "/brand.css" => brand_css,
    GET "/brand/logo" => logo,
}

/// `:root{--brand:…}` for the current organization when white label applies
/// and a colour is set; an empty stylesheet otherwise. The layout links it
/// with `?v=<colour>`, so a changed colour is a new URL.
async fn brand_css(cur: CurrentOrg) -> HttpResponse {
    let color = cur
        .ctx
        .org
        .brand_color
        .as_deref()
        .filter(|_| white_label(&cur.ctx, cur.now()))
        .and_then(|c| parse_brand_color(c).ok());
    let body = match color {
        Some(c) => format!(":root{{--brand:{c};--brand-ink:#fff}}\n"),
        None => String::new(),
    };
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, max-age=86400"))
        .body(body)
}

/// The logo of the current organization (404 without one or without white
/// label). Revalidated on every use through its ETag, so a new logo shows at once.
async fn logo(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    if !white_label(&cur.ctx, cur.now()) {
        return Err(AppError::NotFound);
    }
    let tenant = cur.tenant();
    let logo = state
        .db
        .run(move |conn| db_settings::logo(conn, &tenant))
        .await?
        .ok_or(AppError::NotFound)?;
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&logo.data)[..12]));
    let cache = (header::CACHE_CONTROL, "private, no-cache");
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    if matches {
        return Ok(HttpResponse::NotModified()
            .insert_header(cache)
            .insert_header((header::ETAG, etag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type(logo.content_type)
        .insert_header(cache)
        .insert_header((header::ETAG, etag))
        .body(logo.data))
}
