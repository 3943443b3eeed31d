//! Billing: Stripe webhook signatures, exactly-once and in-order event
//! handling, the checkout flow against the Stripe contract stub, gap-free
//! invoice numbering under concurrency, and the billing pages' roles and
//! tenancy. The lifecycle scenarios, webhook ordering and dunning have
//! their own modules.

mod checkout_guards;
mod dunning;
mod invoices;
mod invoices_mail;
mod invoices_pdf;
mod invoices_seller;
mod scenarios;
mod stripe_calls;
mod stripe_stub;
mod webhooks;

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use futures_util::future::join_all;
use lead_dashboard::billing::signature::sign;
use lead_dashboard::db::Tenant;

use crate::common::{self, TestApp};
use lead_dashboard::clock::Clock;
use stripe_stub::Stub;

const WEBHOOK_SECRET: &str = "whsec_test_secret";

/// The instant the billing tests run at: the last minute of a year, so an
/// invoice numbered by the wall clock's year instead of the app's would show.
fn pinned_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 0).unwrap()
}

fn start_stripe_stub() -> (String, Stub) {
    let stub = Stub::start(pinned_at().timestamp());
    (stub.url.clone(), stub)
}

/// The Stripe settings of the tests, pointing at `stub`.
pub(crate) fn use_stripe(c: &mut lead_dashboard::config::Config, stub: &str) {
    c.stripe_secret_key = Some("sk_test_123".into());
    c.stripe_webhook_secret = Some(WEBHOOK_SECRET.into());
    c.stripe_api_base = stub.to_string();
}

async fn stripe_app(stub: &str) -> TestApp {
    stripe_app_at(stub, pinned_at()).await
}

async fn stripe_app_at(stub: &str, at: DateTime<Utc>) -> TestApp {
    let stub = stub.to_string();
    TestApp::with_clock_and_config(Clock::fixed(at), move |c| use_stripe(c, &stub)).await
}

/// Distinct, increasing event ids and times within a test run.
static EVENT_SEQ: AtomicI64 = AtomicI64::new(1);

/// Delivers a signed event of `kind` about `object`, newer than every
/// event sent before; returns the HTTP status.
async fn send(app: &TestApp, kind: &str, object: &serde_json::Value) -> u16 {
    let seq = EVENT_SEQ.fetch_add(1, Ordering::SeqCst);
    let body = event(&format!("evt_{seq}"), kind, now(app) + seq, object.clone());
    deliver(app, &body, Some(sign(&body, WEBHOOK_SECRET, now(app)))).await
}

fn event(id: &str, kind: &str, created: i64, object: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "id": id, "type": kind, "created": created, "data": { "object": object } })).unwrap()
}

async fn deliver(app: &TestApp, body: &[u8], signature: Option<String>) -> u16 {
    let c = app.client();
    let headers: Vec<(&str, &str)> = signature
        .as_deref()
        .map(|s| vec![("Stripe-Signature", s)])
        .unwrap_or_default();
    c.post_body(
        "/billing/webhook",
        "application/json",
        body.to_vec(),
        &headers,
    )
    .await
    .status
}

fn org_id(app: &TestApp, slug: &str) -> uuid::Uuid {
    common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM organizations WHERE slug = '{slug}'"),
    )
}

/// The app's `now` as a Unix timestamp (event times and signatures).
fn now(app: &TestApp) -> i64 {
    app.now().timestamp()
}

#[actix_web::test]
async fn webhook_signatures_are_checked_before_anything_changes() {
    let (stub, _) = start_stripe_stub();
    let app = stripe_app(&stub).await;
    app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    let body = event(
        "evt_sig",
        "customer.subscription.updated",
        now(&app),
        serde_json::json!({
        "object": "subscription", "status": "past_due", "metadata": { "organization_id": org.to_string() } }),
    );
    let t = now(&app);
    assert_eq!(deliver(&app, &body, None).await, 400, "missing header");
    assert_eq!(
        deliver(&app, &body, Some(sign(&body, "whsec_wrong", t))).await,
        400,
        "wrong secret"
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        deliver(&app, &tampered, Some(sign(&body, WEBHOOK_SECRET, t))).await,
        400,
        "tampered body"
    );
    assert_eq!(
        deliver(&app, &body, Some(sign(&body, WEBHOOK_SECRET, t - 600))).await,
        400,
        "stale"
    );
    assert_eq!(app.count("SELECT count(*) FROM payment_events"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE status = 'PAST_DUE'"),
        0
    );
    // A valid one (no session, no CSRF token) is accepted.
    let sig = sign(&body, WEBHOOK_SECRET, t);
    let several = format!("{sig},v1={}", "ab".repeat(32));
    assert_eq!(deliver(&app, &body, Some(several)).await, 200);
    assert_eq!(app.count("SELECT count(*) FROM subscriptions WHERE status = 'PAST_DUE' AND past_due_since IS NOT NULL"), 1);
}

#[actix_web::test]
async fn the_same_event_delivered_twice_at_once_has_one_effect() {
    let (stub, _) = start_stripe_stub();
    let app = stripe_app(&stub).await;
    app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    diesel::sql_query(format!(
        "UPDATE subscriptions SET provider_customer_id = 'cus_1' WHERE organization_id = '{org}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let body = event(
        "evt_paid_1",
        "invoice.paid",
        now(&app),
        serde_json::json!({
        "id": "in_1", "object": "invoice", "customer": "cus_1", "amount_due": 4900,
        "lines": { "data": [{ "description": "Starter (monthly)", "amount": 4900, "quantity": 1 }] } }),
    );
    let sig = sign(&body, WEBHOOK_SECRET, now(&app));
    let deliveries = (0..6).map(|_| deliver(&app, &body, Some(sig.clone())));
    let statuses = join_all(deliveries).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM payment_events WHERE event_id = 'evt_paid_1'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM invoices WHERE provider_invoice_id = 'in_1'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'billing.invoice.paid'"),
        1
    );
}

#[actix_web::test]
async fn an_older_subscription_event_never_rolls_the_state_back() {
    let (stub, _) = start_stripe_stub();
    let app = stripe_app(&stub).await;
    app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization").to_string();
    let t = now(&app);
    let newer = event(
        "evt_new",
        "customer.subscription.updated",
        t - 10,
        serde_json::json!({
        "status": "canceled", "metadata": { "organization_id": org, "plan": "STARTER" } }),
    );
    let older = event(
        "evt_old",
        "customer.subscription.updated",
        t - 100,
        serde_json::json!({
        "status": "active", "metadata": { "organization_id": org, "plan": "PROFESSIONAL" } }),
    );
    assert_eq!(
        deliver(&app, &newer, Some(sign(&newer, WEBHOOK_SECRET, t))).await,
        200
    );
    assert_eq!(
        deliver(&app, &older, Some(sign(&older, WEBHOOK_SECRET, t))).await,
        200
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM subscriptions WHERE status = 'CANCELED' AND plan = 'STARTER'"
        ),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM payment_events"),
        2,
        "both recorded, only the newest applied"
    );
}

#[actix_web::test]
async fn upgrade_through_checkout_then_the_webhook_activates_the_plan_and_invoices() {
    let (url, stub) = start_stripe_stub();
    let app = stripe_app(&url).await;
    let ann = app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    end_trial_on_free(&app, org);
    let r = ann
        .post(
            "/billing/checkout",
            &[("plan", "STARTER"), ("interval", "month")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(
        r.location()
            .unwrap()
            .starts_with("https://checkout.stripe.test/c/cs_test_"),
        "{:?}",
        r.location()
    );
    assert!(stub.refused().is_empty(), "{:?}", stub.refused());
    let price = stub.calls_to("POST", "/v1/prices")[0].clone();
    assert_eq!(price.get("unit_amount"), Some("4900"));
    assert_eq!(price.get("currency"), Some("eur"));
    assert_eq!(price.get("recurring[interval]"), Some("month"));
    assert_eq!(
        price.get("lookup_key"),
        Some("lead_dashboard_starter_month")
    );
    let sessions = stub.calls_to("POST", "/v1/checkout/sessions");
    let sent = &sessions[0];
    assert_eq!(sent.get("mode"), Some("subscription"));
    assert_eq!(
        sent.get("client_reference_id"),
        Some(org.to_string().as_str())
    );
    assert!(sent
        .get("line_items[0][price]")
        .unwrap()
        .starts_with("price_test_"));
    assert_eq!(sent.get("line_items[0][quantity]"), Some("1"));
    assert_eq!(sent.get("customer_email"), Some("ann@example.com"));
    assert_eq!(sent.get("metadata[plan]"), Some("STARTER"));
    assert_eq!(
        sent.get("subscription_data[trial_end]"),
        None,
        "charged now"
    );
    assert_eq!(
        sent.get("subscription_data[metadata][organization_id]"),
        Some(org.to_string().as_str())
    );
    assert!(sent
        .get("success_url")
        .unwrap()
        .ends_with("/billing?checkout=success"));
    assert!(sent.get("cancel_url").unwrap().contains("/plans"));

    let session_id = r
        .location()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let completed = stub.complete_checkout(&session_id);
    assert_eq!(
        send(&app, "checkout.session.completed", &completed).await,
        200
    );
    assert_eq!(app.count("SELECT count(*) FROM subscriptions WHERE plan = 'STARTER' AND status = 'ACTIVE' AND provider = 'stripe' AND has_payment_method AND provider_subscription_id IS NOT NULL"), 1);
    let paid = stub.state.lock().unwrap().invoices[0].clone();
    assert_eq!(send(&app, "invoice.paid", &paid).await, 200);
    let year = app.now().format("%Y");
    let billing = ann.get("/billing").await;
    assert_eq!(billing.status, 200);
    assert!(
        billing.body.contains(&format!("ANN-{year}-0001")),
        "numbered invoice listed"
    );
    assert!(billing.body.contains("€49"));
    // The portal opens for the now-known customer.
    let r = ann.post("/billing/payment-method", &[]).await;
    assert!(r
        .location()
        .unwrap()
        .starts_with("https://billing.stripe.test/p/"));
    let portal = &stub.calls_to("POST", "/v1/billing_portal/sessions")[0];
    assert_eq!(portal.get("customer"), completed["customer"].as_str());
    assert!(portal.get("return_url").unwrap().ends_with("/billing"));
    assert!(stub.refused().is_empty(), "{:?}", stub.refused());
}

/// The trial is over and the organization is on FREE, ACTIVE.
fn end_trial_on_free(app: &TestApp, org: uuid::Uuid) {
    diesel::sql_query(format!(
        "UPDATE subscriptions SET status = 'ACTIVE', plan = 'FREE', trial_ends_at = now() - interval '1 day' WHERE organization_id = '{org}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
}

#[actix_web::test]
async fn concurrent_invoices_get_consecutive_numbers() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    let user = common::uuid_of(
        &mut app.conn(),
        "SELECT id FROM users WHERE email = 'ann@example.com'",
    );
    let url = app.db.url.clone();
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut conn = PgConnection::establish(&url).unwrap();
                let tenant = Tenant::for_member(&mut conn, org.into(), user.into()).unwrap();
                conn.transaction(|conn| {
                    let lines = [lead_dashboard::db::invoices::NewLine {
                        description: "Starter".into(),
                        quantity: 1,
                        unit_cents: 4900,
                    }];
                    let now = pinned_at();
                    lead_dashboard::db::invoices::create(
                        conn,
                        &tenant,
                        &lines,
                        (now, now),
                        lead_dashboard::db::invoices::InvoiceStatus::Open,
                        &lead_dashboard::db::invoices::Source::local(&Default::default()),
                        now,
                    )
                })
                .unwrap()
                .number
            })
        })
        .collect();
    let mut numbers: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    numbers.sort();
    let year = pinned_at().format("%Y");
    let expected: Vec<String> = (1..=20).map(|n| format!("ANN-{year}-{n:04}")).collect();
    assert_eq!(numbers, expected);
}

/// The local provider records a charge, a signed webhook reports a provider
/// invoice: both number through the same rule and the same sequence. A slug
/// with fewer than three letters or digits is where the rules once differed.
#[actix_web::test]
async fn both_providers_number_invoices_in_one_sequence() {
    let (stub, _) = start_stripe_stub();
    let app = stripe_app(&stub).await;
    app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    let user = common::uuid_of(
        &mut app.conn(),
        "SELECT id FROM users WHERE email = 'ann@example.com'",
    );
    diesel::connection::SimpleConnection::batch_execute(
        &mut app.conn(),
        &format!("UPDATE organizations SET slug = 'a1' WHERE id = '{org}'"),
    )
    .unwrap();
    let period_start = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let period_end = period_start + chrono::Months::new(1);
    let mut numbers = Vec::new();
    for round in 0..2 {
        let mut conn = app.conn();
        let tenant = Tenant::for_member(&mut conn, org.into(), user.into()).unwrap();
        let purchase = lead_dashboard::billing::Purchase {
            plan: lead_dashboard::domain::plans::Plan::Starter,
            interval: lead_dashboard::domain::billing::Interval::Monthly,
            period_start,
            period_end,
            charge_now: true,
            made_at: period_start,
        };
        let local = conn
            .transaction(|conn| {
                lead_dashboard::db::payments::record_payment(
                    conn,
                    &tenant,
                    &purchase,
                    &Default::default(),
                )
            })
            .unwrap()
            .number;
        numbers.push(local);
        let paid = event(
            &format!("evt_in_{round}"),
            "invoice.paid",
            now(&app) + round,
            serde_json::json!({
            "id": format!("in_ann_{round}"), "object": "invoice",
            "metadata": { "organization_id": org.to_string() },
            "period_start": period_start.timestamp(), "period_end": period_end.timestamp(),
            "lines": { "data": [{ "description": "Lead Dashboard Starter", "amount": 4900, "quantity": 1 }] } }),
        );
        assert_eq!(
            deliver(&app, &paid, Some(sign(&paid, WEBHOOK_SECRET, now(&app)))).await,
            200
        );
        let n = numbers.len() + 1;
        let webhook_number = format!("A1X-2026-{n:04}");
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM invoices WHERE number = '{webhook_number}' AND provider_invoice_id = 'in_ann_{round}'"
            )),
            1,
            "the webhook's invoice continues the sequence"
        );
        numbers.push(webhook_number);
    }
    let expected: Vec<String> = (1..=4).map(|n| format!("A1X-2026-{n:04}")).collect();
    assert_eq!(numbers, expected);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM invoices WHERE organization_id = '{org}'"
        )),
        4
    );
}

#[actix_web::test]
async fn billing_pages_follow_the_role_matrix_and_tenancy() {
    let app = TestApp::new().await;
    let owner = app.signup("Ann", "ann@example.com").await;
    for (name, role) in [("Adam", "ADMIN"), ("Mia", "MEMBER"), ("Vic", "VIEWER")] {
        let email = format!("{}@example.com", name.to_lowercase());
        app.signup(name, &email).await;
        app.add_member("ann-s-organization", &email, role);
    }
    let org = org_id(&app, "ann-s-organization");
    let org_s = org.to_string();
    let admin = app.login("adam@example.com").await;
    admin.post("/orgs/switch", &[("org_id", &org_s)]).await;
    let member = app.login("mia@example.com").await;
    member.post("/orgs/switch", &[("org_id", &org_s)]).await;
    let viewer = app.login("vic@example.com").await;
    viewer.post("/orgs/switch", &[("org_id", &org_s)]).await;
    let page = owner.get("/billing").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Save details"));
    let page = admin.get("/billing").await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("Save details"),
        "admins see billing read-only"
    );
    assert_eq!(member.get("/billing").await.status, 403);
    assert_eq!(member.get("/billing/subscription").await.status, 403);
    assert_eq!(viewer.get("/billing").await.status, 403);
    for c in [&admin, &member, &viewer] {
        c.get("/dashboard").await;
        assert_eq!(
            c.post("/billing/details", &[("company", "Hijack")])
                .await
                .status,
            403
        );
        assert_eq!(c.post("/billing/payment-method", &[]).await.status, 403);
        assert_eq!(c.post("/billing/pay", &[]).await.status, 403);
        assert_eq!(
            c.post("/billing/checkout", &[("plan", "STARTER")])
                .await
                .status,
            403
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM organizations WHERE billing_company IS NOT NULL"),
        0
    );
    // Owner: plain form → 303; HTMX → fragment; bad VAT → 422, nothing stored.
    let r = owner
        .post(
            "/billing/details",
            &[
                ("company", "Ann GmbH"),
                ("address", "Main St 1"),
                ("vat_id", "DE123"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = owner
        .post_htmx(
            "/billing/details",
            &[("company", "Ann AG"), ("address", ""), ("vat_id", "DE 1;")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("only letters and digits"));
    assert_eq!(
        app.count("SELECT count(*) FROM organizations WHERE billing_company = 'Ann GmbH'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'billing.details_updated'"),
        1
    );
    // Another organization's invoice is a 404.
    app.signup("Bob", "bob@example.com").await;
    let bob_org = org_id(&app, "bob-s-organization");
    diesel::sql_query(format!("INSERT INTO invoices (organization_id, id, number, year, seq, total_cents, period_start, period_end) VALUES ('{bob_org}', '{}', 'BOB-2026-0001', 2026, 1, 100, now(), now())", uuid::Uuid::nil()))
        .execute(&mut app.conn()).unwrap();
    let r = owner
        .get(&format!("/billing/invoices/{}", uuid::Uuid::nil()))
        .await;
    assert_eq!(r.status, 404);
    assert!(!r.body.contains("BOB-2026"));
}

/// The numbers of the invoices a billing page lists.
/// The invoice numbers of the list's rows, top to bottom (each row's first
/// cell; the row's "View" link names the number again for screen readers).
fn listed_numbers(body: &str) -> Vec<String> {
    let re = regex::Regex::new(r">(ANN-2026-\d{4})</td>").unwrap();
    re.captures_iter(body).map(|c| c[1].to_string()).collect()
}

#[actix_web::test]
async fn the_invoice_list_pages_by_keyset_past_any_count() {
    let app = TestApp::pinned(pinned_at()).await;
    let ann = app.signup("Ann", "ann@example.com").await;
    app.signup("Bob", "bob@example.com").await;
    for (slug, email, n) in [
        ("ann-s-organization", "ann@example.com", 30),
        ("bob-s-organization", "bob@example.com", 3),
    ] {
        let org = org_id(&app, slug);
        let user = common::uuid_of(
            &mut app.conn(),
            &format!("SELECT id FROM users WHERE email = '{email}'"),
        );
        let mut conn = app.conn();
        let tenant = Tenant::for_member(&mut conn, org.into(), user.into()).unwrap();
        for _ in 0..n {
            let lines = [lead_dashboard::db::invoices::NewLine {
                description: "Starter".into(),
                quantity: 1,
                unit_cents: 4900,
            }];
            let at = pinned_at();
            conn.transaction(|conn| {
                lead_dashboard::db::invoices::create(
                    conn,
                    &tenant,
                    &lines,
                    (at, at),
                    lead_dashboard::db::invoices::InvoiceStatus::Paid,
                    &lead_dashboard::db::invoices::Source::local(&Default::default()),
                    at,
                )
            })
            .unwrap();
        }
    }
    let first = ann.get("/billing").await;
    let page1 = listed_numbers(&first.body);
    assert_eq!(page1.len(), 25);
    assert_eq!(page1[0], "ANN-2026-0030", "newest first");
    let re = regex::Regex::new(r#"href="(/billing\?after=[^"]+)" rel="next""#).unwrap();
    let next = re.captures(&first.body).expect("a link to older invoices")[1].replace("&amp;", "&");
    let second = ann.get(&next).await;
    assert_eq!(second.status, 200);
    let page2 = listed_numbers(&second.body);
    assert_eq!(
        page2,
        (1..=5)
            .rev()
            .map(|n| format!("ANN-2026-{n:04}"))
            .collect::<Vec<_>>()
    );
    assert!(!re.is_match(&second.body), "no page after the last");
    assert!(
        !second.body.contains("BOB-2026"),
        "another organization's invoices never show"
    );
    // A malformed cursor starts at the top instead of failing.
    assert_eq!(
        listed_numbers(&ann.get("/billing?after=nonsense").await.body).len(),
        25
    );
}
