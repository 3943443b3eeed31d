//! Sending from sender mailboxes against real SMTP on loopback (the sink of
//! tests/support/smtp_sink.py, requiring the mailbox's own login): From,
//! Message-ID and the login used; the platform fallback with Reply-To; a
//! refused login keeps the mail waiting and the mailbox needs attention; a
//! permanent refusal is a hard bounce; sequence follow-ups thread onto the
//! first step; pacing (gap, daily cap) holds with two runners at once; and a
//! mail whose outcome was never recorded is failed, never sent twice.

use chrono::{Duration, TimeZone, Utc};
use lead_dashboard::config::Config;
use lead_dashboard::db::mailboxes::{insert, password_context, NewMailbox};
use lead_dashboard::db::outbox::UNKNOWN_OUTCOME;
use lead_dashboard::db::SystemAccess;
use lead_dashboard::ids::{MailboxId, OrgId, UserId};
use lead_dashboard::jobs::mail::deliver_due;
use lead_dashboard::jobs::sequences::run_due;
use lead_dashboard::mailboxes::net::{ConnectError, Protocol, Security, Server};
use lead_dashboard::mailboxes::secrets::MailboxKey;
use lead_dashboard::mailboxes::smtp::check_login;

use crate::common::{ts, uuid_of, TestApp};
use crate::workspace_mail::SmtpSink;
use crate::workspace_support::*;

const LOGIN: &str = "owen-smtp:s3cret";
const BANNER: &str = "Replies cannot be detected until you connect a mailbox";

/// Connects a mailbox of Owen's (owner of `OWNER_SLUG`) whose SMTP server
/// is `sink`, logging in as `user` with `password`, pacing off (every day,
/// all day, no gap) unless a test sets it.
fn connect_mailbox(app: &TestApp, sink: &SmtpSink, user: &str, password: &str) -> MailboxId {
    let org: OrgId = org_id(app, OWNER_SLUG).into();
    let owner: UserId = uuid_of(
        &mut app.conn(),
        "SELECT id FROM users WHERE email = 'owen@example.com'",
    )
    .into();
    let key = MailboxKey::from_config(&app.state.config);
    let id = MailboxId::new();
    let new = NewMailbox {
        organization_id: org,
        id,
        owner_user_id: Some(owner),
        display_name: "Owen Sales".into(),
        email: "owen@sales.example".into(),
        smtp_host: "127.0.0.1".into(),
        smtp_port: i32::from(sink.port()),
        smtp_security: "none".into(),
        smtp_username: user.into(),
        smtp_password: key.seal(password, &password_context(id, "smtp")),
        imap_host: "127.0.0.1".into(),
        imap_port: 143,
        imap_security: "none".into(),
        imap_username: user.into(),
        imap_password: key.seal(password, &password_context(id, "imap")),
        imap_folder: "INBOX".into(),
        created_at: app.now(),
        updated_at: app.now(),
    };
    let tenant = SystemAccess::grant_at_startup().tenant(org);
    insert(&mut app.conn(), &tenant, new).unwrap();
    exec(
        app,
        "UPDATE mailboxes SET send_days = 127, window_start_minute = 0, \
         window_end_minute = 1440, min_gap_seconds = 0, gap_jitter_percent = 0",
    );
    id
}

/// The delivery configuration: loopback mailbox servers allowed; the
/// platform server is `platform` when given.
fn delivery_config(app: &TestApp, platform: Option<&SmtpSink>) -> Config {
    let mut config = (*app.state.config).clone();
    config.mailbox_allow_private_hosts = true;
    config.smtp_url = platform.map(|sink| sink.url().into());
    config
}

fn deliver(app: &TestApp, config: &Config, at: chrono::DateTime<Utc>) -> usize {
    deliver_due(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        config,
        at,
    )
    .unwrap()
}

/// Owner Owen sends the global intro to a new lead through the send form.
async fn send_to(app: &TestApp, c: &crate::common::Client, first: &str, email: &str) {
    let lead = insert_lead(app, OWNER_SLUG, first, email).to_string();
    let r = c
        .post(
            "/messages",
            &[("lead_id", lead.as_str()), ("template_id", GLOBAL_INTRO)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}

/// The value of header `name` in a stored mail.
fn header(mail: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}: ");
    mail.lines()
        .find(|l| l.starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
}

#[actix_web::test]
async fn a_message_goes_out_through_the_senders_mailbox_with_its_own_login() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start_with_login(LOGIN);
    let c = owner(&app).await;
    connect_mailbox(&app, &sink, "owen-smtp", "s3cret");
    for page in ["/messages", "/sequences"] {
        assert!(!c.get(page).await.body.contains(BANNER), "{page}");
    }
    send_to(&app, &c, "Anna", "anna@x.example").await;
    assert_eq!(deliver(&app, &delivery_config(&app, None), app.now()), 1);
    let mails = sink.received();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(
        mail.starts_with("RCPT: anna@x.example\nAUTH: owen-smtp\n"),
        "{mail}"
    );
    let from = header(mail, "From").expect("a From header");
    assert!(
        from.contains("Owen Sales") && from.ends_with("<owen@sales.example>"),
        "{from}"
    );
    assert_eq!(header(mail, "Reply-To"), None, "replies go to the mailbox");
    let id = header(mail, "Message-ID").expect("a Message-ID");
    assert!(
        id.starts_with('<') && id.ends_with("@sales.example>"),
        "{id}"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM messages WHERE rfc_message_id = '{id}' \
             AND mailbox_id IS NOT NULL AND status = 'sent'"
        )),
        1
    );
}

#[actix_web::test]
async fn without_a_mailbox_the_platform_sends_with_reply_to_the_member() {
    let app = TestApp::new().await;
    let platform = SmtpSink::start(false);
    let c = owner(&app).await;
    send_to(&app, &c, "Anna", "anna@x.example").await;
    assert_eq!(
        deliver(&app, &delivery_config(&app, Some(&platform)), app.now()),
        1
    );
    let mail = &platform.received()[0];
    assert_eq!(
        header(mail, "Reply-To").as_deref(),
        Some("owen@example.com")
    );
    let id = header(mail, "Message-ID").expect("a Message-ID");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM messages WHERE rfc_message_id = '{id}' AND mailbox_id IS NULL"
        )),
        1
    );
}

#[actix_web::test]
async fn a_refused_login_keeps_the_mail_waiting_and_nothing_is_lost() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start_with_login(LOGIN);
    let c = owner(&app).await;
    connect_mailbox(&app, &sink, "owen-smtp", "wrong");
    send_to(&app, &c, "Anna", "anna@x.example").await;
    deliver(&app, &delivery_config(&app, None), app.now());
    assert!(sink.received().is_empty());
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM mail_outbox WHERE status = 'pending' AND attempts = 0 \
             AND next_attempt_at > {}",
            ts(app.now())
        )),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE status = 'failed'"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM mailbox_states WHERE status = 'needs_attention'"),
        1,
        "the mailbox needs attention"
    );
    deliver(
        &app,
        &delivery_config(&app, None),
        app.now() + Duration::hours(1),
    );
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'message' AND status = 'pending' AND attempts = 0"),
        1,
        "its mail keeps waiting"
    );
}

#[actix_web::test]
async fn a_permanent_refusal_at_send_time_is_a_hard_bounce() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start_with(true, Some(LOGIN));
    let c = owner(&app).await;
    connect_mailbox(&app, &sink, "owen-smtp", "s3cret");
    send_to(&app, &c, "Anna", "anna@x.example").await;
    deliver(&app, &delivery_config(&app, None), app.now());
    assert_eq!(
        app.count(
            "SELECT count(*) FROM messages WHERE status = 'bounced' AND bounced_at IS NOT NULL"
        ),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM suppressions WHERE reason = 'bounced'"),
        1,
        "the address is suppressed"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'message' AND status = 'failed' AND attempts = 1"),
        1,
        "never retried"
    );
}

#[actix_web::test]
async fn a_mail_left_sending_is_failed_and_never_sent_twice() {
    let app = TestApp::new().await;
    let platform = SmtpSink::start(false);
    let c = owner(&app).await;
    send_to(&app, &c, "Anna", "anna@x.example").await;
    send_to(&app, &c, "Bert", "bert@x.example").await;
    // The instance sending Anna's mail died before recording the outcome
    // eleven minutes ago; Bert's is being sent right now by another one.
    exec(
        &app,
        &format!(
            "UPDATE mail_outbox SET status = 'sending', claimed_at = {} \
             WHERE to_email = 'anna@x.example'",
            ts(app.now() - Duration::minutes(11))
        ),
    );
    exec(
        &app,
        &format!(
            "UPDATE mail_outbox SET status = 'sending', claimed_at = {} \
             WHERE to_email = 'bert@x.example'",
            ts(app.now() - Duration::minutes(1))
        ),
    );
    assert_eq!(
        deliver(&app, &delivery_config(&app, Some(&platform)), app.now()),
        0
    );
    assert!(platform.received().is_empty(), "nothing is sent again");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM mail_outbox WHERE to_email = 'anna@x.example' \
             AND status = 'failed' AND last_error = '{UNKNOWN_OUTCOME}'"
        )),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM messages WHERE to_email = 'anna@x.example' AND status = 'failed'"
        ),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM mail_outbox WHERE to_email = 'bert@x.example' AND status = 'sending'"
        ),
        1,
        "a send still within the timeout is left alone"
    );
}

#[actix_web::test]
async fn gap_and_daily_cap_hold_with_two_runners_at_once() {
    // Monday 2026-12-07 10:00 UTC.
    let start = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
    let app = TestApp::pinned(start).await;
    let sink = SmtpSink::start_with_login(LOGIN);
    let c = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "STARTER");
    connect_mailbox(&app, &sink, "owen-smtp", "s3cret");
    exec(
        &app,
        "UPDATE mailboxes SET daily_cap = 2, min_gap_seconds = 60",
    );
    for i in 0..4 {
        send_to(&app, &c, &format!("L{i}"), &format!("l{i}@x.example")).await;
    }
    let config = delivery_config(&app, None);
    let both_at = |at: chrono::DateTime<Utc>| {
        let runners: Vec<_> = (0..2)
            .map(|_| {
                let mut conn = app.conn();
                let config = config.clone();
                std::thread::spawn(move || {
                    deliver_due(&mut conn, &SystemAccess::grant_at_startup(), &config, at).unwrap()
                })
            })
            .collect();
        for runner in runners {
            runner.join().unwrap();
        }
    };
    both_at(start);
    assert_eq!(sink.received().len(), 1, "the gap holds");
    both_at(start + Duration::seconds(30));
    assert_eq!(sink.received().len(), 1, "still inside the gap");
    both_at(start + Duration::seconds(60));
    assert_eq!(sink.received().len(), 2, "one more after the gap");
    both_at(start + Duration::seconds(600));
    assert_eq!(sink.received().len(), 2, "the daily cap holds");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM mail_outbox WHERE status = 'pending' AND next_attempt_at > {}",
            ts(start + Duration::hours(6))
        )),
        2,
        "the rest waits for the next day"
    );
    both_at(start + Duration::days(1));
    assert_eq!(sink.received().len(), 3, "the next day goes on");
}

#[actix_web::test]
async fn a_follow_up_step_threads_onto_the_first() {
    let start = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
    let app = TestApp::pinned(start).await;
    let sink = SmtpSink::start_with_login(LOGIN);
    let c = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "STARTER");
    connect_mailbox(&app, &sink, "owen-smtp", "s3cret");
    let r = c.post("/sequences", &[("name", "Follow up")]).await;
    assert_eq!(r.status, 303);
    let seq = uuid_of(
        &mut app.conn(),
        "SELECT id FROM sequences WHERE name = 'Follow up'",
    );
    for delay in ["0", "2"] {
        let r = c
            .post(
                &format!("/sequences/{seq}/steps"),
                &[("template_id", GLOBAL_INTRO), ("delay_days", delay)],
            )
            .await;
        assert_eq!(r.status, 303);
    }
    let lead = insert_lead(&app, OWNER_SLUG, "Lia", "lia@x.example").to_string();
    let seq = seq.to_string();
    let r = c
        .post(
            "/sequences/enrol",
            &[("sequence_id", seq.as_str()), ("lead_id", lead.as_str())],
        )
        .await;
    assert_eq!(r.status, 303);
    let config = delivery_config(&app, None);
    let access = SystemAccess::grant_at_startup();
    let now = start + Duration::seconds(1);
    assert_eq!(run_due(&mut app.conn(), &access, now).unwrap(), 1);
    assert_eq!(deliver(&app, &config, now), 1);
    let later = now + Duration::days(2) + Duration::minutes(1);
    assert_eq!(run_due(&mut app.conn(), &access, later).unwrap(), 1);
    assert_eq!(deliver(&app, &config, later), 1);
    let mails = sink.received();
    assert_eq!(mails.len(), 2);
    let first_id = header(&mails[0], "Message-ID").unwrap();
    let first_subject = header(&mails[0], "Subject").unwrap();
    assert_eq!(header(&mails[1], "In-Reply-To"), Some(first_id.clone()));
    assert_eq!(header(&mails[1], "References"), Some(first_id));
    assert_eq!(
        header(&mails[1], "Subject"),
        Some(format!("Re: {first_subject}"))
    );
    assert!(
        mails[1].contains("AUTH: owen-smtp"),
        "the same mailbox sends"
    );
}

fn sink_server(sink: &SmtpSink, security: Security, password: &str) -> Server {
    Server {
        protocol: Protocol::Smtp,
        host: "127.0.0.1".into(),
        port: sink.port(),
        security,
        username: "owen-smtp".into(),
        password: password.to_string().into(),
    }
}

#[actix_web::test]
async fn the_login_check_names_what_failed() {
    let sink = SmtpSink::start_with_login(LOGIN);
    assert_eq!(
        check_login(&sink_server(&sink, Security::None, "s3cret"), true),
        Ok(())
    );
    let wrong = check_login(&sink_server(&sink, Security::None, "nope"), true).unwrap_err();
    assert!(wrong.is_authentication(), "{wrong}");
    assert!(wrong
        .to_string()
        .contains("user name or password was refused"));
    let tls = check_login(&sink_server(&sink, Security::Tls, "s3cret"), true).unwrap_err();
    assert!(matches!(tls.error, ConnectError::Tls(_)), "{tls:?}");
    let starttls =
        check_login(&sink_server(&sink, Security::StartTls, "s3cret"), true).unwrap_err();
    assert!(
        matches!(starttls.error, ConnectError::Tls(_)),
        "{starttls:?}"
    );
    let private = check_login(&sink_server(&sink, Security::None, "s3cret"), false).unwrap_err();
    assert_eq!(private.error, ConnectError::PrivateAddress);
}
