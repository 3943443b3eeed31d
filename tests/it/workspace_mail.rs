//! Mail delivery against a real SMTP server on loopback (aiosmtpd, see
//! tests/support/smtp_sink.py): arrival with recipient, subject and body;
//! retries with backoff then `failed`; concurrent runners send once; and the
//! development outbox page.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use chrono::Duration;
use lead_dashboard::config::Config;
use lead_dashboard::db::SystemAccess;
use lead_dashboard::jobs::mail::{backoff, deliver_due, MAX_ATTEMPTS};

use crate::common::TestApp;
use crate::workspace_support::*;

/// A local SMTP server writing what it receives into a directory.
pub(crate) struct SmtpSink {
    child: Child,
    port: u16,
    dir: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpSink {
    pub(crate) fn start(refuse: bool) -> SmtpSink {
        Self::start_with(refuse, None)
    }

    /// A sink that requires a login as `user:password` and records the user
    /// on each stored mail's second line ("AUTH: user").
    pub(crate) fn start_with_login(user_password: &str) -> SmtpSink {
        Self::start_with(false, Some(user_password))
    }

    pub(crate) fn start_with(refuse: bool, login: Option<&str>) -> SmtpSink {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("ld-smtp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg(port.to_string()).arg(&dir);
        if refuse {
            cmd.arg("--refuse");
        }
        if let Some(login) = login {
            cmd.arg("--auth").arg(login);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (scripts/test-prereqs installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "SMTP sink did not start");
        SmtpSink { child, port, dir }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every received mail, in arrival order.
    pub(crate) fn received(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort_by_key(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u32>().ok())
        });
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn config_for(app: &TestApp, smtp_url: &str) -> Config {
    let mut config = (*app.state.config).clone();
    config.smtp_url = Some(smtp_url.into());
    config
}

/// A message sent through the app to anna@x.example; returns nothing.
async fn send_one(app: &TestApp) {
    let c = owner(app).await;
    let lead = insert_lead(app, OWNER_SLUG, "Anna", "anna@x.example").to_string();
    let r = c
        .post(
            "/messages",
            &[("lead_id", lead.as_str()), ("template_id", GLOBAL_INTRO)],
        )
        .await;
    assert_eq!(r.status, 303);
}

#[actix_web::test]
async fn a_message_arrives_with_recipient_subject_and_body() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start(false);
    send_one(&app).await;
    exec(
        &app,
        "INSERT INTO mail_outbox (id, kind, to_email, subject, body_text) \
         VALUES (gen_random_uuid(), 'account', 'owen@example.com', 'Confirm your address', 'Open http://x/confirm')",
    );
    let config = config_for(&app, &sink.url());
    let handled = deliver_due(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        &config,
        app.now(),
    )
    .unwrap();
    assert_eq!(handled, 2);
    let mails = sink.received();
    assert_eq!(mails.len(), 2);
    let message = mails
        .iter()
        .find(|m| m.contains("RCPT: anna@x.example"))
        .expect("message mail");
    assert!(
        message.contains("Subject: Quick question, Anna"),
        "{message}"
    );
    assert!(message.contains("I work with teams like Acme"));
    assert!(mails
        .iter()
        .any(|m| m.starts_with("RCPT: owen@example.com") && m.contains("Confirm your address")));
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox WHERE status = 'sent' AND attempts = 1 AND sent_at IS NOT NULL"), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE status = 'sent' AND sent_at IS NOT NULL"),
        1
    );
    // Nothing is sent twice.
    assert_eq!(
        deliver_due(
            &mut app.conn(),
            &SystemAccess::grant_at_startup(),
            &config,
            app.now()
        )
        .unwrap(),
        0
    );
    assert_eq!(sink.received().len(), 2);
}

#[actix_web::test]
async fn a_refusing_server_leads_to_retries_with_backoff_then_failed() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start(true);
    send_one(&app).await;
    let config = config_for(&app, &sink.url());
    let mut now = app.now();
    for attempt in 1..=MAX_ATTEMPTS {
        assert_eq!(
            deliver_due(
                &mut app.conn(),
                &SystemAccess::grant_at_startup(),
                &config,
                now
            )
            .unwrap(),
            1,
            "try {attempt}"
        );
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM mail_outbox WHERE attempts = {attempt}"
            )),
            1
        );
        if attempt < MAX_ATTEMPTS {
            assert_eq!(app.count("SELECT count(*) FROM mail_outbox WHERE status = 'pending' AND last_error LIKE '%550%'"), 1);
            assert_eq!(
                app.count("SELECT count(*) FROM messages WHERE status = 'queued'"),
                1
            );
            // Not due again before its backoff has passed.
            assert_eq!(
                deliver_due(
                    &mut app.conn(),
                    &SystemAccess::grant_at_startup(),
                    &config,
                    now + Duration::seconds(1)
                )
                .unwrap(),
                0
            );
            now += backoff(attempt - 1) + Duration::seconds(1);
        }
    }
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE status = 'failed'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE status = 'failed' AND error LIKE '%550%'"),
        1
    );
    assert_eq!(
        deliver_due(
            &mut app.conn(),
            &SystemAccess::grant_at_startup(),
            &config,
            now + Duration::days(1)
        )
        .unwrap(),
        0
    );
    assert!(sink.received().is_empty());
}

#[actix_web::test]
async fn a_closed_port_is_retried_later() {
    let app = TestApp::new().await;
    send_one(&app).await;
    let config = config_for(&app, &format!("smtp://127.0.0.1:{}", free_port()));
    assert_eq!(
        deliver_due(
            &mut app.conn(),
            &SystemAccess::grant_at_startup(),
            &config,
            app.now()
        )
        .unwrap(),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox WHERE status = 'pending' AND attempts = 1 AND last_error IS NOT NULL AND next_attempt_at > now()"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE status = 'queued'"),
        1
    );
}

#[actix_web::test]
async fn two_runners_at_once_send_each_mail_once() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start(false);
    exec(
        &app,
        "INSERT INTO mail_outbox (id, kind, to_email, subject, body_text) \
         SELECT gen_random_uuid(), 'account', 'u' || i || '@x.example', 'Mail ' || i, 'Body' \
         FROM generate_series(1, 30) AS i",
    );
    let config = config_for(&app, &sink.url());
    let (url, now) = (app.db.url.clone(), app.now());
    let runners: Vec<_> = (0..2)
        .map(|_| {
            let (config, url) = (config.clone(), url.clone());
            std::thread::spawn(move || {
                let mut conn =
                    <diesel::PgConnection as diesel::Connection>::establish(&url).unwrap();
                deliver_due(&mut conn, &SystemAccess::grant_at_startup(), &config, now).unwrap()
            })
        })
        .collect();
    let handled: usize = runners.into_iter().map(|r| r.join().unwrap()).sum();
    assert_eq!(handled, 30);
    let mails = sink.received();
    assert_eq!(mails.len(), 30);
    let mut recipients: Vec<&str> = mails.iter().map(|m| m.lines().next().unwrap()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 30, "no mail twice");
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE status = 'sent' AND attempts = 1"),
        30
    );
}

#[actix_web::test]
async fn the_development_outbox_shows_own_mail_only() {
    let app = TestApp::new().await;
    send_one(&app).await;
    let owen = app.login("owen@example.com").await;
    exec(
        &app,
        "INSERT INTO mail_outbox (id, kind, to_email, subject, body_text) VALUES \
         (gen_random_uuid(), 'account', 'owen@example.com', 'Reset your password', 'Open http://127.0.0.1/reset/abc to continue.'), \
         (gen_random_uuid(), 'invitation', 'someone@else.example', 'You are invited', 'http://127.0.0.1/invitations/secret')",
    );
    let page = owen.get("/dev/outbox").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Quick question, Anna"),
        "the organization's message"
    );
    assert!(page.body.contains("Reset your password"));
    assert!(
        page.body.contains("href=\"http://127.0.0.1/reset/abc\""),
        "links are clickable"
    );
    assert!(
        !page.body.contains("You are invited"),
        "mail to other people stays hidden"
    );
    // Another organization sees none of it.
    let bob = app.signup("Bob", "bob@example.com").await;
    let page = bob.get("/dev/outbox").await;
    assert!(!page.body.contains("Quick question") && !page.body.contains("Reset your password"));
    assert_eq!(
        app.client().get("/dev/outbox").await.status,
        303,
        "signed-in users only"
    );
}

#[actix_web::test]
async fn the_development_outbox_is_gone_when_smtp_is_configured() {
    let app = TestApp::with_config(|c| c.smtp_url = Some("smtp://127.0.0.1:1".into())).await;
    let c = owner(&app).await;
    assert_eq!(c.get("/dev/outbox").await.status, 404);
}
