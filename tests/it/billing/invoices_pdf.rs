//! The invoice PDF (`GET /billing/invoices/{id}.pdf`): a PDF document with
//! the invoice's number and amounts in its (uncompressed) text, for the
//! roles that may see billing (owners, admins read-only) and no one else; an
//! invoice of another organization is a 404.

use super::*;

#[actix_web::test]
async fn the_invoice_pdf_follows_the_invoice_page_permissions() {
    let app = TestApp::pinned(pinned_at()).await;
    let (ann, id) = super::invoices::one_paid_invoice(&app).await;
    let path = format!("/billing/invoices/{id}.pdf");
    let r = ann.get(&path).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert!(r.body.starts_with("%PDF-"), "{}", &r.body[..20]);
    for text in [
        "ANN-2026-0001",
        "Net",
        "VAT 19 %",
        "41.18",
        "7.82",
        "Ann's Organization",
    ] {
        assert!(r.body.contains(text), "{text} is not in the PDF");
    }
    assert!(r.body.trim_end().ends_with("%%EOF"));
    let page = ann.get(&format!("/billing/invoices/{id}")).await;
    assert!(
        page.body.contains(&format!("href=\"{path}\"")),
        "the page links the PDF"
    );
    // Roles: admins read billing, members and viewers do not (docs/product.md, "Roles").
    let org = org_id(&app, "ann-s-organization").to_string();
    for (name, role, status) in [
        ("Adam", "ADMIN", 200),
        ("Mia", "MEMBER", 403),
        ("Vic", "VIEWER", 403),
    ] {
        let email = format!("{}@example.com", name.to_lowercase());
        app.signup(name, &email).await;
        app.add_member("ann-s-organization", &email, role);
        let c = app.login(&email).await;
        c.post("/orgs/switch", &[("org_id", &org)]).await;
        let r = c.get(&path).await;
        assert_eq!(r.status, status, "{role}");
        assert_eq!(r.body.contains("ANN-2026-0001"), status == 200, "{role}");
    }
    // Another organization's member asking for Ann's invoice: 404, nothing of it.
    let bob = app.signup("Bob", "bob@example.com").await;
    let r = bob.get(&path).await;
    assert_eq!(r.status, 404);
    assert!(!r.body.contains("ANN-2026-0001"));
    assert_eq!(ann.get("/billing/invoices/not-an-id.pdf").await.status, 404);
}
