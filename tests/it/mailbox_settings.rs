//! The mailboxes settings page against real servers (the SMTP sink with a
//! required login, and Dovecot): an owner connects a mailbox whose
//! passwords are stored sealed and never shown; a wrong IMAP password is a
//! form error naming the server, nothing saved; a VIEWER cannot connect;
//! another organization's mailbox is 404; the FREE plan's single seat
//! allows one mailbox.

use crate::common::dovecot::Dovecot;
use crate::common::{Client, TestApp};
use crate::workspace_mail::SmtpSink;
use crate::workspace_support::*;

const SMTP_PASSWORD: &str = "smtp-Pa55word-xyz";
const IMAP_PASSWORD: &str = "imap-Pa55word-xyz";
const USER: &str = "owen";

struct Servers {
    sink: SmtpSink,
    dovecot: Dovecot,
}

fn servers() -> Servers {
    Servers {
        sink: SmtpSink::start_with_login(&format!("{USER}:{SMTP_PASSWORD}")),
        dovecot: Dovecot::start(&[(USER, IMAP_PASSWORD)]),
    }
}

async fn app() -> TestApp {
    TestApp::with_config(|c| c.mailbox_allow_private_hosts = true).await
}

/// Posts the connect form for `address`, the IMAP login using `imap_password`.
async fn connect(
    c: &Client,
    s: &Servers,
    address: &str,
    imap_password: &str,
) -> crate::common::Resp {
    let (smtp_port, imap_port) = (s.sink.port().to_string(), s.dovecot.port().to_string());
    c.post(
        "/settings/mailboxes",
        &[
            ("display_name", "Owen Sales"),
            ("email", address),
            ("smtp_host", "127.0.0.1"),
            ("smtp_port", &smtp_port),
            ("smtp_security", "none"),
            ("smtp_username", USER),
            ("smtp_password", SMTP_PASSWORD),
            ("imap_host", "127.0.0.1"),
            ("imap_port", &imap_port),
            ("imap_security", "none"),
            ("imap_username", USER),
            ("imap_password", imap_password),
            ("imap_folder", "INBOX"),
            ("daily_cap", "40"),
        ],
    )
    .await
}

fn count(app: &TestApp, org_slug: &str) -> i64 {
    let org = org_id(app, org_slug);
    app.count(&format!(
        "SELECT count(*) FROM mailboxes WHERE organization_id = '{org}'"
    ))
}

#[actix_web::test]
async fn owner_connects_a_mailbox_with_sealed_passwords_never_shown() {
    let app = app().await;
    let s = servers();
    let owen = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    let r = connect(&owen, &s, "owen@sales.example", IMAP_PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(count(&app, OWNER_SLUG), 1);
    let stored = |sql: &str| app.count(&format!("SELECT count(*) FROM mailboxes WHERE {sql}"));
    assert_eq!(stored("daily_cap = 40 AND imap_folder = 'INBOX'"), 1);
    assert_eq!(
        stored("length(smtp_password) > 0 AND length(imap_password) > 0"),
        1
    );
    let clear = format!(
        "position(convert_to('{SMTP_PASSWORD}', 'UTF8') in smtp_password) > 0 \
         OR position(convert_to('{IMAP_PASSWORD}', 'UTF8') in imap_password) > 0"
    );
    assert_eq!(stored(&clear), 0, "a password is stored in clear");
    let page = owen.get("/settings/mailboxes").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("owen@sales.example"), "{}", page.body);
    assert!(page.body.contains("0 / 40"));
    assert!(!page.body.contains(SMTP_PASSWORD) && !page.body.contains(IMAP_PASSWORD));
    let settings = owen.get("/settings").await;
    assert!(settings.body.contains("/settings/mailboxes"));
}

#[actix_web::test]
async fn wrong_imap_password_is_a_form_error_naming_the_server() {
    let app = app().await;
    let s = servers();
    let owen = owner(&app).await;
    let r = connect(&owen, &s, "owen@sales.example", "not-the-password").await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("IMAP"), "{}", r.body);
    assert!(
        r.body.contains(&format!("127.0.0.1:{}", s.dovecot.port())) || r.body.contains("127.0.0.1")
    );
    assert!(!r.body.contains("not-the-password") && !r.body.contains(SMTP_PASSWORD));
    assert_eq!(count(&app, OWNER_SLUG), 0);
}

#[actix_web::test]
async fn a_viewer_cannot_connect_and_another_organizations_mailbox_is_404() {
    let app = app().await;
    let s = servers();
    let owen = owner(&app).await;
    let vic = member(&app, OWNER_SLUG, "Vic", "VIEWER", [true; 3]).await;
    assert_eq!(vic.get("/settings/mailboxes").await.status, 200);
    let r = connect(&vic, &s, "vic@sales.example", IMAP_PASSWORD).await;
    assert_eq!(r.status, 403);
    assert_eq!(count(&app, OWNER_SLUG), 0);

    let bea = app.signup("Bea", "bea@example.com").await;
    app.verify_email("bea@example.com");
    let r = connect(&bea, &s, "bea@sales.example", IMAP_PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let theirs = uuid_of_mailbox(&app, "bea@sales.example");
    let r = owen
        .post(&format!("/settings/mailboxes/{theirs}/delete"), &[])
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(count(&app, "bea-s-organization"), 1);
    let r = bea
        .post(&format!("/settings/mailboxes/{theirs}/delete"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(count(&app, "bea-s-organization"), 0);
}

fn uuid_of_mailbox(app: &TestApp, address: &str) -> uuid::Uuid {
    crate::common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM mailboxes WHERE email = '{address}'"),
    )
}

#[actix_web::test]
async fn the_free_plans_single_seat_allows_one_mailbox() {
    let app = app().await;
    let s = servers();
    let owen = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "FREE");
    let r = connect(&owen, &s, "owen@sales.example", IMAP_PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = connect(&owen, &s, "owen2@sales.example", IMAP_PASSWORD).await;
    assert_eq!(r.status, 402, "{}", r.body);
    assert!(r.body.contains("upgrade") && r.body.contains("/plans"));
    assert_eq!(count(&app, OWNER_SLUG), 1);
}
