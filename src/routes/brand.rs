//! White label in the page: the brand stylesheet (`/brand.css`, the colour
//! as a same-origin stylesheet, never inline CSS) and the logo — served,
//! uploaded and removed. Only a validated `#rrggbb` is ever written into CSS,
//! and only sniffed PNG/JPEG/WebP bytes are stored and served as a logo.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::auth::CurrentOrg;
use crate::db::settings::{self as db_settings, Logo};
use crate::domain::roles::Action;
use crate::domain::settings::{parse_brand_color, sniff_logo, LOGO_MAX_BYTES};
use crate::error::{AppError, AppResult};
use crate::routes::settings::{current_page, view, white_label};
use crate::routes::{invalid, wants_fragment};
use crate::views::settings::{logo_card, SettingsValues};

route_table! {
    GET "/brand.css" => brand_css,
    GET "/brand/logo" => logo,
    POST "/settings/logo" => upload_logo,
    POST "/settings/logo/remove" => remove_logo,
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
        .filter(|_| white_label(&cur))
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
    if !white_label(&cur) {
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

/// The bytes of the `logo` file field; an error message when there is none,
/// it is too large, or the body cannot be read.
async fn read_logo(mut payload: Multipart) -> Result<Vec<u8>, String> {
    let unreadable = |_| "The upload could not be read. Choose the file again.".to_string();
    while let Some(mut field) = payload.try_next().await.map_err(unreadable)? {
        if field.name() != Some("logo") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            bytes.extend_from_slice(&chunk.map_err(unreadable)?);
            if bytes.len() > LOGO_MAX_BYTES {
                return Err("The logo must be at most 256 KB.".into());
            }
        }
        return Ok(bytes);
    }
    Err("Choose an image file to upload.".into())
}

/// White label is a plan feature: without it, a 402 with the way to upgrade.
fn require_white_label(cur: &CurrentOrg) -> AppResult<()> {
    if white_label(cur) {
        Ok(())
    } else {
        Err(AppError::LimitReached(
            "Brand name, colour and logo come with white label, on the Enterprise plan. Upgrade to use them.".into(),
        ))
    }
}

async fn upload_logo(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    payload: Multipart,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageSettings)?;
    require_white_label(&cur)?;
    let checked = read_logo(payload)
        .await
        .and_then(|data| sniff_logo(&data).map(|t| (t, data)));
    let (content_type, data) = match checked {
        Ok(ok) => ok,
        Err(message) => return rejected(&state, &cur, &req, message).await,
    };
    let tenant = cur.tenant();
    let logo = Logo {
        content_type: content_type.to_string(),
        data,
    };
    state
        .db
        .tx(move |conn| db_settings::set_logo(conn, &tenant, Some(&logo)))
        .await?;
    Ok(reload(&req, "Logo saved."))
}

async fn remove_logo(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageSettings)?;
    let tenant = cur.tenant();
    state
        .db
        .tx(move |conn| db_settings::set_logo(conn, &tenant, None))
        .await?;
    Ok(reload(&req, "Logo removed."))
}

/// The logo is in the page shell: after a change the whole settings page
/// loads again (303, or `HX-Redirect` for HTMX).
fn reload(req: &HttpRequest, message: &str) -> HttpResponse {
    crate::routes::redirect_with_flash(req, "/settings", message)
}

/// A refused upload: the logo card (HTMX) or the settings page, with the reason, 422.
async fn rejected(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    message: String,
) -> AppResult<HttpResponse> {
    if wants_fragment(req) {
        let mut v = view(cur, SettingsValues::default(), Default::default());
        v.logo_error = Some(message);
        return Ok(invalid(logo_card(&v)));
    }
    let mut res = current_page(state, cur, req, Some(message)).await?;
    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(res)
}
