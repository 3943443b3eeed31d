//! Cookies and headers: a planted signed-out CSRF cookie is useless,
//! cookies travel as `__Host-` cookies behind HTTPS, HSTS behind HTTPS.

use crate::common::{TestApp, PASSWORD};

/// A value of the shape the app issues, chosen by an attacker.
const TOSSED: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn set_cookies(r: &crate::common::Resp) -> Vec<String> {
    r.headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}

#[actix_web::test]
async fn a_planted_signed_out_csrf_cookie_is_refused() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    // Login CSRF: the attacker plants ld_csrf and submits the same value.
    let victim = app.client();
    victim.set_cookie("ld_csrf", TOSSED);
    let r = victim
        .post_raw(
            "/login",
            &[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("csrf_token", TOSSED),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(victim.cookie("ld_session").is_none());
    // The form the app serves carries a token derived from the cookie, not the cookie.
    let page = victim.get("/login").await;
    assert_eq!(page.status, 200);
    assert_ne!(victim.csrf_token(), TOSSED);
    assert!(!page.body.contains(TOSSED));
    let r = victim
        .post(
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 303, "the app's own form still works: {}", r.body);
    let plain = victim.get("/login").await;
    assert!(
        plain.header("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );
}

#[actix_web::test]
async fn behind_https_cookies_are_host_prefixed_and_hsts_is_sent() {
    let app = TestApp::with_config(|c| c.secure_cookies = true).await;
    let c = app.client();
    let page = c.get("/login").await;
    assert!(
        page.header("strict-transport-security")
            .is_some_and(|v| v.starts_with("max-age=")),
        "{:?}",
        page.headers
    );
    let cookies = set_cookies(&page);
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        assert!(cookie.starts_with("__Host-"), "{cookie}");
        assert!(
            cookie.contains("Secure") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
    // Sign-up and the signed-in pages work with the prefixed cookies.
    let r = c
        .post(
            "/signup",
            &[
                ("name", "Bo"),
                ("email", "bo@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("__Host-ld_session=")));
    assert_eq!(c.get("/dashboard").await.status, 200);
    // A cookie without the prefix (planted from a sibling host) is not read.
    let planted = app.client();
    planted.set_cookie("ld_csrf", TOSSED);
    let r = planted
        .post_raw(
            "/login",
            &[
                ("email", "bo@example.com"),
                ("password", PASSWORD),
                ("csrf_token", TOSSED),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let stolen = c.cookie("__Host-ld_session").expect("session cookie");
    let unprefixed = app.client();
    unprefixed.set_cookie("ld_session", &stolen);
    let r = unprefixed.get("/dashboard").await;
    assert_eq!(
        r.status, 303,
        "an unprefixed session cookie signs nobody in"
    );
}
