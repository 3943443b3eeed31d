//! Expensive work stays bounded: a flood of password posts costs no hashes
//! (or at most the limit's worth), the server stays small and answers
//! `/healthz` meanwhile, and every limit on hashing or on creating
//! accounts and organizations holds under parallel requests.

use futures_util::future::join_all;

use crate::common::{Client, TestApp};

/// The process's peak resident memory so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A fresh anonymous browser that has loaded `page` (and so holds the
/// anonymous CSRF cookie and token).
async fn browser(app: &TestApp, page: &str) -> Client {
    let c = app.client();
    assert_eq!(c.get(page).await.status, 200);
    c
}

fn tally(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[actix_web::test]
async fn a_flood_of_made_up_reset_links_hashes_nothing_and_health_answers() {
    let app = TestApp::new().await;
    let c = browser(&app, "/password/forgot").await;
    let hashes_before = app.state.hasher.performed();
    let rss_before = peak_rss_kib();
    let flood = join_all((0..64).map(|i| {
        let path = format!("/password/reset/bogus-token-{i}");
        let c = &c;
        async move {
            c.post(&path, &[("password", "a long enough new password")])
                .await
                .status
        }
    }));
    let health = async {
        let h = app.client();
        h.get("/healthz").await.status
    };
    let (statuses, health) = futures_util::future::join(flood, health).await;
    let rss_growth_mib = peak_rss_kib().saturating_sub(rss_before) / 1024;
    println!(
        "reset flood: 64 posts, {} hashes, peak RSS grew {rss_growth_mib} MiB",
        app.state.hasher.performed() - hashes_before
    );
    assert!(
        statuses.iter().all(|s| [400, 404, 429].contains(s)),
        "answers: {statuses:?}"
    );
    assert_eq!(tally(&statuses, 404), 64, "a made-up link is not found");
    assert_eq!(
        app.state.hasher.performed(),
        hashes_before,
        "a made-up link costs no hash"
    );
    assert!(rss_growth_mib < 256, "peak RSS grew {rss_growth_mib} MiB");
    assert_eq!(health, 200, "/healthz answers during the flood");
}

#[actix_web::test]
async fn hashes_that_do_run_wait_their_turn_and_memory_stays_bounded() {
    // A limit high enough that all 64 sign-ins are verified: what bounds
    // them is the hashing queue alone (as for a flood from many addresses).
    let app = TestApp::with_config(|c| c.login_attempts_per_window = 1000).await;
    let c = browser(&app, "/login").await;
    let hashes_before = app.state.hasher.performed();
    let rss_before = peak_rss_kib();
    let flood = join_all((0..64).map(|i| {
        let (c, email) = (&c, format!("nobody{i}@example.com"));
        async move {
            c.post(
                "/login",
                &[("email", &email), ("password", "wrong password")],
            )
            .await
            .status
        }
    }));
    let health = async { app.client().get("/healthz").await.status };
    let (statuses, health) = futures_util::future::join(flood, health).await;
    let rss_growth_mib = peak_rss_kib().saturating_sub(rss_before) / 1024;
    let hasher = &app.state.hasher;
    println!(
        "sign-in flood: 64 posts, {} hashes, at most {} at once, peak RSS grew {rss_growth_mib} MiB",
        hasher.performed() - hashes_before,
        hasher.peak()
    );
    assert_eq!(tally(&statuses, 422), 64, "answers: {statuses:?}");
    assert_eq!(hasher.performed() - hashes_before, 64);
    assert!(hasher.peak() <= hasher.parallelism());
    assert!(rss_growth_mib < 256, "peak RSS grew {rss_growth_mib} MiB");
    assert_eq!(health, 200, "/healthz answers during the flood");
}

#[actix_web::test]
async fn parallel_wrong_passwords_reach_verification_only_up_to_the_limit() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    let limit = app.state.config.login_attempts_per_window as usize;
    let c = browser(&app, "/login").await;
    let hashes_before = app.state.hasher.performed();
    let attempts = join_all((0..limit * 3).map(|_| {
        let c = &c;
        async move {
            c.post(
                "/login",
                &[("email", "ann@example.com"), ("password", "wrong password")],
            )
            .await
            .status
        }
    }))
    .await;
    assert_eq!(tally(&attempts, 422), limit, "answers: {attempts:?}");
    assert_eq!(tally(&attempts, 429), limit * 2, "answers: {attempts:?}");
    assert_eq!(
        app.state.hasher.performed() - hashes_before,
        limit as u64,
        "only the attempts within the limit are verified"
    );
    assert!(
        app.state.hasher.peak() <= app.state.hasher.parallelism(),
        "no more hashes at once than permits"
    );
}

#[actix_web::test]
async fn parallel_wrong_current_passwords_are_limited_like_sign_ins() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    ann.get("/account").await;
    let limit = app.state.config.login_attempts_per_window as usize;
    let hashes_before = app.state.hasher.performed();
    let attempts = join_all((0..limit * 2).map(|_| {
        let ann = &ann;
        async move {
            ann.post(
                "/account/password",
                &[
                    ("current_password", "not my password"),
                    ("new_password", "a brand new password"),
                ],
            )
            .await
            .status
        }
    }))
    .await;
    assert_eq!(tally(&attempts, 422), limit, "answers: {attempts:?}");
    assert_eq!(tally(&attempts, 429), limit, "answers: {attempts:?}");
    assert_eq!(app.state.hasher.performed() - hashes_before, limit as u64);
}

#[actix_web::test]
async fn sign_ups_past_the_address_limit_answer_429_and_a_taken_address_costs_no_hash() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    let again = browser(&app, "/signup").await;
    let hashes_before = app.state.hasher.performed();
    let taken = again
        .post(
            "/signup",
            &[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("password", "another good password"),
            ],
        )
        .await;
    assert_eq!(taken.status, 422);
    assert!(taken.body.contains("already exists"));
    assert_eq!(
        app.state.hasher.performed(),
        hashes_before,
        "no hash for a taken address"
    );

    // Two slots of ten are used; twelve parallel sign-ups get eight.
    let mut browsers = Vec::new();
    for _ in 0..12 {
        browsers.push(browser(&app, "/signup").await);
    }
    let answers = join_all(browsers.iter().enumerate().map(|(i, c)| async move {
        // Names differ so that no two sign-ups race for one slug.
        let (name, email) = (format!("Someone {i}"), format!("user{i}@example.com"));
        c.post(
            "/signup",
            &[
                ("name", &name),
                ("email", &email),
                ("password", "a good password"),
            ],
        )
        .await
    }))
    .await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(tally(&statuses, 303), 8, "answers: {statuses:?}");
    assert_eq!(tally(&statuses, 429), 4, "answers: {statuses:?}");
    let refused = answers.iter().find(|r| r.status == 429).unwrap();
    assert!(
        refused.body.contains("Too many sign-ups"),
        "{}",
        refused.body
    );
    assert_eq!(app.count("SELECT count(*) FROM users"), 9);
}

#[actix_web::test]
async fn organization_creation_past_the_account_limit_answers_429() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    ann.get("/orgs").await;
    let answers = join_all((0..8).map(|i| {
        let ann = &ann;
        async move {
            let name = format!("Side Business {i}");
            ann.post("/orgs", &[("name", &name)]).await
        }
    }))
    .await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(tally(&statuses, 303), 5, "answers: {statuses:?}");
    assert_eq!(tally(&statuses, 429), 3, "answers: {statuses:?}");
    let refused = answers.iter().find(|r| r.status == 429).unwrap();
    assert!(refused.body.contains("too many organizations"));
    assert_eq!(
        app.count("SELECT count(*) FROM organization_members m JOIN users u ON u.id = m.user_id WHERE u.email = 'ann@example.com'"),
        6,
        "the sign-up's own organization and five more"
    );
}

/// Under a flood, refused attempts must not queue on the bucket's row: one
/// row lock serialised them (with a WAL flush each) and they held every
/// pooled connection, so `/healthz` waited behind them. Here a transaction
/// holds that lock, as an attempt in flight would: a full window is still
/// refused at once (before: the refusal waited for the lock and timed out).
#[actix_web::test]
async fn a_full_window_is_refused_without_waiting_for_its_row_lock() {
    use diesel::prelude::*;
    use lead_dashboard::db::rate_limit;

    let app = TestApp::new().await;
    let (bucket, window, now) = (
        "flood:test",
        chrono::Duration::minutes(15),
        chrono::Utc::now(),
    );
    let (mut holder, mut other) = (app.conn(), app.conn());
    for _ in 0..3 {
        assert!(rate_limit::reserve(&mut holder, bucket, 3, window, now).unwrap());
    }
    diesel::sql_query("SET lock_timeout = '300ms'")
        .execute(&mut other)
        .unwrap();
    holder
        .transaction(|holder| -> QueryResult<()> {
            diesel::sql_query("SELECT 1 FROM rate_limits WHERE bucket = $1 FOR UPDATE")
                .bind::<diesel::sql_types::Text, _>(bucket)
                .execute(holder)?;
            let refused = rate_limit::reserve(&mut other, bucket, 3, window, now);
            assert_eq!(refused, Ok(false), "a full window answers without the lock");
            Ok(())
        })
        .unwrap();
    assert!(rate_limit::reserve(&mut other, "flood:other", 3, window, now).unwrap());
}
