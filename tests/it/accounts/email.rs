//! Profile name, email verification and email change.

use super::*;
use crate::common::{TestApp, PASSWORD};

// ── profile and email ────────────────────────────────────────────────────

#[actix_web::test]
async fn profile_name_is_validated_and_saved() {
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    let page = me.get("/account").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ann@example.com") && page.body.contains("Profile"));
    for bad in ["", "<script>alert(1)</script>", &"x".repeat(101), "a\u{0}b"] {
        let r = me.post("/account", &[("name", bad)]).await;
        assert_eq!(r.status, 422, "{bad:?}");
    }
    let r = me.post_htmx("/account", &[("name", "<b>Ann</b>")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("cannot contain"));
    assert_eq!(
        text_of(&app, "SELECT name FROM users").as_deref(),
        Some("Ann")
    );
    let r = me.post("/account", &[("name", "  Ann Berger ")]).await;
    assert_eq!((r.status, r.location()), (303, Some("/account")));
    assert_eq!(
        text_of(&app, "SELECT name FROM users").as_deref(),
        Some("Ann Berger")
    );
    assert!(me
        .get("/account")
        .await
        .body
        .contains("Your name is saved."));
    let r = me.post_htmx("/account", &[("name", "Ann C")]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("profile-card") && r.body.contains("Your name is saved."));
    // Sign-up refuses markup in names too.
    let c = app.client();
    c.get("/signup").await;
    let r = c
        .post(
            "/signup",
            &[
                ("name", "<i>x</i>"),
                ("email", "x@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
}

#[actix_web::test]
async fn email_changes_only_when_the_new_address_confirms() {
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    app.signup("Bob", "bob@example.com").await;
    me.get("/account").await;
    let change = |email: &'static str, pw: &'static str| {
        let me = &me;
        async move {
            me.post(
                "/account/email",
                &[("new_email", email), ("email_password", pw)],
            )
            .await
        }
    };
    assert_eq!(
        change("ann.new@example.com", "wrong password").await.status,
        422
    );
    assert_eq!(change("not-an-email", PASSWORD).await.status, 422);
    assert_eq!(change("ann@example.com", PASSWORD).await.status, 422);
    let taken = change("bob@example.com", PASSWORD).await;
    assert_eq!(taken.status, 422);
    assert!(taken
        .body
        .contains("Another account already uses this address"));
    assert_eq!(
        app.count("SELECT count(*) FROM account_tokens WHERE purpose = 'change_email'"),
        0
    );
    let r = change("Ann.New@Example.com", PASSWORD).await;
    assert_eq!((r.status, r.location()), (303, Some("/account")));
    // Nothing changed yet: the old address still signs in, the new one does not.
    assert_eq!(
        text_of(&app, "SELECT email FROM users WHERE name = 'Ann'").as_deref(),
        Some("ann@example.com")
    );
    assert_eq!(
        sign_in(&app, "ann@example.com", PASSWORD).await.1.status,
        303
    );
    assert_eq!(
        sign_in(&app, "ann.new@example.com", PASSWORD)
            .await
            .1
            .status,
        422
    );
    let page = me.get("/account").await;
    assert!(
        page.body.contains("We sent a confirmation link to")
            && page.body.contains("ann.new@example.com")
    );
    let mail = last_mail(
        &app,
        "ann.new@example.com",
        "Confirm your new email address",
    );
    let token = token_in(&mail, "/account/email/confirm/");
    // Opening the link only shows a button: a mail scanner's fetch changes nothing.
    let page = me.get(&format!("/account/email/confirm/{token}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<button") && page.body.contains("Confirm your new email address"));
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'ann.new@example.com'"),
        0
    );
    let r = me
        .post(&format!("/account/email/confirm/{token}"), &[])
        .await;
    assert_eq!((r.status, r.location()), (303, Some("/account")));
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'ann.new@example.com' AND email_verified_at IS NOT NULL"),
        1
    );
    assert_eq!(
        sign_in(&app, "ann@example.com", PASSWORD).await.1.status,
        422
    );
    assert_eq!(
        sign_in(&app, "ann.new@example.com", PASSWORD)
            .await
            .1
            .status,
        303
    );
    assert_eq!(
        mails(&app, "ann@example.com", "Your email address was changed"),
        1
    );
    assert_eq!(
        me.get(&format!("/account/email/confirm/{token}"))
            .await
            .status,
        404,
        "single use"
    );
}

#[actix_web::test]
async fn an_email_change_fails_when_the_address_was_taken_meanwhile() {
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    me.get("/account").await;
    let r = me
        .post_htmx(
            "/account/email",
            &[
                ("new_email", "shared@example.com"),
                ("email_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("email-card") && r.body.contains("We sent a confirmation link"));
    let token = token_in(
        &last_mail(&app, "shared@example.com", "Confirm your new email address"),
        "/account/email/confirm/",
    );
    app.signup("Sam", "shared@example.com").await;
    let anon = app.client();
    anon.get(&format!("/account/email/confirm/{token}")).await;
    let r = anon
        .post(&format!("/account/email/confirm/{token}"), &[])
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        text_of(&app, "SELECT email FROM users WHERE name = 'Ann'").as_deref(),
        Some("ann@example.com")
    );
}

// ── email verification ───────────────────────────────────────────────────

#[actix_web::test]
async fn sign_up_sends_a_verification_link_and_the_link_confirms() {
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'account' AND organization_id IS NULL AND to_email = 'ann@example.com'"),
        1
    );
    let mail = last_mail(&app, "ann@example.com", "Confirm your email address");
    let token = token_in(&mail, "/account/verify/");
    let dash = me.get("/dashboard").await;
    assert!(dash.body.contains("Please confirm your email address"));
    let account = me.get("/account").await;
    assert!(account.body.contains("Not confirmed") && account.body.contains("Resend the link"));
    let page = me.get(&format!("/account/verify/{token}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<button") && page.body.contains("Confirm your email address"));
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email_verified_at IS NOT NULL"),
        0,
        "opening the link confirms nothing"
    );
    let r = me.post(&format!("/account/verify/{token}"), &[]).await;
    assert_eq!((r.status, r.location()), (303, Some("/account")));
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email_verified_at IS NOT NULL"),
        1
    );
    let dash = me.get("/dashboard").await;
    assert!(!dash.body.contains("Please confirm your email address"));
    assert_eq!(
        me.get(&format!("/account/verify/{token}")).await.status,
        404,
        "single use"
    );
    // Opened in a browser that is not signed in.
    app.signup("Bob", "bob@example.com").await;
    let token = token_in(
        &last_mail(&app, "bob@example.com", "Confirm your email address"),
        "/account/verify/",
    );
    let anon = app.client();
    anon.get(&format!("/account/verify/{token}")).await;
    let r = anon.post(&format!("/account/verify/{token}"), &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Email address confirmed"));
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email_verified_at IS NOT NULL"),
        2
    );
}

#[actix_web::test]
async fn a_verification_link_for_an_old_address_confirms_nothing() {
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    let token = token_in(
        &last_mail(&app, "ann@example.com", "Confirm your email address"),
        "/account/verify/",
    );
    // The address changed by other means (e.g. an administrator) after the link went out.
    exec(&app, "UPDATE users SET email = 'other@example.com'");
    assert_eq!(
        me.post(&format!("/account/verify/{token}"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email_verified_at IS NOT NULL"),
        0
    );
}

#[actix_web::test]
async fn verification_resend_is_rate_limited() {
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    me.get("/account").await;
    let first = me.post("/account/verify/resend", &[]).await;
    assert_eq!((first.status, first.location()), (303, Some("/account")));
    let htmx = me.post_htmx("/account/verify/resend", &[]).await;
    assert_eq!(htmx.status, 200);
    assert!(
        htmx.body.contains("email-card") && htmx.body.contains("We sent a new confirmation link")
    );
    assert_eq!(me.post("/account/verify/resend", &[]).await.status, 303);
    let limited = me.post("/account/verify/resend", &[]).await;
    assert_eq!(limited.status, 429);
    assert!(limited.body.contains("several links"));
    assert_eq!(
        me.post_htmx("/account/verify/resend", &[]).await.status,
        429
    );
    assert_eq!(
        mails(&app, "ann@example.com", "Confirm your email address"),
        4,
        "sign-up + 3"
    );
    // Only the newest link works.
    assert_eq!(
        app.count("SELECT count(*) FROM account_tokens WHERE purpose = 'verify_email' AND used_at IS NULL"),
        1
    );
    // Once confirmed, nothing more is sent.
    app.verify_email("ann@example.com");
    let me = app.login("ann@example.com").await;
    me.get("/account").await;
    let r = me.post_htmx("/account/verify/resend", &[]).await;
    assert!(r.body.contains("already confirmed"));
    assert_eq!(
        mails(&app, "ann@example.com", "Confirm your email address"),
        4
    );
}
