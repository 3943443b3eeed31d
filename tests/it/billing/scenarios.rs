//! The subscription lifecycle against the Stripe contract stub, as an owner
//! lives it: trial → paid without an early charge, upgrade mid-period (one
//! subscription, a prorated invoice), downgrade at the period end, cancel and
//! resume, failed renewal → PAST_DUE → pay now → ACTIVE, and failed renewal
//! → grace over → FREE. Local state changes only with Stripe's webhooks,
//! which the tests build from the stub's own objects.

use chrono::Duration;
use lead_dashboard::config::Config;
use lead_dashboard::db::SystemAccess;
use lead_dashboard::jobs::lifecycle::run_at;
use serde_json::json;

use super::*;
use crate::common::Client;

/// 15 June 2026, mid-month: periods and prorations are easy to read.
pub(super) fn june() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 10, 0, 0).unwrap()
}

pub(super) async fn setup() -> (Stub, TestApp, Client, uuid::Uuid) {
    let stub = Stub::start(june().timestamp());
    let app = stripe_app_at(&stub.url, june()).await;
    let ann = app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    (stub, app, ann, org)
}

pub(super) fn sub_row(app: &TestApp, cond: &str) -> i64 {
    app.count(&format!("SELECT count(*) FROM subscriptions WHERE {cond}"))
}

/// From FREE (trial over) to `plan` through Checkout, confirmed by the
/// webhooks Stripe sends; returns the subscription id.
pub(super) async fn subscribe(
    stub: &Stub,
    app: &TestApp,
    ann: &Client,
    org: uuid::Uuid,
    plan: &str,
) -> String {
    end_trial_on_free(app, org);
    let r = ann
        .post("/plans/change", &[("plan", plan), ("interval", "monthly")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let session = r
        .location()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let completed = stub.complete_checkout(&session);
    let sub = completed["subscription"].as_str().unwrap().to_string();
    assert_eq!(
        send(app, "checkout.session.completed", &completed).await,
        200
    );
    assert_eq!(
        send(
            app,
            "customer.subscription.created",
            &stub.subscription(&sub)
        )
        .await,
        200
    );
    let invoice = stub.state.lock().unwrap().invoices.last().unwrap().clone();
    assert_eq!(send(app, "invoice.paid", &invoice).await, 200);
    assert_eq!(
        sub_row(app, &format!("plan = '{plan}' AND status = 'ACTIVE'")),
        1
    );
    sub
}

/// Stripe's webhook reporting the subscription as it now is.
pub(super) async fn confirm(stub: &Stub, app: &TestApp, sub: &str) {
    let object = stub.subscription(sub);
    assert_eq!(
        send(app, "customer.subscription.updated", &object).await,
        200
    );
}

pub(super) fn no_contract_violations(stub: &Stub) {
    assert!(
        stub.refused().is_empty(),
        "Stripe would refuse: {:?}",
        stub.refused()
    );
}

#[actix_web::test]
async fn trial_to_paid_charges_nothing_before_the_trial_ends() {
    let (stub, app, ann, _org) = setup().await;
    let r = ann
        .post(
            "/plans/change",
            &[("plan", "STARTER"), ("interval", "monthly")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(
        stub.calls().is_empty(),
        "a trial change needs no Stripe call"
    );
    assert_eq!(sub_row(&app, "plan = 'STARTER' AND status = 'TRIAL'"), 1);
    // The billing page's "Manage payment methods" works during the trial.
    let r = ann.post("/billing/payment-method", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let session = &stub.calls_to("POST", "/v1/checkout/sessions")[0];
    let trial_end = (june() + Duration::days(14)).timestamp().to_string();
    assert_eq!(
        session.get("subscription_data[trial_end]"),
        Some(trial_end.as_str())
    );
    assert_eq!(session.get("mode"), Some("subscription"));
    let id = r
        .location()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let completed = stub.complete_checkout(&id);
    assert_eq!(completed["payment_status"], "no_payment_required");
    let sub = completed["subscription"].as_str().unwrap().to_string();
    send(&app, "checkout.session.completed", &completed).await;
    send(
        &app,
        "customer.subscription.created",
        &stub.subscription(&sub),
    )
    .await;
    assert_eq!(sub_row(&app, &format!("status = 'TRIAL' AND plan = 'STARTER' AND has_payment_method AND provider_subscription_id = '{sub}'")), 1);
    assert!(
        stub.state.lock().unwrap().invoices.is_empty(),
        "nothing charged"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE subject LIKE 'Invoice %'"),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM invoices"), 0);
    // At the trial's end the job leaves the Stripe subscription to Stripe.
    let mut config = Config::for_tests(&app.db.url);
    use_stripe(&mut config, &stub.url);
    let later = june() + Duration::days(15);
    run_at(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        &config,
        later,
    )
    .unwrap();
    assert_eq!(sub_row(&app, "status = 'TRIAL'"), 1, "not assumed paid");
    no_contract_violations(&stub);
}

#[actix_web::test]
async fn upgrade_mid_period_changes_the_one_subscription_and_prorates() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    stub.state.lock().unwrap().now += 15 * 86_400;
    let r = ann
        .post(
            "/plans/change",
            &[("plan", "PROFESSIONAL"), ("interval", "monthly")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        stub.calls_to("POST", "/v1/checkout/sessions").len(),
        1,
        "no second Checkout"
    );
    let update = &stub.calls_to("POST", &format!("/v1/subscriptions/{sub}"))[0];
    assert_eq!(update.get("proration_behavior"), Some("always_invoice"));
    // Without Stripe Tax the app never asks Stripe for it.
    assert_eq!(update.get("automatic_tax[enabled]"), None);
    let checkout = &stub.calls_to("POST", "/v1/checkout/sessions")[0];
    assert_eq!(checkout.get("automatic_tax[enabled]"), None);
    assert_eq!(
        update.get("items[0][id]"),
        stub.subscription(&sub)["items"]["data"][0]["id"].as_str()
    );
    assert_eq!(
        sub_row(&app, "plan = 'STARTER' AND pending_change IS NOT NULL"),
        1,
        "waits for the webhook"
    );
    let page = ann.get("/plans").await;
    assert!(
        page.body.contains("waiting for confirmation"),
        "{}",
        page.body
    );
    assert!(page.body.contains("hx-trigger=\"every 2s\""));
    let billing = ann.get("/billing").await;
    assert!(
        billing.body.contains("hx-get=\"/billing/subscription\""),
        "{}",
        billing.body
    );
    let card = ann.get_htmx("/billing/subscription").await;
    assert!(
        card.body.contains("waiting for confirmation")
            && card.body.contains("billing-subscription")
    );
    let again = ann
        .post(
            "/plans/change",
            &[("plan", "ENTERPRISE"), ("interval", "monthly")],
        )
        .await;
    assert_eq!(again.status, 409, "one change at a time");
    confirm(&stub, &app, &sub).await;
    assert_eq!(
        sub_row(
            &app,
            "plan = 'PROFESSIONAL' AND status = 'ACTIVE' AND pending_change IS NULL"
        ),
        1
    );
    assert!(!ann
        .get("/plans")
        .await
        .body
        .contains("waiting for confirmation"));
    let card = ann.get_htmx("/billing/subscription").await;
    assert!(!card.body.contains("waiting for confirmation") && card.body.contains("Professional"));
    let proration = stub.state.lock().unwrap().invoices[1].clone();
    assert_eq!(
        proration["amount_due"], 5000,
        "half a month of the difference"
    );
    send(&app, "invoice.paid", &proration).await;
    assert_eq!(
        app.count("SELECT count(*) FROM invoices WHERE status = 'paid' AND total_cents = 5000"),
        1
    );
    assert_eq!(
        stub.state.lock().unwrap().subscriptions.len(),
        1,
        "one Stripe subscription"
    );
    no_contract_violations(&stub);
}

/// A change Stripe schedules for the period end: the schedule is made from
/// the subscription, `while` holds and the page shows `banner` until the
/// period ends at Stripe, then the webhook makes `after` hold. Returns the
/// call that set the schedule's phases.
async fn scheduled_change(
    (stub, app, ann): (&Stub, &TestApp, &Client),
    sub: &str,
    form: &[(&str, &str)],
    [while_, banner, after]: [&str; 3],
) -> stripe_stub::Call {
    let r = ann.post("/plans/change", form).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let created = &stub.calls_to("POST", "/v1/subscription_schedules")[0];
    assert_eq!(created.get("from_subscription"), Some(sub));
    let schedule = stub.subscription(sub)["schedule"]
        .as_str()
        .unwrap()
        .to_string();
    let phases =
        stub.calls_to("POST", &format!("/v1/subscription_schedules/{schedule}"))[0].clone();
    assert_eq!(sub_row(app, while_), 1);
    let page = ann.get("/plans").await;
    assert!(page.body.contains(banner), "{}", page.body);
    send(app, "customer.subscription.updated", &stub.end_period(sub)).await;
    assert_eq!(sub_row(app, after), 1);
    no_contract_violations(stub);
    phases
}

#[actix_web::test]
async fn downgrade_waits_for_the_period_end() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "PROFESSIONAL").await;
    let period_end = stub.subscription(&sub)["items"]["data"][0]["current_period_end"].to_string();
    let form = [
        ("plan", "STARTER"),
        ("interval", "monthly"),
        ("confirm", "yes"),
    ];
    let phases = scheduled_change(
        (&stub, &app, &ann),
        &sub,
        &form,
        [
            "plan = 'PROFESSIONAL' AND scheduled_plan = 'STARTER'",
            "Your plan changes to Starter (monthly) on",
            "plan = 'STARTER' AND scheduled_plan IS NULL AND provider_schedule_id IS NOT NULL",
        ],
    )
    .await;
    assert_eq!(phases.get("phases[0][end_date]"), Some(period_end.as_str()));
    assert_eq!(phases.get("end_behavior"), Some("release"));
}

/// The schedule of a downgrade stays attached at Stripe until its last
/// phase ends; a cancel in the period the downgrade took effect releases it
/// first (Stripe refuses `cancel_at_period_end` on a scheduled subscription).
#[actix_web::test]
async fn a_cancel_after_a_downgrade_took_effect_releases_the_schedule_first() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "PROFESSIONAL").await;
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
    confirm_period_end(&stub, &app, &sub).await;
    assert_eq!(
        stub.subscription(&sub)["schedule"],
        json!(schedule),
        "attached while its last phase runs"
    );
    assert_eq!(
        sub_row(&app, "plan = 'STARTER' AND scheduled_plan IS NULL"),
        1
    );
    let r = ann.post("/plans/cancel", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    no_contract_violations(&stub);
    assert_eq!(
        stub.calls_to(
            "POST",
            &format!("/v1/subscription_schedules/{schedule}/release")
        )
        .len(),
        1
    );
    assert_eq!(stub.subscription(&sub)["cancel_at_period_end"], json!(true));
}

/// The period ends at Stripe and its webhook arrives.
async fn confirm_period_end(stub: &Stub, app: &TestApp, sub: &str) {
    let object = stub.end_period(sub);
    stub.state.lock().unwrap().now = object["items"]["data"][0]["current_period_start"]
        .as_i64()
        .unwrap();
    assert_eq!(
        send(app, "customer.subscription.updated", &object).await,
        200
    );
}

/// A second downgrade while a kept schedule runs its last phase: its
/// phases start from the phase running now, never from an ended one.
#[actix_web::test]
async fn a_second_downgrade_builds_its_phases_from_the_current_one() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "ENTERPRISE").await;
    let down = |plan: &'static str| [("plan", plan), ("interval", "monthly"), ("confirm", "yes")];
    assert_eq!(
        ann.post("/plans/change", &down("PROFESSIONAL"))
            .await
            .status,
        303
    );
    confirm_period_end(&stub, &app, &sub).await;
    assert_eq!(sub_row(&app, "plan = 'PROFESSIONAL'"), 1);
    let period = stub.subscription(&sub)["items"]["data"][0].clone();
    assert_eq!(
        ann.post("/plans/change", &down("STARTER")).await.status,
        303
    );
    let schedule = stub.subscription(&sub)["schedule"]
        .as_str()
        .unwrap()
        .to_string();
    let phases = stub.calls_to("POST", &format!("/v1/subscription_schedules/{schedule}"));
    let second = phases.last().unwrap();
    assert_eq!(
        second.get("phases[0][start_date]"),
        Some(period["current_period_start"].to_string().as_str())
    );
    assert_eq!(
        second.get("phases[0][end_date]"),
        Some(period["current_period_end"].to_string().as_str())
    );
    no_contract_violations(&stub);
    confirm_period_end(&stub, &app, &sub).await;
    assert_eq!(sub_row(&app, "plan = 'STARTER'"), 1);
}

#[actix_web::test]
async fn cancel_and_resume_then_cancel_to_the_end() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    assert_eq!(ann.post("/plans/cancel", &[]).await.status, 303);
    let calls = stub.calls_to("POST", &format!("/v1/subscriptions/{sub}"));
    assert_eq!(calls[0].get("cancel_at_period_end"), Some("true"));
    assert_eq!(
        sub_row(
            &app,
            "NOT cancel_at_period_end AND pending_change IS NOT NULL"
        ),
        1
    );
    confirm(&stub, &app, &sub).await;
    assert!(ann
        .get("/plans")
        .await
        .body
        .contains("Your subscription ends on"));
    assert_eq!(ann.post("/plans/resume", &[]).await.status, 303);
    assert_eq!(
        stub.calls_to("POST", &format!("/v1/subscriptions/{sub}"))[1].get("cancel_at_period_end"),
        Some("false")
    );
    confirm(&stub, &app, &sub).await;
    assert_eq!(
        sub_row(
            &app,
            "NOT cancel_at_period_end AND status = 'ACTIVE' AND pending_change IS NULL"
        ),
        1
    );
    // Cancel again and let the period end: CANCELED, the Free limits apply.
    ann.post("/plans/cancel", &[]).await;
    confirm(&stub, &app, &sub).await;
    send(
        &app,
        "customer.subscription.deleted",
        &stub.end_period(&sub),
    )
    .await;
    assert_eq!(
        sub_row(
            &app,
            "status = 'CANCELED' AND provider_subscription_id IS NULL"
        ),
        1
    );
    assert!(ann
        .get("/plans")
        .await
        .body
        .contains("The Free plan's limits apply"));
    no_contract_violations(&stub);
}

pub(super) fn failed_invoice(sub: &str, customer: &str, attempt: i64) -> serde_json::Value {
    json!({
        "id": "in_failed_1", "object": "invoice", "customer": customer, "subscription": sub,
        "status": "open", "amount_due": 4900, "attempt_count": attempt,
        "hosted_invoice_url": "https://invoice.stripe.test/in_failed_1",
        "lines": { "data": [{ "description": "Lead Dashboard Starter", "amount": 4900, "quantity": 1 }] },
    })
}

/// A STARTER subscription whose renewal failed once: (subscription, customer).
async fn past_due(stub: &Stub, app: &TestApp, ann: &Client, org: uuid::Uuid) -> (String, String) {
    let sub = subscribe(stub, app, ann, org, "STARTER").await;
    let customer = stub.subscription(&sub)["customer"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = failed_invoice(&sub, &customer, 1);
    assert_eq!(send(app, "invoice.payment_failed", &failed).await, 200);
    (sub, customer)
}

#[actix_web::test]
async fn failed_renewal_then_pay_now_makes_it_active_again() {
    let (stub, app, ann, org) = setup().await;
    let (sub, customer) = past_due(&stub, &app, &ann, org).await;
    assert_eq!(
        sub_row(&app, "status = 'PAST_DUE' AND past_due_since IS NOT NULL"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notices WHERE kind = 'billing'"),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'billing' AND to_email = 'ann@example.com' AND body_text LIKE '%Pay now%'"), 1);
    // A second failed attempt is told again.
    send(
        &app,
        "invoice.payment_failed",
        &failed_invoice(&sub, &customer, 2),
    )
    .await;
    let dunning = "SELECT count(*) FROM mail_outbox WHERE kind = 'billing' AND subject LIKE 'Payment failed%'";
    assert_eq!(app.count(dunning), 2);
    // The first invoice (paid) and the failed one (issued open) were mailed once each.
    let invoice_mail = "SELECT count(*) FROM mail_outbox WHERE kind = 'billing' AND subject LIKE 'Invoice ANN-2026-%' AND body_text LIKE '%/billing/invoices/%'";
    assert_eq!(app.count(invoice_mail), 2);
    let page = ann.get("/billing").await;
    assert!(page.body.contains("Pay now"));
    let r = ann.post("/billing/pay", &[]).await;
    assert_eq!(
        r.location(),
        Some("https://invoice.stripe.test/in_failed_1")
    );
    let mut paid = failed_invoice(&sub, &customer, 2);
    paid["status"] = json!("paid");
    send(&app, "invoice.paid", &paid).await;
    assert_eq!(
        sub_row(&app, "status = 'ACTIVE' AND past_due_since IS NULL"),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM invoices WHERE provider_invoice_id = 'in_failed_1' AND status = 'paid'"), 1);
    no_contract_violations(&stub);
}

#[actix_web::test]
async fn failed_renewal_past_the_grace_period_ends_on_free() {
    let (stub, app, ann, org) = setup().await;
    let (sub, _customer) = past_due(&stub, &app, &ann, org).await;
    let mut config = Config::for_tests(&app.db.url);
    use_stripe(&mut config, &stub.url);
    let access = SystemAccess::grant_at_startup();
    let week_later = june() + Duration::days(8);
    assert_eq!(
        run_at(&mut app.conn(), &access, &config, week_later).unwrap(),
        2,
        "the expiry, then its Stripe cancellation"
    );
    assert_eq!(
        stub.calls_to("DELETE", &format!("/v1/subscriptions/{sub}"))
            .len(),
        1
    );
    assert_eq!(sub_row(&app, "status = 'EXPIRED'"), 1);
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'billing' AND subject LIKE '%you are on Free%'"), 1);
    // Stripe confirms the end; the organization stays on the Free limits,
    // and the cause stays EXPIRED (CANCELED means the owner chose it).
    send(
        &app,
        "customer.subscription.deleted",
        &stub.subscription(&sub),
    )
    .await;
    assert_eq!(
        sub_row(
            &app,
            "status = 'EXPIRED' AND provider_subscription_id IS NULL"
        ),
        1
    );
    no_contract_violations(&stub);
}

#[actix_web::test]
async fn monthly_to_yearly_switches_at_the_period_end() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "PROFESSIONAL").await;
    let form = [("plan", "PROFESSIONAL"), ("interval", "yearly")];
    let phases = scheduled_change(
        (&stub, &app, &ann),
        &sub,
        &form,
        [
            "billing_interval = 'month' AND scheduled_interval = 'year'",
            "Your plan changes to Professional (yearly) on",
            "plan = 'PROFESSIONAL' AND billing_interval = 'year' AND scheduled_plan IS NULL",
        ],
    )
    .await;
    assert_eq!(phases.get("phases[1][duration][interval]"), Some("year"));
    let price = &stub.calls_to("POST", "/v1/prices")[1];
    assert_eq!(
        price.get("lookup_key"),
        Some("lead_dashboard_professional_year")
    );
    assert_eq!(price.get("unit_amount"), Some("149000"));
}

#[actix_web::test]
async fn a_refused_stripe_cancellation_does_not_hold_up_the_grace_expiry() {
    let (stub, app, ann, org) = setup().await;
    let (sub, customer) = past_due(&stub, &app, &ann, org).await;
    // Canceled in the portal meanwhile, its webhook lost: Stripe refuses the DELETE.
    stub.state
        .lock()
        .unwrap()
        .subscriptions
        .get_mut(&sub)
        .unwrap()["status"] = json!("canceled");
    let mut config = Config::for_tests(&app.db.url);
    use_stripe(&mut config, &stub.url);
    let access = SystemAccess::grant_at_startup();
    let week_later = june() + Duration::days(8);
    assert_eq!(
        run_at(&mut app.conn(), &access, &config, week_later).unwrap(),
        2,
        "the expiry, and the cancellation found already made"
    );
    assert_eq!(stub.refused().len(), 1, "{:?}", stub.refused());
    assert_eq!(
        app.count("SELECT count(*) FROM stripe_operations WHERE status = 'done'"),
        1
    );
    assert_eq!(sub_row(&app, "status = 'EXPIRED'"), 1);
    // Had Stripe collected after all, the linked subscription comes back.
    let mut paid = failed_invoice(&sub, &customer, 3);
    paid["status"] = json!("paid");
    send(&app, "invoice.paid", &paid).await;
    assert_eq!(sub_row(&app, "status = 'ACTIVE'"), 1);
}

#[actix_web::test]
async fn a_renewal_the_bank_asks_to_confirm_is_told_once_and_offered_until_paid() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    let customer = stub.subscription(&sub)["customer"]
        .as_str()
        .unwrap()
        .to_string();
    let url = "https://invoice.stripe.test/in_action_1";
    let mut action = failed_invoice(&sub, &customer, 1);
    action["id"] = json!("in_action_1");
    action["hosted_invoice_url"] = json!(url);
    let kind = "invoice.payment_action_required";
    let body = event("evt_action_1", kind, now(&app), action.clone());
    let sig = sign(&body, WEBHOOK_SECRET, now(&app));
    assert_eq!(deliver(&app, &body, Some(sig.clone())).await, 200);
    assert_eq!(deliver(&app, &body, Some(sig)).await, 200);
    // The same attempt reported again as another event is not told twice.
    assert_eq!(send(&app, kind, &action).await, 200);
    let notices =
        "SELECT count(*) FROM notices WHERE message LIKE 'Your bank asks you to confirm%'";
    assert_eq!(app.count(notices), 1);
    let mails = format!(
        "SELECT count(*) FROM mail_outbox WHERE kind = 'billing' AND to_email = 'ann@example.com' \
         AND subject = 'Your bank asks you to confirm a payment' AND body_text LIKE '%Confirm payment: {url}%'"
    );
    assert_eq!(app.count(&mails), 1);
    assert_eq!(
        sub_row(&app, "status = 'ACTIVE' AND past_due_since IS NULL"),
        1,
        "the status follows Stripe's subscription events"
    );
    assert_eq!(app.count("SELECT count(*) FROM invoices WHERE provider_invoice_id = 'in_action_1' AND status = 'open' AND needs_confirmation"), 1);
    let page = ann.get("/billing").await;
    assert!(page.body.contains("Confirm payment"), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"{url}\"")));
    let card = ann.get_htmx("/billing/subscription").await;
    assert!(card.body.contains("Confirm payment"));
    // Confirmed and paid: nothing to confirm any more.
    let mut paid = action.clone();
    paid["status"] = json!("paid");
    send(&app, "invoice.paid", &paid).await;
    assert!(!ann.get("/billing").await.body.contains("Confirm payment"));
    // An older request for the paid invoice, arriving late, changes nothing.
    action["attempt_count"] = json!(2);
    let late = event("evt_action_late", kind, now(&app) - 3_600, action);
    assert_eq!(
        deliver(&app, &late, Some(sign(&late, WEBHOOK_SECRET, now(&app)))).await,
        200
    );
    assert_eq!(app.count(notices), 1);
    assert_eq!(app.count(&mails), 1);
    assert_eq!(app.count("SELECT count(*) FROM invoices WHERE provider_invoice_id = 'in_action_1' AND status = 'paid'"), 1);
    assert_eq!(sub_row(&app, "status = 'ACTIVE'"), 1);
    no_contract_violations(&stub);
}

/// Stripe applies a subscription update "regardless of whether payment on
/// the new invoice succeeds" unless `payment_behavior=pending_if_incomplete`:
/// a declined upgrade must leave the plan as paid, with nothing past due.
#[actix_web::test]
async fn a_declined_upgrade_keeps_the_paid_plan() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    let starter_price = stub.subscription(&sub)["items"]["data"][0]["price"]["id"].clone();
    {
        let mut st = stub.state.lock().unwrap();
        st.now += 15 * 86_400;
        st.card_declines = true;
    }
    let r = ann
        .post(
            "/plans/change",
            &[("plan", "PROFESSIONAL"), ("interval", "monthly")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let update = &stub.calls_to("POST", &format!("/v1/subscriptions/{sub}"))[0];
    assert_eq!(
        update.get("payment_behavior"),
        Some("pending_if_incomplete")
    );
    let live = stub.subscription(&sub);
    assert_eq!(live["items"]["data"][0]["price"]["id"], starter_price);
    assert!(!live["pending_update"].is_null(), "{live}");
    let page = ann.get("/plans").await;
    assert!(page.body.contains("was declined"), "{}", page.body);
    assert!(!page.body.contains("waiting for confirmation"));
    // Stripe's webhooks for the subscription and its unpaid invoice.
    confirm(&stub, &app, &sub).await;
    let invoice = stub.state.lock().unwrap().invoices.last().unwrap().clone();
    assert_eq!(invoice["status"], "open");
    assert_eq!(send(&app, "invoice.payment_failed", &invoice).await, 200);
    assert_eq!(
        sub_row(
            &app,
            "plan = 'STARTER' AND status = 'ACTIVE' AND pending_change IS NULL"
        ),
        1,
        "the plan stays as paid"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE subject ILIKE '%payment failed%'"),
        0,
        "no dunning for a declined upgrade"
    );
    no_contract_violations(&stub);
}

/// Stripe refuses a Checkout `trial_end` less than 48 hours ahead: a card
/// added 47 hours before the trial ends goes through a Checkout that ends
/// the trial and charges at once, never a dead end.
#[actix_web::test]
async fn a_card_added_47_hours_before_the_trial_ends_is_charged_at_once() {
    let (stub, app, ann, org) = setup().await;
    let r = ann
        .post(
            "/plans/change",
            &[("plan", "STARTER"), ("interval", "monthly")],
        )
        .await;
    assert_eq!(r.status, 303);
    let ends = june() + Duration::hours(47);
    diesel::sql_query(format!(
        "UPDATE subscriptions SET trial_ends_at = '{}' WHERE organization_id = '{org}'",
        ends.to_rfc3339()
    ))
    .execute(&mut app.conn())
    .unwrap();
    let r = ann.post("/billing/payment-method", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let session = &stub.calls_to("POST", "/v1/checkout/sessions")[0];
    assert_eq!(session.get("subscription_data[trial_end]"), None);
    no_contract_violations(&stub);
    let id = r
        .location()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let completed = stub.complete_checkout(&id);
    assert_eq!(completed["payment_status"], "paid");
    send(&app, "checkout.session.completed", &completed).await;
    assert_eq!(sub_row(&app, "status = 'ACTIVE' AND plan = 'STARTER'"), 1);
}

/// Every POST carries an `Idempotency-Key`; a 429 and a 5xx Stripe marks
/// `Stripe-Should-Retry: true` are retried with the same key, so the change
/// is made once. A 5xx Stripe did not mark retryable is not retried (Stripe
/// would replay it for the key) and the owner is not told "nothing changed".
#[actix_web::test]
async fn stripe_calls_are_idempotent_and_retried_as_stripe_says() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    stub.state
        .lock()
        .unwrap()
        .failures
        .extend([(429, None), (503, Some("true"))]);
    assert_eq!(ann.post("/plans/cancel", &[]).await.status, 303);
    let tries = stub.calls_to("POST", &format!("/v1/subscriptions/{sub}"));
    assert_eq!(tries.len(), 3, "two retries");
    let key = tries[0].idempotency_key.clone();
    assert!(key.is_some());
    assert!(tries.iter().all(|c| c.idempotency_key == key), "same key");
    assert_eq!(stub.subscription(&sub)["cancel_at_period_end"], json!(true));
    let posts: Vec<_> = stub
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST")
        .collect();
    assert!(posts.iter().all(|c| c.idempotency_key.is_some()));
    confirm(&stub, &app, &sub).await;
    // An ambiguous 500 is not retried with its key (Stripe would replay
    // it): the subscription is read back, and as the change is not there it
    // is sent again under a new key.
    stub.state.lock().unwrap().failures.push_back((500, None));
    let r = ann.post("/plans/resume", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let tries = stub.calls_to("POST", &format!("/v1/subscriptions/{sub}"));
    assert_eq!(tries.len(), 5);
    assert_ne!(tries[3].idempotency_key, tries[4].idempotency_key);
    assert_eq!(
        stub.subscription(&sub)["cancel_at_period_end"],
        json!(false)
    );
    // Unconfirmed twice: an honest message, never "nothing was changed".
    confirm(&stub, &app, &sub).await;
    assert_eq!(ann.post("/plans/cancel", &[]).await.status, 303);
    confirm(&stub, &app, &sub).await;
    stub.state
        .lock()
        .unwrap()
        .failures
        .extend([(500, None), (500, None)]);
    let r = ann.post("/plans/resume", &[]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(!r.body.contains("nothing was changed"), "{}", r.body);
    assert!(r.body.contains("did not confirm"), "{}", r.body);
    assert_eq!(sub_row(&app, "pending_change IS NULL"), 1, "mark withdrawn");
}

/// The stub itself: a repeated `Idempotency-Key` gets the first answer back
/// and makes nothing twice, as at Stripe.
#[actix_web::test]
async fn the_stub_replays_the_first_answer_for_an_idempotency_key() {
    let stub = Stub::start(june().timestamp());
    let url = format!("{}/v1/prices", stub.url);
    let post = |key: &'static str, amount: &'static str| {
        let url = url.clone();
        actix_web::rt::task::spawn_blocking(move || {
            ureq::post(&url)
                .set("Authorization", "Bearer sk_test_123")
                .set("Stripe-Version", "2025-09-30.clover")
                .set("Idempotency-Key", key)
                .send_form(&[
                    ("currency", "eur"),
                    ("unit_amount", amount),
                    ("lookup_key", "k"),
                ])
                .map(|r| {
                    serde_json::from_str::<serde_json::Value>(&r.into_string().unwrap()).unwrap()
                })
                .map_err(|e| e.to_string())
        })
    };
    let first = post("key-1", "100").await.unwrap().unwrap();
    let again = post("key-1", "100").await.unwrap().unwrap();
    assert_eq!(first["id"], again["id"]);
    assert!(
        post("key-1", "200").await.unwrap().is_err(),
        "other parameters"
    );
    let other = post("key-2", "100").await.unwrap().unwrap();
    assert_ne!(first["id"], other["id"]);
}

/// A job pass with Stripe configured, at `at`.
pub(super) fn pass(app: &TestApp, stub: &Stub, at: DateTime<Utc>) -> usize {
    let mut config = Config::for_tests(&app.db.url);
    use_stripe(&mut config, &stub.url);
    run_at(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        &config,
        at,
    )
    .unwrap()
}

/// Passes every minute while Stripe is down for ten minutes from `from`,
/// then passes until half an hour later with Stripe back: the cancellation
/// is made exactly once, after Stripe is back.
fn stripe_down_for_ten_minutes(app: &TestApp, stub: &Stub, sub: &str, from: DateTime<Utc>) {
    let deletes = |stub: &Stub| {
        stub.calls_to("DELETE", &format!("/v1/subscriptions/{sub}"))
            .len()
    };
    stub.state.lock().unwrap().down = true;
    for minute in 0..10 {
        pass(app, stub, from + Duration::minutes(minute));
    }
    assert_ne!(stub.subscription(sub)["status"], "canceled");
    assert_eq!(
        app.count("SELECT count(*) FROM stripe_operations WHERE status = 'pending' AND attempts > 1 AND last_error IS NOT NULL"),
        1,
        "kept, with its error, for the next pass"
    );
    stub.state.lock().unwrap().down = false;
    let tried_while_down = deletes(stub);
    for minute in 10..40 {
        pass(app, stub, from + Duration::minutes(minute));
    }
    assert_eq!(stub.subscription(sub)["status"], "canceled");
    assert_eq!(deletes(stub) - tried_while_down, 1, "ended once");
    assert_eq!(
        app.count("SELECT count(*) FROM stripe_operations WHERE status = 'done'"),
        1
    );
}

#[actix_web::test]
async fn stripe_down_at_the_grace_expiry_ends_the_subscription_when_it_is_back() {
    let (stub, app, ann, org) = setup().await;
    let (sub, _customer) = past_due(&stub, &app, &ann, org).await;
    let expiry = june() + Duration::days(8);
    stripe_down_for_ten_minutes(&app, &stub, &sub, expiry);
    assert_eq!(sub_row(&app, "status = 'EXPIRED'"), 1);
}

#[actix_web::test]
async fn stripe_down_at_organization_deletion_ends_the_subscription_when_it_is_back() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    stub.state.lock().unwrap().down = true;
    let r = ann
        .post(
            "/settings/delete",
            &[
                ("password", crate::common::PASSWORD),
                ("confirm_name", "Ann's Organization"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        stub.calls().iter().all(|c| c.method != "DELETE"),
        "no Stripe call inside the deletion's transaction"
    );
    stripe_down_for_ten_minutes(&app, &stub, &sub, june());
}

/// A signed event at `created`, delivered.
async fn deliver_at(app: &TestApp, id: &str, kind: &str, created: i64, object: &serde_json::Value) {
    let body = event(id, kind, created, object.clone());
    let status = deliver(app, &body, Some(sign(&body, WEBHOOK_SECRET, now(app)))).await;
    assert_eq!(status, 200);
}

/// `invoice.payment_failed` and `customer.subscription.updated(past_due)`
/// are about two objects, sent by Stripe in the same second and delivered
/// in any order: PAST_DUE either way, and exactly one dunning mail.
#[actix_web::test]
async fn the_dunning_pair_in_either_order_is_past_due_with_one_mail() {
    for invoice_first in [true, false] {
        let (stub, app, ann, org) = setup().await;
        let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
        let customer = stub.subscription(&sub)["customer"]
            .as_str()
            .unwrap()
            .to_string();
        let failed = failed_invoice(&sub, &customer, 1);
        let mut past_due = stub.subscription(&sub);
        past_due["status"] = json!("past_due");
        let at = now(&app) + 1_000_000;
        let invoice = ("evt_pair_invoice", "invoice.payment_failed", &failed);
        let update = ("evt_pair_sub", "customer.subscription.updated", &past_due);
        let order = if invoice_first {
            [invoice, update]
        } else {
            [update, invoice]
        };
        for (id, kind, object) in order {
            deliver_at(&app, id, kind, at, object).await;
        }
        assert_eq!(
            sub_row(&app, "status = 'PAST_DUE'"),
            1,
            "invoice first: {invoice_first}"
        );
        assert_eq!(
            app.count("SELECT count(*) FROM mail_outbox WHERE subject LIKE 'Payment failed%'"),
            1,
            "invoice first: {invoice_first}"
        );
    }
}

/// The renewal's `customer.subscription.updated` (the new period) arrives
/// after the renewal's `invoice.paid` although Stripe sent it first: the
/// invoice does not make it stale, the period advances.
#[actix_web::test]
async fn a_subscription_update_retried_after_the_invoice_paid_still_applies() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    let renewed = stub.end_period(&sub);
    let customer = renewed["customer"].as_str().unwrap().to_string();
    let mut paid = failed_invoice(&sub, &customer, 1);
    paid["id"] = json!("in_renewal_1");
    paid["status"] = json!("paid");
    let at = now(&app) + 1_000_000;
    deliver_at(&app, "evt_renewal_paid", "invoice.paid", at + 1, &paid).await;
    deliver_at(
        &app,
        "evt_renewal_sub",
        "customer.subscription.updated",
        at,
        &renewed,
    )
    .await;
    let end = renewed["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap();
    assert_eq!(
        sub_row(
            &app,
            &format!("status = 'ACTIVE' AND extract(epoch FROM current_period_end) = {end}")
        ),
        1,
        "the new period"
    );
}

/// A January renewal: Stripe's invoice-level `period_start`/`period_end`
/// look back one period (December), its line bills January. The invoice
/// prints the line's period and is numbered in the new year's series.
#[actix_web::test]
async fn a_january_renewal_invoice_prints_its_period_and_is_numbered_in_the_new_year() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    let customer = stub.subscription(&sub)["customer"]
        .as_str()
        .unwrap()
        .to_string();
    let (dec, jan, feb) = (
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
            .unwrap()
            .timestamp(),
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp(),
        Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0)
            .unwrap()
            .timestamp(),
    );
    let renewal = json!({
        "id": "in_january", "object": "invoice", "customer": customer, "subscription": sub,
        "billing_reason": "subscription_cycle", "status": "paid", "amount_due": 4900,
        "amount_paid": 4900, "period_start": dec, "period_end": jan,
        "lines": { "data": [{ "description": "Lead Dashboard Starter", "amount": 4900,
            "quantity": 1, "period": { "start": jan, "end": feb } }] },
    });
    assert_eq!(send(&app, "invoice.paid", &renewal).await, 200);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM invoices WHERE year = 2027 AND number LIKE '%-2027-0001' \
             AND extract(epoch FROM period_start) = {jan} AND extract(epoch FROM period_end) = {feb}"
        )),
        1
    );
}

/// In flexible billing mode the customer portal cancels with `cancel_at`
/// and leaves `cancel_at_period_end` false: the pending end shows, and
/// "Resume" clears the `cancel_at` that was set.
#[actix_web::test]
async fn a_portal_cancellation_shows_and_resume_clears_it() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    let canceled = stub.portal_cancel(&sub);
    assert_eq!(
        send(&app, "customer.subscription.updated", &canceled).await,
        200
    );
    assert_eq!(
        sub_row(&app, "cancel_at_period_end AND status = 'ACTIVE'"),
        1
    );
    assert!(ann
        .get("/plans")
        .await
        .body
        .contains("Your subscription ends on"));
    assert_eq!(ann.post("/plans/resume", &[]).await.status, 303);
    let resume = stub
        .calls_to("POST", &format!("/v1/subscriptions/{sub}"))
        .pop()
        .unwrap();
    assert_eq!(resume.get("cancel_at"), Some(""));
    assert!(stub.subscription(&sub)["cancel_at"].is_null());
    confirm(&stub, &app, &sub).await;
    assert_eq!(
        sub_row(&app, "NOT cancel_at_period_end AND status = 'ACTIVE'"),
        1
    );
    no_contract_violations(&stub);
}
