//! The seller each invoice names (docs/billing.md, "Invoices"): name,
//! address, VAT id and country as configured when the invoice was issued,
//! on the printable page, in the PDF and in both parts of the invoice mail;
//! a later change of configuration leaves issued invoices as they were.
//! The change of configuration is a second app on the same database, as a
//! redeploy with new settings would be.

use lead_dashboard::config::Config;
use lead_dashboard::db::SystemAccess;
use lead_dashboard::domain::seller::Identity;
use lead_dashboard::domain::vat::Country;
use lead_dashboard::jobs::mail::deliver_due;

use super::invoices::past_due_with_a_card;
use super::invoices_mail::part;
use super::*;
use crate::workspace_mail::{config_for, SmtpSink};

/// Seller A: in Germany, with an ampersand the HTML must escape.
const A: [&str; 5] = [
    "Acme & Sons GmbH",
    "Hauptstrasse 5",
    "10115 Berlin",
    "VAT ID: DE123456789",
    "DE",
];
/// Seller B: in Finland, after a move and a new name.
const B: [&str; 5] = [
    "Beta Leads Oy",
    "Esplanadi 1",
    "00100 Helsinki",
    "VAT ID: FI12345678",
    "FI",
];

fn seller_a(c: &mut Config) {
    c.vat.identity = Identity {
        name: A[0].into(),
        address: vec![A[1].into(), A[2].into()],
        vat_id: Some("DE123456789".into()),
    };
}

fn seller_b(c: &mut Config) {
    c.vat.seller = Country::parse("FI").unwrap();
    c.vat.identity = Identity {
        name: B[0].into(),
        address: vec![B[1].into(), B[2].into()],
        vat_id: Some("FI12345678".into()),
    };
}

/// A second app with `adjust`ed settings on `first`'s database.
async fn redeployed(first: &TestApp, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let url = first.db.url.clone();
    TestApp::with_clock_and_config(Clock::fixed(pinned_at()), move |c| {
        adjust(c);
        c.database_url = Some(url);
    })
    .await
}

/// The invoice `number`'s id.
fn invoice_id(app: &TestApp, number: &str) -> uuid::Uuid {
    common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM invoices WHERE number = '{number}'"),
    )
}

/// Asserts `body` names `seller` (as `escaped` shows its name) and not `other`.
fn names(body: &str, seller: &[&str; 5], name_shown: &str, other: &[&str; 5], what: &str) {
    assert!(
        body.contains(name_shown),
        "{what} lacks {name_shown}: {body}"
    );
    for line in &seller[1..] {
        assert!(body.contains(line), "{what} lacks {line}: {body}");
    }
    for line in &other[..4] {
        assert!(!body.contains(line), "{what} names {line}: {body}");
    }
}

/// The page and the PDF of `id`, as `client` sees them, name `seller` only.
async fn page_and_pdf_name(
    client: &common::Client,
    id: uuid::Uuid,
    seller: &[&str; 5],
    other: &[&str; 5],
) {
    let page = client.get(&format!("/billing/invoices/{id}")).await;
    assert_eq!(page.status, 200);
    let escaped = seller[0].replace('&', "&amp;");
    names(&page.body, seller, &escaped, other, "page");
    assert!(!page.body.contains("Outreach software"), "{}", page.body);
    let pdf = client.get(&format!("/billing/invoices/{id}.pdf")).await;
    assert_eq!(pdf.status, 200);
    names(&pdf.body, seller, seller[0], other, "PDF");
}

/// The invoice mails waiting in the outbox, delivered over SMTP: (text, html) of each.
fn deliver_invoice_mail(app: &TestApp) -> Vec<(String, String)> {
    diesel::sql_query("UPDATE mail_outbox SET status = 'sent' WHERE body_html IS NULL")
        .execute(&mut app.conn())
        .unwrap();
    let sink = SmtpSink::start(false);
    let config = config_for(app, &sink.url());
    let access = SystemAccess::grant_at_startup();
    deliver_due(&mut app.conn(), &access, &config, app.now()).unwrap();
    sink.received()
        .iter()
        .map(|mail| (part(mail, "text/plain"), part(mail, "text/html")))
        .collect()
}

/// Both parts of the one invoice mail delivered name `seller`, not `other`.
fn mail_names(app: &TestApp, number: &str, seller: &[&str; 5], other: &[&str; 5]) {
    let mails = deliver_invoice_mail(app);
    assert_eq!(mails.len(), 1, "one invoice mail");
    let (text, html) = &mails[0];
    assert!(text.contains(number) && html.contains(number));
    names(text, seller, seller[0], other, "text part");
    let escaped = seller[0].replace('&', "&amp;");
    names(html, seller, &escaped, other, "html part");
}

#[actix_web::test]
async fn an_invoice_keeps_the_seller_configured_when_it_was_issued() {
    let a = TestApp::with_clock_and_config(Clock::fixed(pinned_at()), seller_a).await;
    let (ann, first) = super::invoices::one_paid_invoice(&a).await;
    page_and_pdf_name(&ann, first, &A, &B).await;
    mail_names(&a, "ANN-2026-0001", &A, &B);

    // New settings: the next invoice names B, the first still A.
    let b = redeployed(&a, seller_b).await;
    let ann_b = b.login("ann@example.com").await;
    past_due_with_a_card(&a);
    assert_eq!(ann_b.post("/billing/pay", &[]).await.status, 303);
    let second = invoice_id(&a, "ANN-2026-0002");
    page_and_pdf_name(&ann_b, second, &B, &A).await;
    page_and_pdf_name(&ann_b, first, &A, &B).await;
    // The snapshot, not the serving app's settings: A's app shows B's invoice as B.
    page_and_pdf_name(&ann, second, &B, &A).await;
    mail_names(&a, "ANN-2026-0002", &B, &A);
}

#[actix_web::test]
async fn a_stripe_invoice_names_the_seller_configured_when_it_was_finalized() {
    let (stub, _) = start_stripe_stub();
    let a = TestApp::with_clock_and_config(Clock::fixed(pinned_at()), |c| {
        use_stripe(c, &stub);
        seller_a(c);
    })
    .await;
    let ann = a.signup("Ann", "ann@example.com").await;
    let org = org_id(&a, "ann-s-organization");
    let invoice = |id: &str| {
        serde_json::json!({
            "id": id, "object": "invoice", "total": 4900,
            "metadata": { "organization_id": org.to_string() },
            "period_start": pinned_at().timestamp(), "period_end": pinned_at().timestamp(),
            "lines": { "data": [{ "description": "Lead Dashboard Starter", "amount": 4900, "quantity": 1 }] }
        })
    };
    assert_eq!(send(&a, "invoice.paid", &invoice("in_seller_1")).await, 200);
    assert_eq!(
        send(&a, "invoice.created", &invoice("in_seller_2")).await,
        200
    );
    let named = |number: &str, seller: &str| {
        a.count(&format!(
            "SELECT count(*) FROM invoices WHERE number = '{number}' AND seller->>'name' = '{seller}'"
        ))
    };
    assert_eq!(named("ANN-2026-0002", A[0]), 1, "the draft names A");

    let b = redeployed(&a, |c| {
        use_stripe(c, &stub);
        seller_b(c);
    })
    .await;
    // The draft made under A is issued under B: it names B.
    assert_eq!(
        send(&b, "invoice.finalized", &invoice("in_seller_2")).await,
        200
    );
    assert_eq!(named("ANN-2026-0002", B[0]), 1, "finalized under B");
    assert_eq!(named("ANN-2026-0001", A[0]), 1, "issued under A");
    page_and_pdf_name(&ann, invoice_id(&a, "ANN-2026-0001"), &A, &B).await;
    let ann_b = b.login("ann@example.com").await;
    let second = invoice_id(&a, "ANN-2026-0002");
    page_and_pdf_name(&ann_b, second, &B, &A).await;
    page_and_pdf_name(&ann, second, &B, &A).await;
}

#[actix_web::test]
async fn an_invoice_from_before_seller_snapshots_shows_the_configured_name_only() {
    let app = TestApp::with_clock_and_config(Clock::fixed(pinned_at()), seller_b).await;
    let (ann, id) = super::invoices::one_paid_invoice(&app).await;
    diesel::sql_query("UPDATE invoices SET seller = NULL")
        .execute(&mut app.conn())
        .unwrap();
    let page = ann.get(&format!("/billing/invoices/{id}")).await;
    assert!(page.body.contains(B[0]), "{}", page.body);
    for unknown in &B[1..4] {
        assert!(!page.body.contains(unknown), "{unknown}: {}", page.body);
    }
    let pdf = ann.get(&format!("/billing/invoices/{id}.pdf")).await;
    assert!(pdf.body.contains(B[0]) && !pdf.body.contains(B[3]));
}
