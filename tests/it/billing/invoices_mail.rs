//! The invoice mail over real SMTP (aiosmtpd, as in `workspace_mail`): one
//! multipart/alternative message whose plain-text and HTML parts both carry
//! the numbered invoice with net, VAT and gross, and the links to it and its PDF.

use lead_dashboard::db::SystemAccess;
use lead_dashboard::jobs::mail::deliver_due;

use super::*;
use crate::workspace_mail::{config_for, SmtpSink};

/// The part of a MIME message with `content_type`, soft line breaks of
/// quoted-printable undone (what the test reads: numbers and markup).
pub(super) fn part(mail: &str, content_type: &str) -> String {
    let start = mail
        .find(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("no {content_type} part in {mail}"));
    let rest = &mail[start..];
    let end = rest[1..].find("\r\n--").map_or(rest.len(), |i| i + 1);
    rest[..end].replace("=\r\n", "").replace("=3D", "=")
}

#[actix_web::test]
async fn the_invoice_mail_arrives_with_a_plain_and_an_html_part() {
    let app = TestApp::pinned(pinned_at()).await;
    let (_, id) = super::invoices::one_paid_invoice(&app).await;
    diesel::sql_query("UPDATE mail_outbox SET status = 'sent' WHERE body_html IS NULL")
        .execute(&mut app.conn())
        .unwrap();
    let sink = SmtpSink::start(false);
    let config = config_for(&app, &sink.url());
    let access = SystemAccess::grant_at_startup();
    assert_eq!(
        deliver_due(&mut app.conn(), &access, &config, app.now()).unwrap(),
        1
    );
    let mails = sink.received();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.starts_with("RCPT: ann@example.com"), "{mail}");
    assert!(mail.contains("multipart/alternative"), "{mail}");
    let text = part(mail, "text/plain");
    let html = part(mail, "text/html");
    let link = format!("/billing/invoices/{id}");
    for (name, body) in [("text", &text), ("html", &html)] {
        for expected in [
            "ANN-2026-0001",
            "Net",
            "VAT 19 %",
            "41.18",
            "7.82",
            "Total",
            &link,
        ] {
            assert!(
                body.contains(expected),
                "{name} part lacks {expected}: {body}"
            );
        }
    }
    assert!(
        html.contains("<table") && html.contains("href=\"http"),
        "{html}"
    );
}
