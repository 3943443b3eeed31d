//! Running in production: the client behind `TRUSTED_PROXIES` (rate limits,
//! session records, secure cookies), `/readyz` and `/metrics`, and the
//! release of claimed jobs when an instance goes away.

use crate::common::{TestApp, PASSWORD};

/// A wrong-password sign-in as sent through a proxy that forwarded `xff`.
async fn sign_in_from(app: &TestApp, email: &str, password: &str, xff: &str) -> u16 {
    let c = app.client();
    c.get("/login").await;
    let body = serde_urlencoded::to_string([
        ("email", email),
        ("password", password),
        ("csrf_token", &c.csrf_token()),
    ])
    .unwrap();
    c.post_body(
        "/login",
        "application/x-www-form-urlencoded",
        body.into_bytes(),
        &[("X-Forwarded-For", xff), ("X-Forwarded-Proto", "http")],
    )
    .await
    .status
}

/// Locks one address with wrong passwords (for unknown accounts, so only
/// the address bucket fills), then signs Ann in from another one.
async fn other_address_after_a_lockout(app: &TestApp) -> u16 {
    for n in 0..3 {
        let status = sign_in_from(
            app,
            &format!("nobody{n}@example.com"),
            "wrong",
            "203.0.113.1",
        )
        .await;
        assert_eq!(status, 422);
    }
    assert_eq!(
        sign_in_from(app, "nobody9@example.com", "wrong", "203.0.113.1").await,
        429,
        "the address is locked"
    );
    sign_in_from(app, "ann@example.com", PASSWORD, "203.0.113.2").await
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_address() {
    let app = TestApp::with_config(|c| {
        c.login_attempts_per_window = 3;
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    app.signup("Ann", "ann@example.com").await;
    assert_eq!(
        other_address_after_a_lockout(&app).await,
        303,
        "another client behind the same proxy signs in"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE ip = '203.0.113.2'"),
        1,
        "the session records the client"
    );
}

#[actix_web::test]
async fn an_untrusted_peer_cannot_choose_its_address() {
    let app = TestApp::with_config(|c| {
        c.login_attempts_per_window = 3;
        c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    app.signup("Ann", "ann@example.com").await;
    assert_eq!(
        other_address_after_a_lockout(&app).await,
        429,
        "a spoofed X-Forwarded-For is ignored: the peer's address is locked"
    );
}

#[actix_web::test]
async fn plain_http_through_a_trusted_proxy_is_sent_to_https() {
    let app = TestApp::with_config(|c| {
        c.secure_cookies = true;
        c.public_url = "https://leads.example.com".into();
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let c = app.client();
    let r = c
        .post_body(
            "/login?next=%2Fleads",
            "application/x-www-form-urlencoded",
            b"email=a%40example.com".to_vec(),
            &[("X-Forwarded-Proto", "http")],
        )
        .await;
    assert_eq!(r.status, 308);
    assert_eq!(
        r.location(),
        Some("https://leads.example.com/login?next=%2Fleads")
    );
    assert!(
        r.header("set-cookie").is_none(),
        "no cookie over plain http"
    );
    let https = c
        .post_body(
            "/login",
            "text/plain",
            vec![],
            &[("X-Forwarded-Proto", "https")],
        )
        .await;
    assert_ne!(https.status, 308, "https requests are served");
    // Without trusted proxies the header means nothing.
    let app = TestApp::with_config(|c| {
        c.secure_cookies = true;
        c.public_url = "https://leads.example.com".into();
    })
    .await;
    let r = app
        .client()
        .post_body(
            "/login",
            "text/plain",
            vec![],
            &[("X-Forwarded-Proto", "http")],
        )
        .await;
    assert_ne!(r.status, 308);
}

/// An instance that dies while claiming (its connection closes with the
/// claim's transaction open, before the mail is marked 'sending') loses
/// nothing: the row lock goes with the connection and another instance
/// claims the same mail; while the first holds it, nobody else can (no
/// double send). A death after the claim is covered in mailbox_sending.rs.
#[actix_web::test]
async fn a_claim_held_by_a_dead_instance_is_taken_over() {
    use diesel::connection::SimpleConnection;
    use lead_dashboard::db::outbox::lock_due;
    let claim_due = |conn: &mut diesel::PgConnection, at| lock_due(conn, true, at);

    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    let due = app.now() + chrono::Duration::minutes(1);
    let mut first = app.conn();
    first.batch_execute("BEGIN").unwrap();
    let claimed = claim_due(&mut first, due).unwrap().expect("a pending mail");
    let mut second = app.conn();
    second.batch_execute("BEGIN").unwrap();
    assert!(
        claim_due(&mut second, due).unwrap().is_none(),
        "a claimed mail is skipped by other workers"
    );
    second.batch_execute("ROLLBACK").unwrap();
    drop(first); // the instance is gone: its connection closed mid-transaction
                 // The server notices the closed connection a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let again = loop {
        second.batch_execute("BEGIN").unwrap();
        if let Some(mail) = claim_due(&mut second, due).unwrap() {
            break mail;
        }
        second.batch_execute("ROLLBACK").unwrap();
        assert!(
            std::time::Instant::now() < deadline,
            "the mail was reclaimed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(again.id, claimed.id);
    second.batch_execute("ROLLBACK").unwrap();
}

static ITEMS_DONE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A job of 50 items of 50 ms each that stops between items on shutdown.
fn slow_items(
    _: &mut diesel::PgConnection,
    _: &lead_dashboard::db::SystemAccess,
    _: &lead_dashboard::config::Config,
    _: chrono::DateTime<chrono::Utc>,
) -> Result<usize, String> {
    let mut handled = 0;
    while handled < 50 && !lead_dashboard::jobs::stopping() {
        std::thread::sleep(std::time::Duration::from_millis(50));
        ITEMS_DONE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        handled += 1;
    }
    Ok(handled)
}

#[actix_web::test]
async fn stopping_workers_finish_their_current_item_and_start_no_other() {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    let app = TestApp::new().await;
    let workers = lead_dashboard::jobs::spawn_schedule(
        app.state.clone().into_inner(),
        lead_dashboard::db::SystemAccess::grant_at_startup(),
        vec![("slow", Duration::from_millis(10), slow_items)],
    );
    let started = std::time::Instant::now();
    while ITEMS_DONE.load(Ordering::SeqCst) < 3 {
        assert!(started.elapsed() < Duration::from_secs(10), "the job runs");
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(workers.running(), 1);
    let stopping = std::time::Instant::now();
    assert!(
        workers.stop(Duration::from_secs(5)).await,
        "finished within the grace"
    );
    let took = stopping.elapsed();
    let done = ITEMS_DONE.load(Ordering::SeqCst);
    assert!(
        done < 50,
        "the pass stopped after its current item ({done} done)"
    );
    assert!(
        took < Duration::from_millis(500),
        "no waiting for the rest: {took:?}"
    );
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        ITEMS_DONE.load(Ordering::SeqCst),
        done,
        "no pass starts after stop"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_web::test]
async fn metrics_are_served_on_their_own_address_only() {
    let app = TestApp::new().await;
    let port = free_port();
    let server = lead_dashboard::observe::metrics_server(
        app.state.clone(),
        lead_dashboard::db::SystemAccess::grant_at_startup(),
        &format!("127.0.0.1:{port}"),
    )
    .unwrap();
    let handle = server.handle();
    actix_rt::spawn(server);
    let ann = app.signup("Ann", "ann@example.com").await;
    let page = ann.get("/leads").await;
    assert_eq!(page.status, 200);
    let id = page
        .header("x-request-id")
        .expect("a request id")
        .to_string();
    assert!(id.len() >= 16, "{id}");
    let again = ann.get("/leads").await;
    assert_ne!(
        again.header("x-request-id"),
        Some(id.as_str()),
        "one id per request"
    );
    ann.get(&format!("/leads/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(
        app.client().get("/metrics").await.status,
        404,
        "not on the public port"
    );

    let metrics = crate::common::Client::new(format!("127.0.0.1:{port}").parse().unwrap());
    let text = metrics.get("/metrics").await;
    assert_eq!(text.status, 200);
    let body = text.body;
    for series in [
        r#"http_requests_total{method="GET",route="/leads",status="200"}"#,
        r#"http_requests_total{method="GET",route="/leads/{id}",status="404"}"#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/leads",status="200",le="0.1"}"#,
        "db_pool_connections ",
        "db_pool_idle ",
        "db_pool_waiting ",
        r#"job_queue_depth{kind="mail"} "#,
        r#"job_queue_oldest_seconds{kind="webhook"} "#,
        r#"deliveries_total{kind="mail",outcome="sent"}"#,
        r#"deliveries_total{kind="webhook",outcome="failed"}"#,
        "usage_limit_hits_total",
    ] {
        assert!(body.contains(series), "{series} missing from:\n{body}");
    }
    assert!(
        body.lines()
            .any(|l| l.starts_with(r#"job_queue_depth{kind="mail"} "#) && !l.ends_with(" 0")),
        "the sign-up's verification mail is queued:\n{body}"
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn readyz_answers_503_until_the_migrations_are_applied() {
    use diesel::RunQueryDsl;
    let app = TestApp::new().await;
    let c = app.client();
    let ready = c.get("/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready"));
    diesel::sql_query(
        "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
    )
    .execute(&mut app.conn())
    .unwrap();
    let behind = c.get("/readyz").await;
    assert_eq!(behind.status, 503, "{}", behind.body);
    assert_eq!(c.get("/healthz").await.status, 200, "alive all the same");
}

/// `systemd-analyze verify` accepts the shipped unit without a warning, and
/// its offline security review rates the exposure low (runs where systemd's
/// tools are installed, as on Debian).
#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let tool = std::path::Path::new("/usr/bin/systemd-analyze");
    if !tool.exists() {
        println!("systemd-analyze not installed: unit not verified");
        return;
    }
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/systemd/lead-dashboard@.service"
    ))
    .unwrap();
    for must in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "KillSignal=SIGTERM",
    ] {
        assert!(unit.contains(must), "{must}");
    }
    // An instance of the template, pointing at the binary under test (verify
    // checks that ExecStart is executable).
    let dir = std::env::temp_dir().join(format!("ld-unit-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lead-dashboard@a.service");
    std::fs::write(
        &path,
        unit.replace(
            "/usr/local/bin/lead-dashboard",
            env!("CARGO_BIN_EXE_lead-dashboard"),
        ),
    )
    .unwrap();
    let verify = std::process::Command::new(tool)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let complaints: Vec<String> = String::from_utf8_lossy(&verify.stderr)
        .lines()
        .filter(|l| l.contains("lead-dashboard@a.service"))
        .map(str::to_string)
        .collect();
    assert!(
        verify.status.success() && complaints.is_empty(),
        "{complaints:#?}"
    );
    let security = std::process::Command::new(tool)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout).into_owned();
    let exposure: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for lead-dashboard@a.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    assert!(exposure <= 2.0, "exposure {exposure}:\n{report}");
    std::fs::remove_dir_all(&dir).ok();
}
