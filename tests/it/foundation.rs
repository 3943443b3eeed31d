//! Accounts, sessions, CSRF, organization switching, health, and the
//! binary's own start-up on a local PostgreSQL.

use crate::common::{self, TestApp, PASSWORD};

/// A session cookie as the app would seal it, carrying `token`.
fn sealed_session(app: &TestApp, token: &str) -> String {
    use actix_web::cookie::{Cookie, CookieJar};
    let state = serde_json::json!({ "token": serde_json::to_string(token).unwrap() });
    let mut jar = CookieJar::new();
    jar.private_mut(&app.state.session_key)
        .add(Cookie::new("ld_session", state.to_string()));
    let sealed = jar.get("ld_session").unwrap().encoded().to_string();
    sealed["ld_session=".len()..].to_string()
}

fn tenant_row_total(app: &TestApp) -> i64 {
    app.count(
        "(SELECT count(*) FROM users) + (SELECT count(*) FROM organizations) + \
         (SELECT count(*) FROM subscriptions) + (SELECT count(*) FROM organization_members) + \
         (SELECT count(*) FROM leads) + (SELECT count(*) FROM invitations)",
    )
}

#[actix_web::test]
async fn signup_creates_user_org_subscription_and_owner() {
    let app = TestApp::new().await;
    let c = app.signup("Behar", "behar@example.com").await;
    let dash = c.get("/dashboard").await;
    assert_eq!(dash.status, 200);
    assert!(
        dash.body.contains("Behar&#39;s Organization")
            || dash.body.contains("Behar's Organization")
    );
    assert!(dash.body.contains("trial-banner"), "trial banner shown");
    assert!(dash.body.contains("14 days left"));
    assert_eq!(app.count("SELECT count(*) FROM users"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM organizations WHERE slug = 'behar-s-organization'"),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM subscriptions WHERE plan = 'FREE' AND status = 'TRIAL' AND trial_ends_at > now() + interval '13 days'"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM organization_members WHERE role = 'OWNER'"),
        1
    );
    // A second "Behar" gets a unique slug.
    app.signup("Behar", "other@example.com").await;
    assert_eq!(
        app.count("SELECT count(*) FROM organizations WHERE slug = 'behar-s-organization-2'"),
        1
    );
}

#[actix_web::test]
async fn signup_is_atomic_when_a_later_insert_fails() {
    let app = TestApp::new().await;
    // Inject a failure after the organization insert: subscriptions refuse rows.
    diesel::connection::SimpleConnection::batch_execute(
        &mut app.conn(),
        "CREATE FUNCTION fail_sub() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$;
         CREATE TRIGGER fail_sub BEFORE INSERT ON subscriptions FOR EACH ROW EXECUTE FUNCTION fail_sub();",
    )
    .unwrap();
    let c = app.client();
    c.get("/signup").await;
    let r = c
        .post(
            "/signup",
            &[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 500);
    assert!(
        r.body.contains("reference"),
        "error page shows a reference id"
    );
    assert!(
        !r.body.contains("injected") && !r.body.contains("INSERT"),
        "no SQL or internals leak"
    );
    assert_eq!(
        tenant_row_total(&app),
        0,
        "nothing remains after the failed sign-up"
    );
}

#[actix_web::test]
async fn duplicate_email_is_a_field_error_and_writes_nothing() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    let before = tenant_row_total(&app);
    let c = app.client();
    c.get("/signup").await;
    let r = c
        .post(
            "/signup",
            &[
                ("name", "Ann Two"),
                ("email", "ANN@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("already exists"));
    assert_eq!(tenant_row_total(&app), before);
}

#[actix_web::test]
async fn signup_validates_every_field() {
    let app = TestApp::new().await;
    let c = app.client();
    c.get("/signup").await;
    let r = c
        .post(
            "/signup",
            &[
                ("name", ""),
                ("email", "not-an-email"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Name is required"));
    assert!(r.body.contains("valid email"));
    assert!(r.body.contains("at least 8"));
    assert_eq!(tenant_row_total(&app), 0);
}

#[actix_web::test]
async fn wrong_password_and_unknown_email_answer_identically() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    let c = app.client();
    c.get("/login").await;
    let wrong_pw = c
        .post(
            "/login",
            &[("email", "ann@example.com"), ("password", "wrong password")],
        )
        .await;
    let unknown = c
        .post(
            "/login",
            &[
                ("email", "nobody@example.com"),
                ("password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(wrong_pw.status, 422);
    assert_eq!(wrong_pw.status, unknown.status);
    let normalise = |s: &str| {
        s.replace("ann@example.com", "E")
            .replace("nobody@example.com", "E")
    };
    assert_eq!(normalise(&wrong_pw.body), normalise(&unknown.body));
    assert!(wrong_pw.body.contains("Email or password is incorrect"));
}

#[actix_web::test]
async fn sign_in_renews_the_session_and_sign_out_kills_it() {
    let app = TestApp::new().await;
    let first = app.signup("Ann", "ann@example.com").await;
    let cookie_at_signup = first.cookie("ld_session").expect("session cookie");
    // Signing in again from the same browser issues a new session id.
    first.get("/login").await;
    let r = first
        .post(
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 303);
    let cookie_after_login = first.cookie("ld_session").unwrap();
    assert_ne!(cookie_at_signup, cookie_after_login);
    // The old cookie no longer works.
    let stale = app.client();
    stale.set_cookie("ld_session", &cookie_at_signup);
    assert_eq!(stale.get("/dashboard").await.location(), Some("/login"));
    // Sign out, then replay the cookie: refused.
    first.get("/dashboard").await;
    let out = first.post("/logout", &[]).await;
    assert_eq!(out.status, 303);
    let replay = app.client();
    replay.set_cookie("ld_session", &cookie_after_login);
    let r = replay.get("/dashboard").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some("/login"));
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 0);
}

#[actix_web::test]
async fn sign_in_is_rate_limited_per_account() {
    let app = TestApp::with_config(|c| c.login_attempts_per_window = 3).await;
    app.signup("Ann", "ann@example.com").await;
    let c = app.client();
    c.get("/login").await;
    for _ in 0..3 {
        let r = c
            .post(
                "/login",
                &[("email", "ann@example.com"), ("password", "nope nope")],
            )
            .await;
        assert_eq!(r.status, 422);
    }
    // Even the right password is refused while the account is locked out.
    let r = c
        .post(
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 429);
    assert!(r.body.contains("Too many sign-in attempts"));
}

#[actix_web::test]
async fn every_post_route_refuses_a_missing_or_wrong_csrf_token() {
    let app = TestApp::new().await;
    let c = app.signup("Ann", "ann@example.com").await;
    let before = tenant_row_total(&app);
    let sessions_before = app.count("SELECT count(*) FROM sessions");
    let posts: Vec<_> = lead_dashboard::routes::all_routes()
        .into_iter()
        .filter(|(m, p)| *m == "POST" && !lead_dashboard::auth::middleware::csrf_exempt(p))
        .collect();
    assert!(posts.len() >= 5, "routes listed: {posts:?}");
    let nil = uuid::Uuid::nil().to_string();
    for (_, path) in &posts {
        let path = path
            .replace("{id}", &nil)
            .replace("{token}", "x")
            .replace("{file}", "x");
        let missing = c.post_raw(&path, &[("name", "Mallory")]).await;
        assert_eq!(missing.status, 403, "POST {path} without token");
        let wrong = c
            .post_raw(
                &path,
                &[("name", "Mallory"), ("csrf_token", &"A".repeat(43))],
            )
            .await;
        assert_eq!(wrong.status, 403, "POST {path} with a wrong token");
        let header = c
            .post_body(
                &path,
                "application/x-www-form-urlencoded",
                b"name=M".to_vec(),
                &[("HX-Request", "true"), ("X-CSRF-Token", "forged")],
            )
            .await;
        assert_eq!(
            header.status, 403,
            "HTMX POST {path} with a wrong header token"
        );
    }
    assert_eq!(tenant_row_total(&app), before, "nothing changed");
    assert_eq!(app.count("SELECT count(*) FROM sessions"), sessions_before);
    // Signed out forms are protected too (double-submit cookie).
    let anon = app.client();
    anon.get("/signup").await;
    let r = anon
        .post_raw(
            "/signup",
            &[
                ("name", "X"),
                ("email", "x@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
}

#[actix_web::test]
async fn switching_to_a_foreign_org_is_refused_and_removed_members_lose_access() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    let bob = app.signup("Bob", "bob@example.com").await;
    let mut conn = app.conn();
    let ann_org = common::uuid_of(
        &mut conn,
        "SELECT id FROM organizations WHERE slug = 'ann-s-organization'",
    );
    // Bob is not a member of Ann's organization.
    let r = bob
        .post("/orgs/switch", &[("org_id", &ann_org.to_string())])
        .await;
    assert_eq!(r.status, 404);
    let r = bob.post("/orgs/switch", &[("org_id", "not-a-uuid")]).await;
    assert_eq!(r.status, 404);
    assert!(!bob
        .get("/dashboard")
        .await
        .body
        .contains("Ann&#39;s Organization"));
    // Ann adds Bob (directly), Bob switches in and sees Ann's organization.
    diesel::RunQueryDsl::execute(diesel::sql_query(format!(
        "INSERT INTO organization_members (organization_id, user_id, role) SELECT '{ann_org}', id, 'MEMBER' FROM users WHERE email = 'bob@example.com'"
    )), &mut conn).unwrap();
    let r = bob
        .post("/orgs/switch", &[("org_id", &ann_org.to_string())])
        .await;
    assert_eq!(r.status, 303);
    let dash = bob.get("/dashboard").await;
    assert!(
        dash.body.contains("Ann&#39;s Organization") || dash.body.contains("Ann's Organization")
    );
    // Removed: the next request goes to the organization picker.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
        "DELETE FROM organization_members WHERE organization_id = '{ann_org}' AND role = 'MEMBER'"
    )),
        &mut conn,
    )
    .unwrap();
    let r = bob.get("/dashboard").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some("/orgs"));
    let picker = bob.get("/orgs").await;
    assert_eq!(picker.status, 200);
    assert!(
        picker.body.contains("Bob&#39;s Organization")
            || picker.body.contains("Bob's Organization")
    );
    drop(ann);
}

#[actix_web::test]
async fn create_an_organization_and_land_in_it() {
    let app = TestApp::new().await;
    let c = app.signup("Ann", "ann@example.com").await;
    let r = c.post("/orgs", &[("name", "  ")]).await;
    assert_eq!(r.status, 422);
    let r = c.post("/orgs", &[("name", "Acme GmbH")]).await;
    assert_eq!(r.status, 303);
    let dash = c.get("/dashboard").await;
    assert!(dash.body.contains("Acme GmbH"));
    assert!(
        dash.body.contains("Organization created."),
        "flash shown after redirect"
    );
    assert_eq!(app.count("SELECT count(*) FROM organization_members m JOIN organizations o ON o.id = m.organization_id WHERE o.slug = 'acme-gmbh' AND m.role = 'OWNER'"), 1);
}

#[actix_web::test]
async fn pages_need_a_session_and_errors_are_plain() {
    let app = TestApp::new().await;
    let c = app.client();
    let r = c.get("/dashboard").await;
    assert_eq!((r.status, r.location()), (303, Some("/login")));
    let r = c.get_htmx("/dashboard").await;
    assert_eq!(r.header("hx-redirect"), Some("/login"));
    let r = c.get("/no-such-page").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("Not found"));
    let home = c.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Pricing"));
    let csp = home.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"));
    assert!(
        !home.body.contains("http://") && !home.body.contains("https://"),
        "no other host referenced"
    );
    assert_eq!(c.get("/healthz").await.status, 200);
}

#[actix_web::test]
async fn assets_are_served_with_long_cache_headers() {
    let app = TestApp::new().await;
    let c = app.client();
    let home = c.get("/").await;
    let re = regex::Regex::new(r#"/assets/(htmx\.[0-9a-f]+\.min\.js)"#).unwrap();
    let path = format!(
        "/assets/{}",
        &re.captures(&home.body).expect("htmx script tag")[1]
    );
    let r = c.get(&path).await;
    assert_eq!(r.status, 200);
    assert!(r.header("cache-control").unwrap().contains("immutable"));
    assert!(r.body.contains("htmx"));
    assert_eq!(c.get("/assets/nope.js").await.status, 404);
}

#[actix_web::test]
async fn an_unreachable_database_answers_503_quickly() {
    let app = TestApp::with_config(|c| {
        c.database_url = Some("postgres://postgres@127.0.0.1:1/none".into());
        c.pool_timeout = std::time::Duration::from_millis(500);
    })
    .await;
    let c = app.client();
    let started = std::time::Instant::now();
    let r = c.get("/healthz").await;
    assert_eq!(r.status, 503);
    c.set_cookie("ld_session", &sealed_session(&app, &"x".repeat(43)));
    let r = c.get("/dashboard").await;
    assert_eq!(r.status, 503);
    assert!(r.body.contains("Temporarily unavailable"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "no hung requests"
    );
}

#[actix_web::test]
async fn a_shown_flash_is_removed_for_the_whole_site() {
    let app = TestApp::new().await;
    let c = app.signup("Ann", "ann@example.com").await;
    c.set_cookie("ld_flash", "Saved.");
    let r = c.get("/leads/import").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Saved."), "the flash is shown");
    let removal = r
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ld_flash="))
        .expect("the shown flash is removed");
    // Set with `Path=/`; a removal without it only covers `/leads/`.
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert!(removal.contains("Path=/"), "{removal}");
}
