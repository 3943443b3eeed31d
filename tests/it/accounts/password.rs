//! Password change, forgotten-password reset and their rate limits.

use std::time::{Duration, Instant};

use super::*;
use crate::common::{TestApp, PASSWORD};

// ── forgot password / reset ──────────────────────────────────────────────

#[actix_web::test]
async fn forgot_password_answers_identically_for_known_and_unknown_addresses() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    let c = app.client();
    c.get("/password/forgot").await;
    let started = Instant::now();
    let known = c
        .post("/password/forgot", &[("email", "ann@example.com")])
        .await;
    let known_time = started.elapsed();
    let started = Instant::now();
    let unknown = c
        .post("/password/forgot", &[("email", "nobody@example.com")])
        .await;
    let unknown_time = started.elapsed();
    assert_eq!(
        (known.status, known.location()),
        (303, Some("/password/forgot/sent"))
    );
    assert_eq!(
        (unknown.status, unknown.location()),
        (known.status, known.location())
    );
    assert_eq!(known.body, unknown.body);
    // Both take at least the padded minimum, whatever work was done.
    assert!(known_time >= Duration::from_millis(300), "{known_time:?}");
    assert!(
        unknown_time >= Duration::from_millis(300),
        "{unknown_time:?}"
    );
    let sent = c.get("/password/forgot/sent").await;
    assert!(sent.body.contains("If an account uses that address"));
    // HTMX: the same fragment for both.
    let known = c
        .post_htmx("/password/forgot", &[("email", "ann@example.com")])
        .await;
    let unknown = c
        .post_htmx("/password/forgot", &[("email", "nobody@example.com")])
        .await;
    assert_eq!((known.status, unknown.status), (200, 200));
    assert_eq!(known.body, unknown.body);
    assert!(known.body.contains("forgot-card") && !known.body.contains("<html"));
    // Mail went only to the real account.
    assert_eq!(mails(&app, "ann@example.com", "Reset your password"), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE to_email = 'nobody@example.com'"),
        0
    );
    // A malformed address is a field error, not an answer about accounts.
    let bad = c
        .post("/password/forgot", &[("email", "not an email")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("valid email"));
}

#[actix_web::test]
async fn reset_link_is_hash_only_single_use_and_sets_the_password() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    assert_eq!(request_reset(&app, "ann@example.com").await.status, 303);
    let body = last_mail(&app, "ann@example.com", "Reset your password");
    let token = token_in(&body, "/password/reset/");
    assert!(body.contains(&format!("{}/password/reset/", app.state.config.public_url)));
    // Only the hash is stored; the raw token appears nowhere in the table.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM account_tokens WHERE token_hash = sha256(convert_to('{token}', 'UTF8')) \
             AND purpose = 'password_reset' AND expires_at BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes'"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM account_tokens WHERE position(convert_to('{token}', 'UTF8') in token_hash) > 0 \
             OR coalesce(new_email, '') LIKE '%{token}%' OR encode(token_hash, 'escape') LIKE '%{token}%'"
        )),
        0
    );
    let path = format!("/password/reset/{token}");
    let c = app.client();
    let form = c.get(&path).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Choose a new password"));
    // Too short: the form again, the token still usable.
    let short = c.post(&path, &[("password", "short")]).await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("at least 8"));
    let htmx_short = c.post_htmx(&path, &[("password", "short")]).await;
    assert_eq!(htmx_short.status, 422);
    assert!(htmx_short.body.contains("reset-card") && !htmx_short.body.contains("<html"));
    let done = c.post(&path, &[("password", "a brand new secret")]).await;
    assert_eq!((done.status, done.location()), (303, Some("/dashboard")));
    assert!(signed_in(&c).await, "the resetting browser is signed in");
    assert_eq!(
        sign_in(&app, "ann@example.com", "a brand new secret")
            .await
            .1
            .status,
        303
    );
    assert_eq!(
        sign_in(&app, "ann@example.com", PASSWORD).await.1.status,
        422
    );
    assert_eq!(
        mails(&app, "ann@example.com", "Your password was changed"),
        1
    );
    // Used once: the link is dead, and a second POST changes nothing.
    let again = app.client();
    assert_eq!(again.get(&path).await.status, 404);
    again.get("/password/forgot").await;
    let replay = again
        .post(&path, &[("password", "attacker password")])
        .await;
    assert_eq!(replay.status, 404);
    assert!(replay.body.contains("no longer works"));
    assert_eq!(
        sign_in(&app, "ann@example.com", "attacker password")
            .await
            .1
            .status,
        422
    );
}

#[actix_web::test]
async fn reset_links_expire_and_only_the_newest_works() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    request_reset(&app, "ann@example.com").await;
    let first = token_in(
        &last_mail(&app, "ann@example.com", "Reset your password"),
        "/password/reset/",
    );
    request_reset(&app, "ann@example.com").await;
    let second = token_in(
        &last_mail(&app, "ann@example.com", "Reset your password"),
        "/password/reset/",
    );
    assert_ne!(first, second);
    let c = app.client();
    assert_eq!(
        c.get(&format!("/password/reset/{first}")).await.status,
        404,
        "superseded"
    );
    assert_eq!(
        c.get(&format!("/password/reset/{second}")).await.status,
        200
    );
    exec(
        &app,
        "UPDATE account_tokens SET expires_at = now() - interval '1 second'",
    );
    assert_eq!(
        c.get(&format!("/password/reset/{second}")).await.status,
        404,
        "expired"
    );
    c.get("/password/forgot").await;
    let r = c
        .post(
            &format!("/password/reset/{second}"),
            &[("password", "too late password")],
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        sign_in(&app, "ann@example.com", PASSWORD).await.1.status,
        303,
        "unchanged"
    );
    assert_eq!(c.get("/password/reset/x").await.status, 404);
}

#[actix_web::test]
async fn a_reset_ends_every_session_of_the_user() {
    let app = TestApp::new().await;
    let first = app.signup("Ann", "ann@example.com").await;
    let second = app.login("ann@example.com").await;
    let bob = app.signup("Bob", "bob@example.com").await;
    assert_eq!(user_sessions(&app, "ann@example.com"), 2);
    request_reset(&app, "ann@example.com").await;
    let token = token_in(
        &last_mail(&app, "ann@example.com", "Reset your password"),
        "/password/reset/",
    );
    let c = app.client();
    c.get(&format!("/password/reset/{token}")).await;
    let r = c
        .post_htmx(
            &format!("/password/reset/{token}"),
            &[("password", "a brand new secret")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("hx-redirect"), Some("/dashboard"));
    assert!(!signed_in(&first).await);
    assert!(!signed_in(&second).await);
    assert!(
        signed_in(&c).await,
        "the new session set by the reset works"
    );
    assert_eq!(user_sessions(&app, "ann@example.com"), 1);
    assert!(signed_in(&bob).await, "other users keep their sessions");
}

#[actix_web::test]
async fn forgot_password_is_rate_limited_per_email_and_per_address() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    let c = app.client();
    c.get("/password/forgot").await;
    for _ in 0..5 {
        let r = c
            .post("/password/forgot", &[("email", "ann@example.com")])
            .await;
        assert_eq!(r.status, 303);
    }
    let limited = c
        .post("/password/forgot", &[("email", "ann@example.com")])
        .await;
    assert_eq!(limited.status, 429);
    assert!(limited.body.contains("Too many reset requests"));
    assert_eq!(mails(&app, "ann@example.com", "Reset your password"), 5);
    // The same limit for an address without an account: nothing to learn.
    for _ in 0..5 {
        c.post("/password/forgot", &[("email", "ghost@example.com")])
            .await;
    }
    let ghost = c
        .post("/password/forgot", &[("email", "ghost@example.com")])
        .await;
    assert_eq!(ghost.status, 429);
    // Another address from the same network address still works…
    let other = c
        .post("/password/forgot", &[("email", "x1@example.com")])
        .await;
    assert_eq!(other.status, 303);
    // …until the per-address limit (20 an hour) is reached.
    for i in 2..=8 {
        c.post(
            "/password/forgot",
            &[("email", &format!("x{i}@example.com"))],
        )
        .await;
    }
    let r = c
        .post("/password/forgot", &[("email", "fresh@example.com")])
        .await;
    assert_eq!(r.status, 429);
    let htmx = c
        .post_htmx("/password/forgot", &[("email", "fresh2@example.com")])
        .await;
    assert_eq!(htmx.status, 429);
    assert!(htmx.body.contains("forgot-card") && !htmx.body.contains("<html"));
}

// ── password change ──────────────────────────────────────────────────────

#[actix_web::test]
async fn password_change_ends_other_sessions_and_renews_the_current_one() {
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    let other = app.login("ann@example.com").await;
    me.get("/account").await;
    let old_cookie = me.cookie("ld_session").unwrap();
    // Wrong current password: nothing changes.
    let wrong = me
        .post(
            "/account/password",
            &[
                ("current_password", "not my password"),
                ("new_password", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("not your current password"));
    assert!(signed_in(&other).await);
    let short = me
        .post_htmx(
            "/account/password",
            &[("current_password", PASSWORD), ("new_password", "short")],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("password-card") && short.body.contains("at least 8"));
    // Changed: other session gone, this one renewed with a new cookie.
    let r = me
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, Some("/account")));
    assert!(me
        .get("/account")
        .await
        .body
        .contains("Your password is changed"));
    let new_cookie = me.cookie("ld_session").unwrap();
    assert_ne!(old_cookie, new_cookie, "session token renewed");
    assert!(!signed_in(&other).await, "other session ended");
    assert!(
        !signed_in(&with_cookie(&app, &old_cookie)).await,
        "old cookie refused"
    );
    assert!(signed_in(&me).await, "current browser stays signed in");
    assert_eq!(user_sessions(&app, "ann@example.com"), 1);
    assert_eq!(
        mails(&app, "ann@example.com", "Your password was changed"),
        1
    );
    assert_eq!(
        sign_in(&app, "ann@example.com", "a brand new secret")
            .await
            .1
            .status,
        303
    );
    // HTMX: the card with a confirmation, a new cookie, and the page's CSRF
    // token keeps working for the next request.
    let before = me.cookie("ld_session").unwrap();
    let token_before = me.csrf_token();
    let r = me
        .post_htmx(
            "/account/password",
            &[
                ("current_password", "a brand new secret"),
                ("new_password", "yet another secret"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("password-card") && r.body.contains("Your password is changed"));
    assert_ne!(me.cookie("ld_session").unwrap(), before);
    let next = me.post_htmx("/account", &[("name", "Ann B")]).await;
    assert_eq!(next.status, 200, "same CSRF token after renewal");
    assert_eq!(
        me.csrf_token(),
        token_before,
        "the page's CSRF token is kept"
    );
    assert_eq!(
        user_sessions(&app, "ann@example.com"),
        1,
        "the sign-in above was ended too"
    );
}

#[actix_web::test]
async fn wrong_current_passwords_are_rate_limited() {
    let app = TestApp::with_config(|c| c.login_attempts_per_window = 2).await;
    let me = app.signup("Ann", "ann@example.com").await;
    let bad = [
        ("current_password", "wrong one"),
        ("new_password", "a brand new secret"),
    ];
    assert_eq!(me.post("/account/password", &bad).await.status, 422);
    assert_eq!(me.post("/account/password", &bad).await.status, 422);
    let locked = me
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(locked.status, 429, "even the right password waits");
    assert!(locked.body.contains("Too many wrong passwords"));
    assert_eq!(
        sign_in(&app, "ann@example.com", PASSWORD).await.1.status,
        303
    );
}
