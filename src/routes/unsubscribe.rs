//! Unsubscribe links (docs/product.md, "Data rights", RFC 8058): `GET /u/{token}` shows what the
//! link does and a button; `POST /u/{token}` unsubscribes at once — what a
//! mail provider's one-click button sends, with no cookies and no CSRF token.
//! The path is sessionless and outside CSRF on purpose (`auth::middleware`):
//! the unguessable token is the only authority, and a forged POST could only
//! do what the token's holder asked for. An unknown token changes nothing.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::db::suppression::{self, Link};
use crate::error::AppResult;
use crate::routes::shared::link_token::LinkToken;
use crate::state::AppState;
use crate::views::unsubscribe as view;

route_table! {
    GET "/u/{token}" => show,
    POST "/u/{token}" => unsubscribe,
}

/// Tokens are 43 URL-safe base64 characters; anything else is not one of
/// ours and needs no database round trip.
fn plausible(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn respond(token: &str, link: &Link) -> HttpResponse {
    let status = match link {
        Link::Unknown => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(view::page(token, link).into_string())
}

async fn show(state: web::Data<AppState>, LinkToken(token): LinkToken) -> AppResult<HttpResponse> {
    if !plausible(&token) {
        return Ok(respond(&token, &Link::Unknown));
    }
    let peeked = token.clone();
    let link = state
        .db
        .run(move |conn| suppression::peek(conn, &peeked))
        .await?;
    Ok(respond(&token, &link))
}

async fn unsubscribe(
    state: web::Data<AppState>,
    LinkToken(token): LinkToken,
) -> AppResult<HttpResponse> {
    if !plausible(&token) {
        return Ok(respond(&token, &Link::Unknown));
    }
    let now = state.clock.now();
    let used = token.clone();
    let link = state
        .db
        .run(move |conn| suppression::unsubscribe(conn, &used, now))
        .await?;
    Ok(respond(&token, &link))
}
