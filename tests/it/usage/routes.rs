//! `/usage`, `/usage/meters`, `/plans` and its POSTs over HTTP: what each role
//! sees and may do, plain forms (303) and HTMX (fragment + `usage-changed`),
//! the downgrade confirmation, and that nothing changes on refusal.

use lead_dashboard::domain::subscription::month_start;

use super::*;
use crate::common::{Client, TestApp};

const SLUG: &str = "olive-s-organization";

fn sub_row(app: &TestApp) -> String {
    let mut conn = app.conn();
    #[derive(QueryableByName)]
    struct R {
        #[diesel(sql_type = Text)]
        r: String,
    }
    diesel::sql_query(format!(
        "SELECT concat_ws('|', plan, status, billing_interval, coalesce(scheduled_plan, ''), cancel_at_period_end, has_payment_method, current_period_end) AS r
         FROM subscriptions s JOIN organizations o ON o.id = s.organization_id WHERE o.slug = '{SLUG}'"
    ))
    .get_result::<R>(&mut conn)
    .unwrap()
    .r
}

/// `sql` with the database's `now()` replaced by the app's `now`, so
/// fixtures agree with a pinned clock.
fn at_app_now(app: &TestApp, sql: &str) -> String {
    sql.replace("now()", &crate::common::ts(app.now()))
}

/// Changes the subscription (`now()` in `set` is the app's `now`).
fn set_plan(app: &TestApp, set: &str) {
    exec(&mut app.conn(), &at_app_now(app, &format!(
        "UPDATE subscriptions SET {set} WHERE organization_id = (SELECT id FROM organizations WHERE slug = '{SLUG}')"
    )));
}

/// An HTMX answer: `#plans-body` alone, not a whole page.
fn is_plans_fragment(body: &str) -> bool {
    body.starts_with("<div") && body.contains(r#"id="plans-body""#) && !body.contains("<html")
}

async fn owner(app: &TestApp) -> Client {
    app.signup("Olive", "olive@example.com").await
}

#[actix_web::test]
async fn the_usage_page_shows_plan_meters_features_and_history() {
    usage_page_at(utc("2026-06-15T12:00:00Z")).await;
}

/// Six minutes into a month and in its last minute, "this month" is the
/// month of the app's clock: the counter set for it is the one shown.
#[actix_web::test]
async fn the_usage_page_counts_the_month_of_the_app_clock_at_its_edges() {
    for at in [utc("2026-07-01T00:06:00Z"), utc("2026-06-30T23:59:00Z")] {
        usage_page_at(at).await;
    }
}

/// Moving the app's clock is all it takes to reach the end of a trial: the
/// idle session has ended, and after signing in again the last-days banner
/// shows, counted from the app's `now`.
#[actix_web::test]
async fn the_trial_and_the_session_follow_the_app_clock() {
    let app = TestApp::pinned(utc("2026-06-30T23:59:00Z")).await;
    let c = owner(&app).await;
    let r = c.get("/usage").await;
    assert!(r.body.contains("14 days left") && !r.body.contains("trial-ending"));
    app.clock().advance(chrono::Duration::days(12));
    let r = c.get("/usage").await;
    assert_eq!(
        (r.status, r.location()),
        (303, Some("/login")),
        "idle session ended"
    );
    let c = app.login("olive@example.com").await;
    let r = c.get("/usage").await;
    assert!(
        r.body.contains("Your trial ends in 2 days (14 July 2026)"),
        "{}",
        r.body
    );
}

async fn usage_page_at(at: DateTime<Utc>) {
    let app = TestApp::pinned(at).await;
    let c = owner(&app).await;
    let org = crate::common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM organizations WHERE slug = '{SLUG}'"),
    );
    let month = month_start(chrono_tz::UTC, at);
    set_counter(
        &mut app.conn(),
        OrgId(org),
        "lead_created",
        "month",
        month,
        42,
    );
    let r = c.get("/usage").await;
    assert_eq!(r.status, 200);
    for needle in [
        "Leads this month",
        "Messages today",
        "Members",
        "Templates",
        "Sequences",
        r#"<strong>42</strong> / 50"#,
        "meter is-warning",
        "meter is-full", // 42/50 amber; 1/1 member red
        r#"hx-trigger="usage-changed from:body, every 60s""#,
        r#"hx-get="/usage/meters""#,
        "Included in Free",
        "Not included: ",
        "API access",
        r#"role="img""#,
        "Leads created (bars) and messages sent (line) per day",
        "14 days left",
    ] {
        assert!(r.body.contains(needle), "missing {needle}");
    }
    assert!(
        !r.body.contains("trial-ending"),
        "no last-days banner with 14 days left"
    );
    let f = c.get_htmx("/usage/meters").await;
    assert_eq!(f.status, 200);
    assert!(
        f.body.starts_with("<div class=\"meters\" id=\"meters\""),
        "{}",
        &f.body[..80]
    );
    assert!(!f.body.contains("<html"));
    // Unlimited is shown as such.
    set_plan(&app, "plan = 'ENTERPRISE'");
    let f = c.get_htmx("/usage/meters").await;
    assert_eq!(f.body.matches("is-unlimited").count(), 5);
    assert!(f.body.contains("/ Unlimited"));
    // The last three days of a trial get their own banner.
    set_plan(
        &app,
        "plan = 'STARTER', trial_ends_at = now() + interval '2 days'",
    );
    let r = c.get("/usage").await;
    assert!(
        r.body.contains("trial-ending") && r.body.contains("Add a payment method to keep Starter")
    );
}

#[actix_web::test]
async fn every_role_reads_usage_and_plans_but_only_the_owner_changes_them() {
    let app = TestApp::new().await;
    let o = owner(&app).await;
    let admin = member_of(&app, SLUG, "Ada", "ADMIN").await;
    let member = member_of(&app, SLUG, "Max", "MEMBER").await;
    let viewer = member_of(&app, SLUG, "Vera", "VIEWER").await;
    let limited = member_of(&app, SLUG, "Lim", "MEMBER").await;
    exec(&mut app.conn(), "UPDATE organization_members SET can_manage_leads = false, can_send_messages = false, can_manage_templates = false WHERE user_id = (SELECT id FROM users WHERE email = 'lim@example.com')");
    for c in [&o, &admin, &member, &viewer, &limited] {
        assert_eq!(c.get("/usage").await.status, 200);
        assert_eq!(c.get_htmx("/usage/meters").await.status, 200);
        assert_eq!(c.get("/plans").await.status, 200);
    }
    let page = o.get("/plans").await.body;
    assert!(page.contains(r#"name="plan" value="STARTER""#) && page.contains("Subscription"));
    let page = admin.get("/plans").await.body;
    assert!(!page.contains(r#"name="plan""#), "admin: read-only");
    assert!(page.contains("only an owner can change the plan") && page.contains("Payment method"));
    let page = viewer.get("/plans").await.body;
    assert!(!page.contains(r#"name="plan""#) && !page.contains("Payment method"));
    let before = (
        sub_row(&app),
        app.count("SELECT count(*) FROM audit_events"),
    );
    for c in [&admin, &member, &viewer, &limited] {
        for (path, form) in [
            (
                "/plans/change",
                vec![("plan", "STARTER"), ("interval", "monthly")],
            ),
            ("/plans/cancel", vec![]),
            ("/plans/resume", vec![]),
            ("/plans/payment-method", vec![]),
        ] {
            let r = c.post(path, &form).await;
            assert_eq!(r.status, 403, "{path}");
            assert!(r.body.contains("Only an owner can change the plan"));
            assert_eq!(c.post_htmx(path, &form).await.status, 403, "{path} (htmx)");
        }
    }
    assert_eq!(
        (
            sub_row(&app),
            app.count("SELECT count(*) FROM audit_events")
        ),
        before
    );
    // The owner of another organization changes only their own.
    let zed = app.signup("Zed", "zed@example.com").await;
    let r = zed
        .post(
            "/plans/change",
            &[("plan", "ENTERPRISE"), ("interval", "monthly")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(sub_row(&app), before.0);
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE plan = 'ENTERPRISE'"),
        1
    );
    let r = o
        .post(
            "/plans/change",
            &[("plan", "STARTER"), ("interval", "monthly")],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, Some("/plans")));
}

#[actix_web::test]
async fn a_trial_upgrade_applies_at_once_without_payment() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let r = c
        .post_htmx(
            "/plans/change",
            &[("plan", "PROFESSIONAL"), ("interval", "yearly")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("hx-trigger"), Some("usage-changed"));
    assert!(is_plans_fragment(&r.body), "fragment");
    assert!(r.body.contains("You are now trying Professional"));
    assert!(
        sub_row(&app).starts_with("PROFESSIONAL|TRIAL|year||f|f|"),
        "{}",
        sub_row(&app)
    );
    assert_eq!(
        app.count("SELECT count(*) FROM invoices"),
        0,
        "no payment during the trial"
    );
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action = 'plan.changed' AND after->>'plan' = 'PROFESSIONAL'"), 1);
    let usage = c.get("/usage").await.body;
    assert!(
        usage.contains("<strong>1</strong> / 10"),
        "members meter follows the new plan"
    );
    // Plain form: 303 with a flash.
    let r = c
        .post(
            "/plans/change",
            &[("plan", "ENTERPRISE"), ("interval", "monthly")],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, Some("/plans")));
    assert!(c
        .get("/plans")
        .await
        .body
        .contains("You are now trying Enterprise"));
}

#[actix_web::test]
async fn an_active_upgrade_is_paid_and_starts_a_new_period() {
    // In the last minute of a year: the invoice and period follow the app's clock.
    let app = TestApp::pinned(utc("2026-12-31T23:59:00Z")).await;
    let c = owner(&app).await;
    set_plan(&app, "status = 'ACTIVE', trial_ends_at = NULL, current_period_start = now() - interval '10 days', current_period_end = now() + interval '20 days'");
    let r = c
        .post(
            "/plans/change",
            &[("plan", "STARTER"), ("interval", "monthly")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(sub_row(&app).starts_with("STARTER|ACTIVE|month||f|t|"));
    assert_eq!(app.count("SELECT count(*) FROM invoices WHERE number = 'OLI-2026-0001' AND total_cents = 4900 AND status = 'paid'"), 1);
    assert_eq!(
        app.count(&at_app_now(
            &app,
            "SELECT count(*) FROM subscriptions WHERE current_period_start = now()"
        )),
        1
    );
    // Choosing the current plan again changes nothing.
    let r = c
        .post_htmx(
            "/plans/change",
            &[("plan", "STARTER"), ("interval", "monthly")],
        )
        .await;
    assert!(r.body.contains("You are already on Starter"));
    assert_eq!(app.count("SELECT count(*) FROM invoices"), 1);
}

#[actix_web::test]
async fn a_downgrade_shows_exactly_what_exceeds_then_waits_for_the_period_end() {
    let app = TestApp::pinned(utc("2026-06-15T12:00:00Z")).await;
    let c = owner(&app).await;
    set_plan(
        &app,
        "plan = 'PROFESSIONAL', status = 'ACTIVE', trial_ends_at = NULL, has_payment_method = true",
    );
    for name in ["Ben", "Cai"] {
        member_of(&app, SLUG, name, "MEMBER").await;
    }
    let mut conn = app.conn();
    let org = OrgId(crate::common::uuid_of(
        &mut conn,
        &format!("SELECT id FROM organizations WHERE slug = '{SLUG}'"),
    ));
    for i in 0..4 {
        exec(&mut conn, &format!("INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) VALUES ('{org}', '{org}', gen_random_uuid(), 'T{i}', 's', 'b')"));
    }
    exec(&mut conn, &format!("INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{org}', '{org}', gen_random_uuid(), 'S')"));
    set_counter(
        &mut conn,
        org,
        "lead_created",
        "month",
        month_start(chrono_tz::UTC, app.now()),
        50,
    );
    let before = (
        sub_row(&app),
        app.count("SELECT count(*) FROM audit_events"),
    );
    // To FREE: members 3 > 1, templates 4 > 3 exceed; 1 sequence and 50 leads are at the limit, not over.
    let r = c
        .post(
            "/plans/change",
            &[("plan", "FREE"), ("interval", "monthly")],
        )
        .await;
    assert_eq!(r.status, 200);
    let exceeds: Vec<_> = regex::Regex::new(r#"data-exceeds="([a-z_]+)""#)
        .unwrap()
        .captures_iter(&r.body)
        .map(|c| c[1].to_string())
        .collect();
    assert_eq!(exceeds, ["users", "templates"]);
    assert!(
        r.body.contains("Downgrade to Free?") && r.body.contains(r#"name="confirm" value="yes""#)
    );
    assert_eq!(
        (
            sub_row(&app),
            app.count("SELECT count(*) FROM audit_events")
        ),
        before,
        "nothing changes yet"
    );
    // To STARTER nothing exceeds.
    let r = c
        .post_htmx(
            "/plans/change",
            &[("plan", "STARTER"), ("interval", "monthly")],
        )
        .await;
    assert!(is_plans_fragment(&r.body) && !r.body.contains("data-exceeds"));
    assert!(r
        .body
        .contains("Everything you have today fits within Starter"));
    // Confirmed: scheduled for the period end, the plan stays.
    let r = c
        .post_htmx(
            "/plans/change",
            &[
                ("plan", "FREE"),
                ("interval", "monthly"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("Downgrade to Free scheduled for")
            && r.body.contains("Your plan changes to Free on")
    );
    assert!(
        sub_row(&app).starts_with("PROFESSIONAL|ACTIVE|month|FREE|f|t|"),
        "{}",
        sub_row(&app)
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'plan.downgrade_scheduled'"),
        1
    );
    // The owner can withdraw it.
    let r = c.post("/plans/resume", &[]).await;
    assert_eq!(r.status, 303);
    assert!(sub_row(&app).starts_with("PROFESSIONAL|ACTIVE|month||f|"));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'plan.resumed'"),
        1
    );
}

#[actix_web::test]
async fn cancel_and_resume() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    // A free trial has nothing to cancel.
    let r = c.post("/plans/cancel", &[]).await;
    assert_eq!(r.status, 409);
    set_plan(
        &app,
        "plan = 'STARTER', status = 'ACTIVE', trial_ends_at = NULL",
    );
    let r = c.post_htmx("/plans/cancel", &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Your subscription ends on") && r.body.contains("Resume subscription"));
    assert!(sub_row(&app).starts_with("STARTER|ACTIVE|month||t|"));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'plan.canceled'"),
        1
    );
    let r = c.post_htmx("/plans/resume", &[]).await;
    assert!(r.body.contains("Your Starter subscription continues"));
    assert!(sub_row(&app).starts_with("STARTER|ACTIVE|month||f|"));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'plan.resumed'"),
        1
    );
}

#[actix_web::test]
async fn a_payment_method_turns_the_trial_end_into_a_paid_subscription() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    c.post(
        "/plans/change",
        &[("plan", "STARTER"), ("interval", "monthly")],
    )
    .await;
    let r = c.post("/plans/payment-method", &[]).await;
    assert_eq!(r.status, 303);
    assert!(sub_row(&app).starts_with("STARTER|TRIAL|month||f|t|"));
    assert_eq!(
        app.count("SELECT count(*) FROM invoices"),
        0,
        "charged when the trial ends"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = 'billing.payment_method_added'"
        ),
        1
    );
}

#[actix_web::test]
async fn bad_plan_input_is_refused_and_changes_nothing() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let before = sub_row(&app);
    for form in [
        vec![("plan", "GOLD"), ("interval", "monthly")],
        vec![("plan", "free"), ("interval", "monthly")],
        vec![("plan", "STARTER"), ("interval", "weekly")],
        vec![("plan", "<script>alert(1)</script>")],
        vec![],
    ] {
        let r = c.post("/plans/change", &form).await;
        assert_eq!(r.status, 422, "{form:?}");
        assert!(r.body.contains("Choose one of the four plans"));
        assert!(!r.body.contains("<script>alert"));
        let r = c.post_htmx("/plans/change", &form).await;
        assert_eq!(r.status, 422);
        assert!(is_plans_fragment(&r.body));
    }
    assert_eq!(sub_row(&app), before);
    assert_eq!(app.count("SELECT count(*) FROM audit_events"), 0);
}

#[actix_web::test]
async fn the_public_pricing_and_the_bench_route() {
    let app = TestApp::new().await;
    let anon = app.client();
    let home = anon.get("/").await.body;
    for needle in [
        "1 user",
        "3 users",
        "1 sequence",
        "Unlimited leads",
        "500 leads / month",
        "Priority email support",
        r#"value="yearly""#,
        "€490",
        "≈ €40.83 / month",
    ] {
        assert!(home.contains(needle), "missing {needle}");
    }
    assert!(!home.contains("1 members") && !home.contains("1 sequences"));
    let c = owner(&app).await;
    assert_eq!(
        c.get("/bench/ceiling").await.status,
        404,
        "off unless BENCH_ROUTES=1"
    );
    let bench = TestApp::with_config(|cfg| cfg.bench_routes = true).await;
    let c = bench.signup("Olive", "olive@example.com").await;
    let r = c.get("/bench/ceiling").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Ceiling"));
}
