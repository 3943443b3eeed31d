//! Dunning on the local provider: a renewal charged to a test card that is
//! declined makes the subscription PAST_DUE and tells the owners (mail and
//! notice) on each failed attempt; "Pay now" charges the card on file and
//! clears PAST_DUE once a card that pays is there; unpaid past the grace
//! period, the organization ends on the Free plan with a mail saying so.

use chrono::Duration;
use lead_dashboard::config::Config;
use lead_dashboard::db::SystemAccess;
use lead_dashboard::jobs::lifecycle::run_at;

use super::*;

/// A STARTER subscription whose period ended a minute ago, with the test
/// card ending `last4` on file.
async fn due_for_renewal(app: &TestApp, last4: &str) -> crate::common::Client {
    let ann = app.signup("Ann", "ann@example.com").await;
    let org = org_id(app, "ann-s-organization");
    diesel::sql_query(format!(
        "UPDATE subscriptions SET status = 'ACTIVE', plan = 'STARTER', trial_ends_at = NULL, \
         has_payment_method = true, card_last4 = '{last4}', \
         current_period_start = {}, current_period_end = {} WHERE organization_id = '{org}'",
        crate::common::ts(app.now() - Duration::days(30)),
        crate::common::ts(app.now() - Duration::minutes(1)),
    ))
    .execute(&mut app.conn())
    .unwrap();
    ann
}

fn renew(app: &TestApp, at: DateTime<Utc>) -> usize {
    let config = Config::for_tests(&app.db.url);
    run_at(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        &config,
        at,
    )
    .unwrap()
}

fn billing_mail(app: &TestApp) -> i64 {
    app.count(
        "SELECT count(*) FROM mail_outbox WHERE kind = 'billing' AND to_email = 'ann@example.com'",
    )
}

#[actix_web::test]
async fn a_declined_renewal_is_past_due_until_pay_now_with_a_card_that_pays() {
    let app = TestApp::pinned(pinned_at()).await;
    let ann = due_for_renewal(&app, "0002").await;
    assert_eq!(renew(&app, app.now()), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE status = 'PAST_DUE'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM invoices"),
        0,
        "nothing was paid"
    );
    assert_eq!(billing_mail(&app), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM notices WHERE kind = 'billing'"),
        1
    );
    let page = ann.get("/billing").await;
    assert!(page.body.contains("Pay now"), "{}", page.body);
    // Paying with the declined card fails again, and is told again.
    let r = ann.post("/billing/pay", &[]).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("declined"), "{}", r.body);
    assert_eq!(billing_mail(&app), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE status = 'PAST_DUE'"),
        1
    );
    // A card number that is not one changes nothing.
    let r = ann
        .post(
            "/billing/payment-method",
            &[("card_number", "4242 4242 4242 4241")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("card number of 12 to 19 digits"),
        "{}",
        r.body
    );
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE card_last4 = '0002'"),
        1
    );
    let r = ann
        .post(
            "/billing/payment-method",
            &[("card_number", "4242 4242 4242 4242")],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = ann.post("/billing/pay", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM subscriptions WHERE status = 'ACTIVE' AND past_due_since IS NULL"
        ),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM invoices WHERE status = 'paid' AND total_cents = 4900"),
        1
    );
    assert_eq!(
        ann.post("/billing/pay", &[]).await.status,
        409,
        "nothing left to pay"
    );
    let mailed = "SELECT count(*) FROM mail_outbox WHERE kind = 'billing' \
                  AND subject = 'Invoice ANN-2026-0001 (€49)' AND body_text LIKE '%/billing/invoices/%'";
    assert_eq!(app.count(mailed), 1, "the paid invoice is mailed");
}

#[actix_web::test]
async fn a_card_that_needs_confirmation_cannot_pay_a_renewal_either() {
    let app = TestApp::pinned(pinned_at()).await;
    due_for_renewal(&app, "3155").await;
    renew(&app, app.now());
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE status = 'PAST_DUE'"),
        1
    );
}

#[actix_web::test]
async fn unpaid_past_the_grace_period_ends_on_free_with_a_mail() {
    let app = TestApp::pinned(pinned_at()).await;
    let ann = due_for_renewal(&app, "9995").await;
    renew(&app, app.now());
    assert_eq!(renew(&app, app.now() + Duration::days(7)), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE status = 'EXPIRED'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'billing' AND subject LIKE '%you are on Free%'"),
        1
    );
    assert_eq!(billing_mail(&app), 2);
    assert_eq!(ann.post("/billing/pay", &[]).await.status, 409);
}

/// Without Stripe keys the local provider only simulates payments: the
/// owner is told so on the billing page; with Stripe configured, not.
#[actix_web::test]
async fn without_stripe_the_owner_is_told_payments_are_simulated() {
    let app = TestApp::pinned(pinned_at()).await;
    let ann = app.signup("Ann", "ann@example.com").await;
    let page = ann.get("/billing").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Payments are simulated."),
        "{}",
        page.body
    );
    let (_url, stub) = start_stripe_stub();
    let stripe = stripe_app(&stub.url).await;
    let bob = stripe.signup("Bob", "bob@example.com").await;
    assert!(!bob
        .get("/billing")
        .await
        .body
        .contains("Payments are simulated."));
}
