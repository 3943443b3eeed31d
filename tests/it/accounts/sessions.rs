//! The session list, ending sessions, idle timeout and absolute lifetime.

use std::time::Duration;

use super::*;
use crate::common::TestApp;

// ── sessions ─────────────────────────────────────────────────────────────

#[actix_web::test]
async fn sessions_are_listed_and_ending_one_stops_its_cookie_at_once() {
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    let laptop = app.login("ann@example.com").await;
    let phone = app.login("ann@example.com").await;
    let bob = app.signup("Bob", "bob@example.com").await;
    let page = me.get("/account/sessions").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        end_buttons(&page.body),
        2,
        "an end button for each other session"
    );
    assert!(page.body.contains("This device") && page.body.contains("127.0.0.1"));
    // Plain: end the laptop's session.
    let laptop_id = session_id_of(&app, &laptop);
    let r = me
        .post(&format!("/account/sessions/{laptop_id}/end"), &[])
        .await;
    assert_eq!((r.status, r.location()), (303, Some("/account/sessions")));
    assert!(!signed_in(&laptop).await);
    // HTMX: the card comes back without the phone.
    let phone_id = session_id_of(&app, &phone);
    let r = me
        .post_htmx(&format!("/account/sessions/{phone_id}/end"), &[])
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("sessions-card") && !r.body.contains(&phone_id.to_string()));
    assert!(r.body.contains("That session is signed out"));
    assert!(!signed_in(&phone).await);
    // Another user's session, a gone one, or garbage: 404 and nothing changes.
    let bob_id = session_id_of(&app, &bob);
    assert_eq!(
        me.post(&format!("/account/sessions/{bob_id}/end"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        me.post_htmx(&format!("/account/sessions/{bob_id}/end"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        me.post(&format!("/account/sessions/{phone_id}/end"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        me.post("/account/sessions/not-a-uuid/end", &[])
            .await
            .status,
        404
    );
    assert!(signed_in(&bob).await);
    assert!(signed_in(&me).await);
}

#[actix_web::test]
async fn ending_all_other_sessions_keeps_only_this_one() {
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    let others = [
        app.login("ann@example.com").await,
        app.login("ann@example.com").await,
    ];
    let bob = app.signup("Bob", "bob@example.com").await;
    me.get("/account/sessions").await;
    let r = me.post("/account/sessions/end-others", &[]).await;
    assert_eq!(r.status, 303);
    assert!(me
        .get("/account/sessions")
        .await
        .body
        .contains("2 other sessions are signed out."));
    for c in &others {
        assert!(!signed_in(c).await);
    }
    assert!(signed_in(&me).await && signed_in(&bob).await);
    assert_eq!(user_sessions(&app, "ann@example.com"), 1);
    let again = app.login("ann@example.com").await;
    let r = me.post_htmx("/account/sessions/end-others", &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("1 other session is signed out."));
    assert!(!signed_in(&again).await);
    // Ending this very session signs out.
    let mine = session_id_of(&app, &me);
    let r = me.post(&format!("/account/sessions/{mine}/end"), &[]).await;
    assert_eq!(r.location(), Some("/login"));
    assert_eq!(user_sessions(&app, "ann@example.com"), 0);
}

#[actix_web::test]
async fn sessions_end_after_the_idle_timeout() {
    let app = TestApp::with_config(|c| c.session_idle = Duration::from_secs(5 * 60)).await;
    let me = app.signup("Ann", "ann@example.com").await;
    exec(
        &app,
        "UPDATE sessions SET last_seen_at = now() - interval '4 minutes'",
    );
    assert!(signed_in(&me).await, "4 minutes idle is within 5");
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE last_seen_at > now() - interval '1 minute'"),
        1,
        "activity was recorded"
    );
    exec(
        &app,
        "UPDATE sessions SET last_seen_at = now() - interval '6 minutes'",
    );
    assert!(!signed_in(&me).await, "6 minutes idle ends the session");
    // The idle one no longer shows in the list either.
    let fresh = app.login("ann@example.com").await;
    let page = fresh.get("/account/sessions").await;
    assert_eq!(end_buttons(&page.body), 0);
    // Default configuration: 120 minutes.
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    exec(
        &app,
        "UPDATE sessions SET last_seen_at = now() - interval '119 minutes'",
    );
    assert!(signed_in(&me).await);
    exec(
        &app,
        "UPDATE sessions SET last_seen_at = now() - interval '121 minutes'",
    );
    assert!(!signed_in(&me).await);
}

#[actix_web::test]
async fn sessions_end_after_their_absolute_lifetime() {
    let app = TestApp::with_config(|c| c.session_lifetime = Duration::from_secs(3600)).await;
    let me = app.signup("Ann", "ann@example.com").await;
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE expires_at BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes'"),
        1,
        "lifetime taken from the configuration"
    );
    // Active all along, but past its lifetime: refused all the same.
    exec(&app, "UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second'");
    assert!(!signed_in(&me).await);
    let r = me.get("/account").await;
    assert_eq!((r.status, r.location()), (303, Some("/login")));
}

#[actix_web::test]
async fn the_cleanup_job_removes_dead_sessions_and_old_tokens() {
    let app = TestApp::new().await;
    let me = app.signup("Ann", "ann@example.com").await;
    app.login("ann@example.com").await;
    exec(&app, "UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE id = (SELECT id FROM sessions ORDER BY created_at LIMIT 1)");
    exec(
        &app,
        "UPDATE account_tokens SET expires_at = now() - interval '2 days'",
    );
    let mut conn = app.conn();
    let removed = lead_dashboard::jobs::account_cleanup::run(
        &mut conn,
        &lead_dashboard::db::SystemAccess::grant_at_startup(),
        &app.state.config,
        app.now(),
    )
    .unwrap();
    assert_eq!(removed, 2);
    assert_eq!(user_sessions(&app, "ann@example.com"), 1);
    assert_eq!(app.count("SELECT count(*) FROM account_tokens"), 0);
    drop(me);
}
