//! What keeps an organization at one Stripe subscription when Checkout is
//! opened twice (the older session is expired; a second completed Checkout
//! has its subscription ended at once), and Stripe Tax asked for on Stripe's
//! side when it is configured — all against the contract stub.

use lead_dashboard::clock::Clock;
use serde_json::json;

use super::scenarios::{confirm, june, no_contract_violations, setup, sub_row};
use super::*;
use crate::common::Client;

const STARTER: [(&str, &str); 2] = [("plan", "STARTER"), ("interval", "monthly")];

/// The Checkout Session an answer redirects to.
fn session_of(r: &common::Resp) -> String {
    let location = r.location().unwrap_or_else(|| panic!("{}", r.body));
    location.rsplit('/').next().unwrap().to_string()
}

pub(super) async fn setup_with_stripe_tax() -> (Stub, TestApp, Client, uuid::Uuid) {
    let stub = Stub::start(june().timestamp());
    let url = stub.url.clone();
    let app = TestApp::with_clock_and_config(Clock::fixed(june()), move |c| {
        use_stripe(c, &url);
        c.vat.stripe_tax = true;
    })
    .await;
    let ann = app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    (stub, app, ann, org)
}

#[actix_web::test]
async fn with_stripe_tax_checkout_and_plan_changes_ask_stripe_for_the_tax() {
    let (stub, app, ann, org) = setup_with_stripe_tax().await;
    end_trial_on_free(&app, org);
    ann.post("/plans/change", &STARTER).await;
    let new_customer = &stub.calls_to("POST", "/v1/checkout/sessions")[0];
    assert_eq!(new_customer.get("automatic_tax[enabled]"), Some("true"));
    assert_eq!(new_customer.get("tax_id_collection[enabled]"), Some("true"));
    let price = &stub.calls_to("POST", "/v1/prices")[0];
    assert_eq!(
        price.get("tax_behavior"),
        Some("exclusive"),
        "prices excl. VAT"
    );
    assert_eq!(
        new_customer.get("customer_update[address]"),
        None,
        "only allowed with an existing customer"
    );
    // A customer Stripe knows already: Checkout saves the address it collects.
    diesel::sql_query(format!(
        "UPDATE subscriptions SET provider_customer_id = 'cus_known' WHERE organization_id = '{org}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let second = ann.post("/plans/change", &STARTER).await;
    let known = &stub.calls_to("POST", "/v1/checkout/sessions")[1];
    assert_eq!(known.get("customer"), Some("cus_known"));
    assert_eq!(known.get("automatic_tax[enabled]"), Some("true"));
    assert_eq!(known.get("customer_update[address]"), Some("auto"));
    assert_eq!(known.get("customer_update[name]"), Some("auto"));
    let completed = stub.complete_checkout(&session_of(&second));
    let sub = completed["subscription"].as_str().unwrap().to_string();
    send(&app, "checkout.session.completed", &completed).await;
    assert_eq!(sub_row(&app, "plan = 'STARTER' AND status = 'ACTIVE'"), 1);
    // The upgrade's proration invoice is taxed too: the subscription keeps
    // the automatic tax Checkout gave it (a pending-update change may not
    // send `automatic_tax`, Stripe refuses it there).
    assert_eq!(
        stub.subscription(&sub)["automatic_tax"]["enabled"],
        json!(true)
    );
    stub.state.lock().unwrap().now += 15 * 86_400;
    let form = [("plan", "PROFESSIONAL"), ("interval", "monthly")];
    assert_eq!(ann.post("/plans/change", &form).await.status, 303);
    let update = &stub.calls_to("POST", &format!("/v1/subscriptions/{sub}"))[0];
    assert_eq!(update.get("proration_behavior"), Some("always_invoice"));
    assert_eq!(
        update.get("payment_behavior"),
        Some("pending_if_incomplete")
    );
    assert_eq!(update.get("automatic_tax[enabled]"), None);
    confirm(&stub, &app, &sub).await;
    // So are the phases of a change at the period end.
    let form = [
        ("plan", "STARTER"),
        ("interval", "monthly"),
        ("confirm", "yes"),
    ];
    assert_eq!(ann.post("/plans/change", &form).await.status, 303);
    let schedule = stub.subscription(&sub)["schedule"]
        .as_str()
        .unwrap()
        .to_string();
    let phases = &stub.calls_to("POST", &format!("/v1/subscription_schedules/{schedule}"))[0];
    assert_eq!(
        phases.get("phases[0][automatic_tax][enabled]"),
        Some("true")
    );
    assert_eq!(
        phases.get("phases[1][automatic_tax][enabled]"),
        Some("true")
    );
    no_contract_violations(&stub);
}

#[actix_web::test]
async fn of_two_checkout_tabs_only_the_newest_can_be_paid() {
    let (stub, app, ann, org) = setup().await;
    end_trial_on_free(&app, org);
    let first = session_of(&ann.post("/plans/change", &STARTER).await);
    assert_eq!(
        sub_row(&app, &format!("checkout_session_id = '{first}'")),
        1
    );
    let second = session_of(&ann.post("/plans/change", &STARTER).await);
    assert_ne!(first, second);
    let expired = stub.calls_to("POST", &format!("/v1/checkout/sessions/{first}/expire"));
    assert_eq!(expired.len(), 1, "the older session is expired first");
    assert!(expired[0].params.is_empty());
    assert_eq!(
        stub.state.lock().unwrap().sessions[&first]["status"],
        "expired"
    );
    assert_eq!(
        sub_row(&app, &format!("checkout_session_id = '{second}'")),
        1
    );
    let completed = stub.complete_checkout(&second);
    assert_eq!(
        send(&app, "checkout.session.completed", &completed).await,
        200
    );
    assert_eq!(
        sub_row(
            &app,
            "checkout_session_id IS NULL AND status = 'ACTIVE' AND plan = 'STARTER'"
        ),
        1,
        "a completed session is no longer open"
    );
    assert_eq!(stub.state.lock().unwrap().subscriptions.len(), 1);
    no_contract_violations(&stub);
}

#[actix_web::test]
async fn a_second_completed_checkout_has_its_subscription_ended_at_once() {
    let (stub, app, ann, org) = setup().await;
    end_trial_on_free(&app, org);
    let first = session_of(&ann.post("/plans/change", &STARTER).await);
    // Paid in the first tab before the second opened; its webhook is not here yet.
    let paid_first = stub.complete_checkout(&first);
    let second = session_of(&ann.post("/plans/change", &STARTER).await);
    assert_eq!(
        stub.refused().len(),
        1,
        "a completed session cannot be expired"
    );
    let paid_second = stub.complete_checkout(&second);
    let sub1 = paid_first["subscription"].as_str().unwrap().to_string();
    let sub2 = paid_second["subscription"].as_str().unwrap().to_string();
    assert_eq!(
        send(&app, "checkout.session.completed", &paid_first).await,
        200
    );
    assert_eq!(
        send(&app, "checkout.session.completed", &paid_second).await,
        200
    );
    let ended = stub.calls_to("DELETE", &format!("/v1/subscriptions/{sub2}"));
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].get("prorate"), Some("true"));
    assert_eq!(ended[0].get("invoice_now"), Some("true"));
    assert_eq!(stub.subscription(&sub2)["status"], "canceled");
    assert_eq!(stub.subscription(&sub1)["status"], "active");
    let kept = format!("provider_subscription_id = '{sub1}' AND status = 'ACTIVE'");
    assert_eq!(sub_row(&app, &kept), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'billing.second_subscription_canceled'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notices WHERE message LIKE 'A second subscription%'"),
        1
    );
    // Stripe's events about the ended one change nothing here.
    let gone = stub.subscription(&sub2);
    send(&app, "customer.subscription.deleted", &gone).await;
    assert_eq!(sub_row(&app, &kept), 1);
    // When Stripe cannot end it, the event is not taken: Stripe delivers it again.
    let mut ghost = paid_second.clone();
    ghost["id"] = json!("cs_ghost");
    ghost["subscription"] = json!("sub_unknown");
    let body = event(
        "evt_ghost",
        "checkout.session.completed",
        now(&app) + 90_000,
        ghost,
    );
    let status = deliver(&app, &body, Some(sign(&body, WEBHOOK_SECRET, now(&app)))).await;
    assert_eq!(status, 500);
    assert_eq!(
        app.count("SELECT count(*) FROM payment_events WHERE event_id = 'evt_ghost'"),
        0
    );
    assert_eq!(sub_row(&app, &kept), 1);
}

/// Stripe computes the tax when it finalizes an invoice: the draft's
/// amounts (`invoice.created`) give way to the finalized ones, and a
/// finalized invoice never changes afterwards.
#[actix_web::test]
async fn invoice_amounts_are_taken_at_finalization_and_then_frozen() {
    let (_stub, app, _ann, org) = setup_with_stripe_tax().await;
    diesel::sql_query(format!(
        "UPDATE subscriptions SET provider_customer_id = 'cus_tax', provider = 'stripe' \
         WHERE organization_id = '{org}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let invoice = |status: &str, net: i64, tax: i64| {
        json!({
            "id": "in_taxed", "object": "invoice", "customer": "cus_tax", "status": status,
            "amount_due": net + tax, "total": net + tax,
            "total_taxes": [{ "amount": tax }],
            "lines": { "data": [{ "description": "Lead Dashboard Starter", "amount": net, "quantity": 1 }] },
        })
    };
    let stored = |app: &TestApp| {
        app.count(
            "SELECT count(*) FROM invoices WHERE provider_invoice_id = 'in_taxed' \
             AND total_cents = 5831 AND vat_cents = 931",
        )
    };
    assert_eq!(
        send(&app, "invoice.created", &invoice("draft", 4900, 0)).await,
        200
    );
    assert_eq!(stored(&app), 0, "the draft has no tax yet");
    assert_eq!(
        send(&app, "invoice.finalized", &invoice("open", 4900, 931)).await,
        200
    );
    assert_eq!(stored(&app), 1, "amounts at finalization");
    assert_eq!(
        send(&app, "invoice.paid", &invoice("paid", 4900, 0)).await,
        200
    );
    assert_eq!(stored(&app), 1, "frozen once finalized");
    assert_eq!(
        app.count("SELECT count(*) FROM invoices WHERE provider_invoice_id = 'in_taxed' AND status = 'paid'"),
        1
    );
}
