//! Invoices people can file: the VAT each invoice carries by the billing
//! country and VAT id (the rule in docs/billing.md), the billing details
//! that decide it, and Stripe Tax's figures taken as Stripe reports them.

use super::*;

/// The owner's billing details, saved through the form; the response status.
async fn save_details(ann: &common::Client, country: &str, vat_id: &str) -> u16 {
    ann.post(
        "/billing/details",
        &[
            ("company", "Ann SARL"),
            ("address", "1 Rue Exemple"),
            ("country", country),
            ("vat_id", vat_id),
        ],
    )
    .await
    .status
}

/// Ann's organization on STARTER, PAST_DUE with the test card that pays on
/// file: "Pay now" charges it through the route, with the app's VAT setup.
pub(super) fn past_due_with_a_card(app: &TestApp) {
    let org = org_id(app, "ann-s-organization");
    diesel::sql_query(format!(
        "UPDATE subscriptions SET status = 'PAST_DUE', plan = 'STARTER', trial_ends_at = NULL, \
         billing_interval = 'month', has_payment_method = true, card_last4 = '4242' \
         WHERE organization_id = '{org}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
}

/// Ann's organization with one invoice, paid through "Pay now": her client
/// and the invoice id.
pub(super) async fn one_paid_invoice(app: &TestApp) -> (common::Client, uuid::Uuid) {
    let ann = app.signup("Ann", "ann@example.com").await;
    past_due_with_a_card(app);
    assert_eq!(ann.post("/billing/pay", &[]).await.status, 303);
    let id = common::uuid_of(&mut app.conn(), "SELECT id FROM invoices");
    (ann, id)
}

/// (net, rate, VAT, gross, note) of the newest invoice.
fn newest_vat(app: &TestApp) -> (i64, i32, i64, i64, Option<String>) {
    use diesel::sql_types::{BigInt, Integer, Nullable, Text};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        net_cents: i64,
        #[diesel(sql_type = Integer)]
        vat_rate_bp: i32,
        #[diesel(sql_type = BigInt)]
        vat_cents: i64,
        #[diesel(sql_type = BigInt)]
        total_cents: i64,
        #[diesel(sql_type = Nullable<Text>)]
        vat_note: Option<String>,
    }
    let r: Row = diesel::sql_query(
        "SELECT net_cents, vat_rate_bp, vat_cents, total_cents, vat_note FROM invoices \
         ORDER BY created_at DESC, seq DESC LIMIT 1",
    )
    .get_result(&mut app.conn())
    .unwrap();
    (
        r.net_cents,
        r.vat_rate_bp,
        r.vat_cents,
        r.total_cents,
        r.vat_note,
    )
}

/// The printable page of the newest invoice.
async fn newest_page(app: &TestApp, ann: &common::Client) -> String {
    let id = common::uuid_of(
        &mut app.conn(),
        "SELECT id FROM invoices ORDER BY created_at DESC, seq DESC LIMIT 1",
    );
    let page = ann.get(&format!("/billing/invoices/{id}")).await;
    assert_eq!(page.status, 200);
    page.body
}

/// (net, rate, VAT, note) an invoice of 49.00 EUR should carry.
type Expected = (i64, i32, i64, Option<&'static str>);

const REVERSE_CHARGE: &str = "VAT reverse charge — Article 196 Council Directive 2006/112/EC";

/// Each case pays STARTER (49.00 EUR, the price is the gross) on the local
/// provider with a seller in Germany.
#[actix_web::test]
async fn each_invoice_carries_the_vat_its_billing_details_call_for() {
    let app = TestApp::pinned(pinned_at()).await;
    let ann = app.signup("Ann", "ann@example.com").await;
    let cases: [(&str, &str, Expected); 5] = [
        // No country yet: the seller's (domestic) rate.
        ("", "", (4118, 1900, 782, None)),
        ("DE", "DE123456789", (4118, 1900, 782, None)),
        ("FR", "FR12345678901", (4900, 0, 0, Some(REVERSE_CHARGE))),
        ("FR", "", (4083, 2000, 817, None)),
        (
            "US",
            "987654321",
            (4900, 0, 0, Some("Not subject to EU VAT")),
        ),
    ];
    for (country, vat_id, (net, rate, vat, note)) in cases {
        assert_eq!(save_details(&ann, country, vat_id).await, 303);
        past_due_with_a_card(&app);
        let r = ann.post("/billing/pay", &[]).await;
        assert_eq!(r.status, 303, "{country} {vat_id}: {}", r.body);
        let stored = newest_vat(&app);
        assert_eq!(
            stored,
            (net, rate, vat, 4900, note.map(String::from)),
            "{country} {vat_id}"
        );
        let page = newest_page(&app, &ann).await;
        assert!(page.contains("Net"), "{page}");
        for amount in [net, vat, 4900] {
            let shown = lead_dashboard::domain::plans::format_euros(amount);
            assert!(page.contains(&shown), "{country}: {shown} on {page}");
        }
        if let Some(note) = note {
            assert!(page.contains(note), "{country}: the note is printed");
        }
    }
    let page = newest_page(&app, &ann).await;
    assert!(page.contains("VAT 0 %") && page.contains("US"), "{page}");
}

#[actix_web::test]
async fn the_seller_country_comes_from_the_configuration() {
    let app = TestApp::with_clock_and_config(Clock::fixed(pinned_at()), |c| {
        c.vat.seller = lead_dashboard::domain::vat::Country::parse("FR").unwrap();
    })
    .await;
    let ann = app.signup("Ann", "ann@example.com").await;
    // A French business buying from a French seller pays French VAT.
    assert_eq!(save_details(&ann, "fr", "fr12345678901").await, 303);
    assert_eq!(
        app.count("SELECT count(*) FROM organizations WHERE billing_country = 'FR' AND billing_vat_id = 'FR12345678901'"),
        1,
        "stored upper case"
    );
    past_due_with_a_card(&app);
    assert_eq!(ann.post("/billing/pay", &[]).await.status, 303);
    assert_eq!(newest_vat(&app), (4083, 2000, 817, 4900, None));
}

#[actix_web::test]
async fn a_bad_country_or_a_vat_id_of_another_country_is_refused_and_nothing_changes() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    assert_eq!(save_details(&ann, "DE", "DE123456789").await, 303);
    let refused = [
        ("XX", "", "two-letter ISO code"),
        ("DEU", "", "two-letter ISO code"),
        ("FR", "DE123456789", "starts with FR"),
        ("GR", "GR123456789", "starts with EL"),
    ];
    for (country, vat_id, message) in refused {
        let r = ann
            .post_htmx(
                "/billing/details",
                &[
                    ("company", "Changed"),
                    ("country", country),
                    ("vat_id", vat_id),
                ],
            )
            .await;
        assert_eq!(r.status, 422, "{country} {vat_id}");
        assert!(r.body.contains(message), "{country}: {}", r.body);
        assert!(
            r.body.contains(&format!("value=\"{country}\"")),
            "the entry stays"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM organizations WHERE billing_company = 'Ann SARL' AND billing_country = 'DE'"),
        1,
        "nothing changed"
    );
    assert_eq!(save_details(&ann, "GR", "EL123456789").await, 303);
}

#[actix_web::test]
async fn invoices_from_before_vat_keep_their_totals() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    let org = org_id(&app, "ann-s-organization");
    diesel::sql_query(format!(
        "INSERT INTO invoices (organization_id, id, number, year, seq, total_cents, period_start, period_end) \
         VALUES ('{org}', gen_random_uuid(), 'ANN-2026-0001', 2026, 1, 4900, now(), now())"
    ))
    .execute(&mut app.conn())
    .unwrap();
    assert_eq!(newest_vat(&app), (4900, 0, 0, 4900, None));
}

/// An `invoice.paid` of 49.00 EUR for the organization, with `extra` fields.
fn paid_invoice(org: uuid::Uuid, id: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut invoice = serde_json::json!({
        "id": id, "object": "invoice",
        "metadata": { "organization_id": org.to_string() },
        "period_start": pinned_at().timestamp(), "period_end": pinned_at().timestamp(),
        "lines": { "data": [{ "description": "Lead Dashboard Starter", "amount": 4900, "quantity": 1 }] }
    });
    for (k, v) in extra.as_object().unwrap() {
        invoice[k] = v.clone();
    }
    invoice
}

#[actix_web::test]
async fn stripe_tax_figures_are_taken_as_stripe_reports_them() {
    let (stub, _) = start_stripe_stub();
    let app = TestApp::with_clock_and_config(Clock::fixed(pinned_at()), |c| {
        use_stripe(c, &stub);
        c.vat.stripe_tax = true;
    })
    .await;
    let ann = app.signup("Ann", "ann@example.com").await;
    assert_eq!(save_details(&ann, "AT", "").await, 303);
    let org = org_id(&app, "ann-s-organization");
    // Exclusive tax: 49.00 net + 9.80 Austrian VAT = 58.80 charged.
    let taxed = serde_json::json!({
        "total": 5880, "total_excluding_tax": 4900,
        "total_taxes": [{ "amount": 980, "taxable_amount": 4900, "tax_behavior": "exclusive",
                          "taxability_reason": "standard_rated", "type": "tax_rate_details" }]
    });
    let invoice = paid_invoice(org, "in_tax_1", taxed);
    assert_eq!(send(&app, "invoice.paid", &invoice).await, 200);
    assert_eq!(newest_vat(&app), (4900, 2000, 980, 5880, None));
    // Reverse charge as Stripe Tax computes it: no tax, the rule's note.
    assert_eq!(save_details(&ann, "AT", "ATU12345678").await, 303);
    let reverse = serde_json::json!({
        "total": 4900,
        "total_taxes": [{ "amount": 0, "taxable_amount": 4900, "tax_behavior": "exclusive",
                          "taxability_reason": "reverse_charge", "type": "tax_rate_details" }]
    });
    let invoice = paid_invoice(org, "in_tax_2", reverse);
    assert_eq!(send(&app, "invoice.paid", &invoice).await, 200);
    assert_eq!(
        newest_vat(&app),
        (4900, 0, 0, 4900, Some(REVERSE_CHARGE.to_string()))
    );
}

#[actix_web::test]
async fn without_stripe_tax_the_rule_splits_what_stripe_charged() {
    let (stub, _) = start_stripe_stub();
    let app = stripe_app(&stub).await;
    let ann = app.signup("Ann", "ann@example.com").await;
    assert_eq!(save_details(&ann, "AT", "").await, 303);
    let org = org_id(&app, "ann-s-organization");
    let invoice = paid_invoice(org, "in_rule_1", serde_json::json!({ "total": 4900 }));
    assert_eq!(send(&app, "invoice.paid", &invoice).await, 200);
    assert_eq!(newest_vat(&app), (4083, 2000, 817, 4900, None));
}
