//! How the owner's actions call Stripe: never inside a database
//! transaction (a slow Stripe holds no row lock and no pooled connection,
//! and a second click meanwhile is refused), an answer lost after the change
//! was made is read back rather than reported or repeated, and a failed
//! payment of a subscription other than the linked one moves nothing.

use serde_json::json;

use super::scenarios::{
    confirm, failed_invoice, june, no_contract_violations, setup, sub_row, subscribe,
};
use super::*;

/// Waits (up to ten seconds) until `ready` holds.
async fn wait_until(ready: impl Fn() -> bool) {
    for _ in 0..500 {
        if ready() {
            return;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("timed out waiting");
}

/// Whether another transaction can take the organization's subscription
/// row at once (`FOR UPDATE NOWAIT` fails while anyone holds it).
fn row_is_free(app: &TestApp, org: uuid::Uuid) -> bool {
    let mut conn = app.conn();
    conn.transaction(|c| {
        diesel::sql_query(format!(
            "SELECT 1 FROM subscriptions WHERE organization_id = '{org}' FOR UPDATE NOWAIT"
        ))
        .execute(c)
    })
    .is_ok()
}

#[actix_web::test]
async fn a_slow_stripe_call_holds_no_lock_nor_connection_and_a_second_click_is_refused() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    let path = format!("/v1/subscriptions/{sub}");
    stub.state.lock().unwrap().hold = Some(path.clone());
    let first = ann.clone_session();
    let click = actix_rt::spawn(async move {
        first
            .post(
                "/plans/change",
                &[("plan", "PROFESSIONAL"), ("interval", "monthly")],
            )
            .await
    });
    wait_until(|| stub.state.lock().unwrap().held == 1).await;
    // While Stripe takes its time: the row is free and no connection is out.
    assert!(row_is_free(&app, org), "the subscription row is locked");
    let pool = app.state.db.pool().state();
    assert_eq!(
        pool.connections - pool.idle_connections,
        0,
        "a pooled connection is held during the Stripe call"
    );
    // A second click is refused, clearly, and asks Stripe nothing.
    let second = ann.post("/plans/cancel", &[]).await;
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(
        second
            .body
            .contains("Change to Professional is still waiting for Stripe"),
        "{}",
        second.body
    );
    stub.state.lock().unwrap().hold = None;
    let done = click.await.unwrap();
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        stub.calls_to("POST", &path).len(),
        1,
        "only the first click's"
    );
    assert_eq!(
        sub_row(
            &app,
            "plan = 'STARTER' AND pending_change = 'Change to Professional'"
        ),
        1,
        "recorded after the call, waiting for the webhook"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'plan.change_requested'"),
        1
    );
    confirm(&stub, &app, &sub).await;
    assert_eq!(
        sub_row(&app, "plan = 'PROFESSIONAL' AND pending_change IS NULL"),
        1
    );
    no_contract_violations(&stub);
}

#[actix_web::test]
async fn a_refused_stripe_call_withdraws_the_mark_and_says_nothing_changed() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    stub.state
        .lock()
        .unwrap()
        .failures
        .push_back((402, Some("false")));
    let r = ann.post("/plans/cancel", &[]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("nothing was changed"), "{}", r.body);
    assert_eq!(sub_row(&app, "pending_change IS NULL"), 1, "mark withdrawn");
    assert_eq!(
        stub.subscription(&sub)["cancel_at_period_end"],
        json!(false)
    );
    // The owner can try again at once.
    let again = ann.post("/plans/cancel", &[]).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(stub.subscription(&sub)["cancel_at_period_end"], json!(true));
    assert_eq!(sub_row(&app, "pending_change = 'Cancellation'"), 1);
}

#[actix_web::test]
async fn a_lost_answer_after_the_change_is_read_back_not_repeated() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    let path = format!("/v1/subscriptions/{sub}");
    let invoices = || stub.state.lock().unwrap().invoices.len();
    let invoices_before = invoices();
    stub.state.lock().unwrap().now += 15 * 86_400;
    // The upgrade is made, but its answer is a 500 without Stripe-Should-Retry.
    stub.state
        .lock()
        .unwrap()
        .lost_answers
        .push((path.clone(), 500));
    let r = ann
        .post(
            "/plans/change",
            &[("plan", "PROFESSIONAL"), ("interval", "monthly")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(stub.calls_to("POST", &path).len(), 1, "not sent twice");
    assert_eq!(invoices() - invoices_before, 1, "one proration invoice");
    let last = stub.calls().last().cloned().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("GET", path.as_str())
    );
    assert_eq!(
        sub_row(&app, "pending_change = 'Change to Professional'"),
        1
    );
    confirm(&stub, &app, &sub).await;
    assert_eq!(sub_row(&app, "plan = 'PROFESSIONAL'"), 1);
    // The same for a cancellation and its withdrawal.
    stub.state
        .lock()
        .unwrap()
        .lost_answers
        .push((path.clone(), 502));
    assert_eq!(ann.post("/plans/cancel", &[]).await.status, 303);
    assert_eq!(stub.subscription(&sub)["cancel_at_period_end"], json!(true));
    confirm(&stub, &app, &sub).await;
    let posts = stub.calls_to("POST", &path).len();
    stub.state
        .lock()
        .unwrap()
        .lost_answers
        .push((path.clone(), 500));
    let r = ann.post("/plans/resume", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        stub.calls_to("POST", &path).len(),
        posts + 1,
        "not sent twice"
    );
    assert_eq!(
        stub.subscription(&sub)["cancel_at_period_end"],
        json!(false)
    );
    assert_eq!(sub_row(&app, "pending_change = 'Resumption'"), 1);
    no_contract_violations(&stub);
}

#[actix_web::test]
async fn a_failed_payment_of_another_subscription_moves_nothing() {
    let (stub, app, ann, org) = setup().await;
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    let customer = stub.subscription(&sub)["customer"]
        .as_str()
        .unwrap()
        .to_string();
    // An orphan subscription of the same customer (a second Checkout that
    // was ended, an older one), in the old and the new invoice shape.
    let old_shape = failed_invoice("sub_orphan", &customer, 1);
    assert_eq!(send(&app, "invoice.payment_failed", &old_shape).await, 200);
    let mut new_shape = failed_invoice("sub_orphan", &customer, 2);
    new_shape["id"] = json!("in_failed_2");
    new_shape.as_object_mut().unwrap().remove("subscription");
    new_shape["parent"] = json!({ "type": "subscription_details",
        "subscription_details": { "subscription": "sub_orphan" } });
    assert_eq!(send(&app, "invoice.payment_failed", &new_shape).await, 200);
    assert_eq!(
        sub_row(&app, "status = 'ACTIVE' AND past_due_since IS NULL"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE subject LIKE 'Payment failed%'"),
        0,
        "no dunning mail"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notices WHERE kind = 'billing'"),
        0
    );
    // The invoices are filed all the same.
    assert_eq!(
        app.count("SELECT count(*) FROM invoices WHERE provider_invoice_id IN ('in_failed_1', 'in_failed_2')"),
        2
    );
    // The linked subscription's own failure still counts.
    let own = failed_invoice(&sub, &customer, 1);
    let mut own = own;
    own["id"] = json!("in_failed_3");
    assert_eq!(send(&app, "invoice.payment_failed", &own).await, 200);
    assert_eq!(sub_row(&app, "status = 'PAST_DUE'"), 1);
}

/// The owner saves billing details in `country` with `vat_id`.
async fn save_vat_id(ann: &crate::common::Client, country: &str, vat_id: &str) {
    let form = [
        ("company", "Ann SARL"),
        ("country", country),
        ("vat_id", vat_id),
    ];
    let r = ann.post("/billing/details", &form).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

#[actix_web::test]
async fn with_stripe_tax_the_vat_id_goes_to_the_customer_and_is_replaced_when_it_changes() {
    let (stub, app, ann, org) = super::checkout_guards::setup_with_stripe_tax().await;
    // Before Stripe knows the customer there is nobody to send it to.
    save_vat_id(&ann, "FR", "FR12345678901").await;
    assert_eq!(app.count("SELECT count(*) FROM stripe_operations"), 0);
    let sub = subscribe(&stub, &app, &ann, org, "STARTER").await;
    let customer = stub.subscription(&sub)["customer"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/customers/{customer}/tax_ids");
    assert!(
        stub.calls_to("POST", &path).is_empty(),
        "not inside the webhook"
    );
    let tax_ids = |stub: &Stub| -> Vec<String> {
        let st = stub.state.lock().unwrap();
        let ids = st.tax_ids.get(&customer).cloned().unwrap_or_default();
        ids.iter()
            .map(|t| {
                format!(
                    "{} {}",
                    t["type"].as_str().unwrap(),
                    t["value"].as_str().unwrap()
                )
            })
            .collect()
    };
    // Linked: the job sends the VAT id the details hold.
    super::scenarios::pass(&app, &stub, june());
    assert_eq!(tax_ids(&stub), ["eu_vat FR12345678901"]);
    let created = &stub.calls_to("POST", &path)[0];
    assert_eq!(created.get("type"), Some("eu_vat"));
    // A new VAT id replaces it; Stripe down meanwhile only delays that.
    save_vat_id(&ann, "FR", "FR98765432109").await;
    stub.state.lock().unwrap().down = true;
    super::scenarios::pass(&app, &stub, june());
    assert_eq!(tax_ids(&stub), ["eu_vat FR12345678901"]);
    stub.state.lock().unwrap().down = false;
    super::scenarios::pass(&app, &stub, june() + chrono::Duration::minutes(5));
    assert_eq!(tax_ids(&stub), ["eu_vat FR98765432109"]);
    assert_eq!(stub.calls_to("POST", &path).len(), 2);
    // Saving the same VAT id again sends nothing.
    save_vat_id(&ann, "FR", "FR98765432109").await;
    super::scenarios::pass(&app, &stub, june() + chrono::Duration::minutes(10));
    assert_eq!(stub.calls_to("POST", &path).len(), 2);
    // Removed from the details: removed at Stripe.
    save_vat_id(&ann, "FR", "").await;
    super::scenarios::pass(&app, &stub, june() + chrono::Duration::minutes(15));
    assert!(tax_ids(&stub).is_empty());
    assert_eq!(
        app.count(
            "SELECT count(*) FROM stripe_operations WHERE kind = 'sync_tax_id' AND status = 'done'"
        ),
        1
    );
    no_contract_violations(&stub);
}
