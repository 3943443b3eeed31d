//! Webhooks, complete and order-safe: the sequence "created → updated →
//! invoice.paid → updated (downgrade) → deleted" delivered in every order,
//! each event twice, and concurrently, ends in the same state; an event for
//! a customer not linked yet waits and is applied when the link arrives;
//! every handled event type does what it says and no more.

use futures_util::future::join_all;
use lead_dashboard::db::billing::{process, Outcome, ProviderEvent, Setting};
use serde_json::{json, Value};

use super::*;

const T0: i64 = 1_780_000_000;
const DAY: i64 = 86_400;

fn subscription(org: &str, plan: &str, status: &str) -> Value {
    json!({
        "id": "sub_seq", "object": "subscription", "customer": "cus_seq", "status": status,
        "cancel_at_period_end": false, "metadata": { "organization_id": org },
        "items": { "data": [{ "id": "si_seq", "current_period_start": T0, "current_period_end": T0 + 30 * DAY,
            "price": { "id": format!("price_{plan}"), "lookup_key": format!("lead_dashboard_{}_month", plan.to_lowercase()) } }] },
    })
}

/// The five events of the sequence, oldest first: (kind, created, object).
fn sequence(org: &str) -> Vec<(&'static str, i64, Value)> {
    let mut updated = subscription(org, "PROFESSIONAL", "active");
    updated["cancel_at_period_end"] = json!(true);
    let invoice = json!({
        "id": "in_seq", "object": "invoice", "customer": "cus_seq", "subscription": "sub_seq",
        "amount_due": 14900, "period_start": T0, "period_end": T0 + 30 * DAY,
        "lines": { "data": [{ "description": "Lead Dashboard Professional", "amount": 14900, "quantity": 1 }] },
    });
    vec![
        (
            "customer.subscription.created",
            T0,
            subscription(org, "PROFESSIONAL", "incomplete"),
        ),
        ("customer.subscription.updated", T0 + 10, updated),
        ("invoice.paid", T0 + 20, invoice),
        (
            "customer.subscription.updated",
            T0 + 30,
            subscription(org, "STARTER", "active"),
        ),
        (
            "customer.subscription.deleted",
            T0 + 40,
            subscription(org, "STARTER", "canceled"),
        ),
    ]
}

fn body_of(id: &str, e: &(&str, i64, Value)) -> Vec<u8> {
    event(id, e.0, e.1, e.2.clone())
}

/// Everything an event may change, as one comparable line.
fn end_state(conn: &mut PgConnection, org: uuid::Uuid) -> String {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        state: String,
    }
    let sql = format!(
        "SELECT concat_ws('|', s.status, s.plan, s.billing_interval, s.cancel_at_period_end, \
           s.provider_customer_id, coalesce(s.provider_subscription_id, '-'), s.current_period_end, \
           s.past_due_since, (SELECT string_agg(number || ':' || status || ':' || total_cents, ',') FROM invoices), \
           (SELECT count(*) FROM payment_events WHERE pending)) AS state \
         FROM subscriptions s WHERE s.organization_id = '{org}'"
    );
    diesel::sql_query(sql)
        .get_result::<Row>(conn)
        .unwrap()
        .state
}

/// Puts the organization back to a fresh trial with no Stripe link.
fn reset(conn: &mut PgConnection, org: uuid::Uuid) {
    diesel::connection::SimpleConnection::batch_execute(conn, &format!(
        "DELETE FROM invoice_lines; DELETE FROM invoices; DELETE FROM payment_events; \
         UPDATE subscriptions SET status = 'TRIAL', plan = 'FREE', billing_interval = 'month', \
           cancel_at_period_end = false, provider_customer_id = NULL, provider_subscription_id = NULL, \
           provider_state_at = NULL, past_due_since = NULL, has_payment_method = false, \
           scheduled_plan = NULL, pending_change = NULL WHERE organization_id = '{org}'"
    )).unwrap();
}

/// Applies `events` in the given order, each twice, straight through `process`.
fn apply_in_order(
    conn: &mut PgConnection,
    events: &[(&str, i64, Value)],
    order: &[usize],
    tag: &str,
) {
    let setting = Setting {
        site: "http://test",
        vat: &Default::default(),
        stripe: None,
    };
    for &i in order {
        let id = format!("evt_{tag}_{i}");
        let event = ProviderEvent::parse(&body_of(&id, &events[i])).unwrap();
        let first = process(conn, &event, &setting, pinned_at()).unwrap();
        assert_ne!(first, Outcome::Duplicate);
        assert_eq!(
            process(conn, &event, &setting, pinned_at()).unwrap(),
            Outcome::Duplicate
        );
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            all.push(q);
        }
    }
    all
}

#[actix_web::test]
async fn the_sequence_in_every_order_and_twice_ends_the_same() {
    let app = TestApp::pinned(pinned_at()).await;
    app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    let events = sequence(&org.to_string());
    let mut conn = app.conn();
    for (n, expected_status) in [(5, "CANCELED"), (4, "ACTIVE")] {
        let mut seen = std::collections::BTreeSet::new();
        for (k, order) in permutations(n).iter().enumerate() {
            reset(&mut conn, org);
            apply_in_order(&mut conn, &events[..n], order, &format!("{n}_{k}"));
            seen.insert(end_state(&mut conn, org));
        }
        assert_eq!(seen.len(), 1, "one end state for all orders: {seen:#?}");
        let state = seen.into_iter().next().unwrap();
        assert!(
            state.starts_with(&format!("{expected_status}|STARTER|month|f|cus_seq|")),
            "{state}"
        );
        assert!(
            state.ends_with(":paid:14900|0"),
            "the invoice is paid, nothing pending: {state}"
        );
    }
}

#[actix_web::test]
async fn the_sequence_delivered_concurrently_and_duplicated_ends_the_same() {
    let (url, _stub) = start_stripe_stub();
    let app = stripe_app(&url).await;
    app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    let events = sequence(&org.to_string());
    let mut states = std::collections::BTreeSet::new();
    for round in 0..3 {
        reset(&mut app.conn(), org);
        let bodies: Vec<Vec<u8>> = (0..events.len())
            .flat_map(|i| std::iter::repeat_n(body_of(&format!("evt_c{round}_{i}"), &events[i]), 3))
            .collect();
        let sig = |b: &Vec<u8>| Some(sign(b, WEBHOOK_SECRET, now(&app)));
        let statuses = join_all(bodies.iter().map(|b| deliver(&app, b, sig(b)))).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        states.insert(end_state(&mut app.conn(), org));
        assert_eq!(app.count("SELECT count(*) FROM payment_events"), 5);
    }
    assert_eq!(states.len(), 1, "{states:#?}");
    assert!(states
        .iter()
        .next()
        .unwrap()
        .starts_with("CANCELED|STARTER|"));
}

#[actix_web::test]
async fn an_event_for_a_customer_not_linked_yet_waits_for_the_link() {
    let (url, _stub) = start_stripe_stub();
    let app = stripe_app(&url).await;
    app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization").to_string();
    let invoice = json!({ "id": "in_early", "object": "invoice", "customer": "cus_late", "amount_due": 4900 });
    assert_eq!(send(&app, "invoice.paid", &invoice).await, 200);
    assert_eq!(
        app.count("SELECT count(*) FROM payment_events WHERE pending AND organization_id IS NULL"),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM invoices"), 0);
    let session = json!({ "id": "cs_1", "object": "checkout.session", "client_reference_id": org,
        "customer": "cus_late", "subscription": "sub_late", "payment_status": "paid",
        "metadata": { "plan": "STARTER", "interval": "month" } });
    assert_eq!(
        send(&app, "checkout.session.completed", &session).await,
        200
    );
    assert_eq!(
        app.count("SELECT count(*) FROM payment_events WHERE pending"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM payment_events WHERE organization_id IS NOT NULL"),
        2
    );
    assert_eq!(app.count("SELECT count(*) FROM invoices WHERE provider_invoice_id = 'in_early' AND status = 'paid'"), 1);
    // An event naming no customer and no organization can never be linked.
    let orphan = json!({ "id": "in_orphan", "object": "invoice", "amount_due": 100 });
    assert_eq!(send(&app, "invoice.paid", &orphan).await, 200);
    assert_eq!(
        app.count("SELECT count(*) FROM payment_events WHERE pending"),
        0
    );
}

/// A Stripe app where Ann's organization is ACTIVE on STARTER, linked to `customer`.
async fn app_linked_to(customer: &str) -> (TestApp, Stub) {
    let (url, stub) = start_stripe_stub();
    let app = stripe_app(&url).await;
    app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    diesel::sql_query(format!(
        "UPDATE subscriptions SET provider_customer_id = '{customer}', status = 'ACTIVE', plan = 'STARTER' WHERE organization_id = '{org}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
    (app, stub)
}

#[actix_web::test]
async fn every_event_type_does_what_it_says() {
    let (app, _stub) = app_linked_to("cus_t").await;
    let invoice = |status: &str| {
        json!({ "id": "in_t", "object": "invoice", "customer": "cus_t", "status": status,
        "amount_due": 4900, "hosted_invoice_url": "https://invoice.stripe.test/in_t",
        "lines": { "data": [{ "description": "Starter", "amount": 4900, "quantity": 1 }] } })
    };
    let status_of = |app: &TestApp, s: &str| {
        app.count(&format!(
            "SELECT count(*) FROM invoices WHERE provider_invoice_id = 'in_t' AND status = '{s}'"
        ))
    };
    send(&app, "invoice.created", &invoice("draft")).await;
    assert_eq!(status_of(&app, "draft"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM invoices WHERE issued_at IS NULL"),
        1,
        "a draft is not issued"
    );
    send(&app, "invoice.finalized", &invoice("open")).await;
    assert_eq!(status_of(&app, "open"), 1);
    send(&app, "invoice.voided", &invoice("void")).await;
    assert_eq!(status_of(&app, "void"), 1);
    send(&app, "invoice.payment_failed", &invoice("open")).await;
    assert_eq!(status_of(&app, "void"), 1, "void is final");
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE status = 'ACTIVE'"),
        1,
        "a void invoice's failure is no renewal failure"
    );
    // A zero invoice (the one that opens a trial) is not filed.
    send(
        &app,
        "invoice.paid",
        &json!({ "id": "in_zero", "customer": "cus_t", "amount_due": 0 }),
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM invoices WHERE provider_invoice_id = 'in_zero'"),
        0
    );
    send(
        &app,
        "payment_method.attached",
        &json!({ "id": "pm_1", "object": "payment_method", "customer": "cus_t" }),
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE has_payment_method"),
        1
    );
    send(
        &app,
        "customer.subscription.trial_will_end",
        &json!({ "id": "sub_t", "customer": "cus_t", "trial_end": T0 }),
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM notices WHERE message LIKE 'Your trial ends on%'"),
        1
    );
    assert_eq!(
        send(
            &app,
            "customer.updated",
            &json!({ "id": "cus_t", "customer": "cus_t" })
        )
        .await,
        200
    );
    // A late failure of a paid invoice changes neither the invoice nor the plan.
    let mut paid = invoice("paid");
    paid["id"] = json!("in_p");
    let body = event(
        "evt_paid_p",
        "invoice.paid",
        now(&app) + 10_000,
        paid.clone(),
    );
    deliver(&app, &body, Some(sign(&body, WEBHOOK_SECRET, now(&app)))).await;
    let body = event(
        "evt_fail_p",
        "invoice.payment_failed",
        now(&app) + 9_000,
        paid,
    );
    deliver(&app, &body, Some(sign(&body, WEBHOOK_SECRET, now(&app)))).await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM invoices WHERE provider_invoice_id = 'in_p' AND status = 'paid'"
        ),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE status = 'ACTIVE'"),
        1
    );
}

/// Delivers `kind` about `object` as created at `created`, signed now.
async fn deliver_at(app: &TestApp, id: &str, kind: &str, created: i64, object: &Value) -> u16 {
    let body = event(id, kind, created, object.clone());
    deliver(app, &body, Some(sign(&body, WEBHOOK_SECRET, now(app)))).await
}

#[actix_web::test]
async fn a_deleted_draft_is_void_in_any_order_and_never_comes_back() {
    let (app, _stub) = app_linked_to("cus_d").await;
    let draft = |id: &str| {
        json!({ "id": id, "object": "invoice", "customer": "cus_d", "status": "draft", "amount_due": 4900,
        "lines": { "data": [{ "description": "Starter", "amount": 4900, "quantity": 1 }] } })
    };
    let status_of = |id: &str| {
        app.count(&format!(
            "SELECT count(*) FROM invoices WHERE provider_invoice_id = '{id}' AND status = 'void'"
        ))
    };
    let t = now(&app);
    // In order, the deletion delivered twice.
    deliver_at(&app, "evt_d1_c", "invoice.created", t - 20, &draft("in_d1")).await;
    for _ in 0..2 {
        let status = deliver_at(&app, "evt_d1_d", "invoice.deleted", t - 10, &draft("in_d1")).await;
        assert_eq!(status, 200);
    }
    assert_eq!(status_of("in_d1"), 1);
    // Deleted before created: the late creation does not bring the draft back.
    deliver_at(&app, "evt_d2_d", "invoice.deleted", t - 10, &draft("in_d2")).await;
    deliver_at(&app, "evt_d2_c", "invoice.created", t - 20, &draft("in_d2")).await;
    assert_eq!(status_of("in_d2"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM invoices"),
        2,
        "one row each"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM invoices WHERE status <> 'void'"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE subject LIKE 'Invoice %'"),
        0,
        "a draft is never issued"
    );
}
