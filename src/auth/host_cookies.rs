//! The `__Host-` prefix. With secure cookies on, every cookie the app sets
//! reaches the browser as `__Host-<name>` (Secure, Path=/, no Domain), and
//! only such cookies are read back: a browser accepts a `__Host-` cookie only
//! from this very host over HTTPS, so a sibling subdomain cannot plant one.
//! Inside the app, cookies keep their plain names; this layer, wrapped
//! around everything that reads or sets cookies, translates both ways.

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::state::AppState;

pub const PREFIX: &str = "__Host-";

pub async fn host_prefix(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let secure = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.config.secure_cookies);
    if secure {
        unprefix_request(&mut req);
    }
    let mut res = next.call(req).await?;
    if secure {
        prefix_response(&mut res);
    }
    Ok(res)
}

/// Keeps only the `__Host-` cookies of the request, under their plain names.
fn unprefix_request(req: &mut ServiceRequest) {
    let sent: Vec<String> = req
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    let kept = only_prefixed(&sent);
    let headers = req.headers_mut();
    headers.remove(header::COOKIE);
    if let Some(value) = kept.and_then(|k| HeaderValue::from_str(&k).ok()) {
        headers.insert(header::COOKIE, value);
    }
}

/// The `Cookie` header the app sees: the `__Host-` pairs, prefix removed.
pub fn only_prefixed(headers: &[String]) -> Option<String> {
    let pairs: Vec<&str> = headers
        .iter()
        .flat_map(|h| h.split(';'))
        .map(str::trim)
        .filter_map(|pair| pair.strip_prefix(PREFIX))
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

/// Renames every cookie the response sets to its `__Host-` form.
fn prefix_response<B>(res: &mut ServiceResponse<B>) {
    let set: Vec<String> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    if set.is_empty() {
        return;
    }
    let headers = res.headers_mut();
    headers.remove(header::SET_COOKIE);
    for value in set.iter().filter_map(|raw| prefixed(raw)) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(header::SET_COOKIE, value);
        }
    }
}

/// One `Set-Cookie` value as a `__Host-` cookie; `None` if it cannot be read.
pub fn prefixed(set_cookie: &str) -> Option<String> {
    let mut cookie = Cookie::parse(set_cookie.to_string()).ok()?;
    if !cookie.name().starts_with(PREFIX) {
        cookie.set_name(format!("{PREFIX}{}", cookie.name()));
    }
    cookie.set_secure(true);
    cookie.set_path("/");
    cookie.unset_domain();
    Some(cookie.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookies_get_the_prefix_and_its_attributes() {
        let out = prefixed("ld_session=abc; Path=/x; Domain=example.com; HttpOnly").unwrap();
        assert!(out.starts_with("__Host-ld_session=abc"), "{out}");
        assert!(out.contains("Secure") && out.contains("Path=/") && out.contains("HttpOnly"));
        assert!(!out.contains("Domain") && !out.contains("Path=/x"), "{out}");
    }

    #[test]
    fn only_prefixed_cookies_are_read() {
        let sent = [
            "ld_csrf=tossed; __Host-ld_csrf=mine".to_string(),
            "__Host-ld_flash=hi".into(),
        ];
        assert_eq!(
            only_prefixed(&sent).as_deref(),
            Some("ld_csrf=mine; ld_flash=hi")
        );
        assert_eq!(only_prefixed(&["ld_session=tossed".to_string()]), None);
    }
}
