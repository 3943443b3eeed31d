//! Reading mailbox inboxes against a real Dovecot: replies, automatic
//! answers and bounces act on the lead and its enrolments; the same mail is
//! kept once; another organization's Message-ID never attaches; oversized
//! and malformed mail is skipped; a refused login needs attention; a silent
//! server times out; the inbox is never changed; a Message-ID matches
//! whether or not it is stored in angle brackets.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lead_dashboard::clock::Clock;
use lead_dashboard::db::mailboxes::{self, NewMailbox};
use lead_dashboard::db::SystemAccess;
use lead_dashboard::ids::{MailboxId, OrgId};
use lead_dashboard::mailboxes::imap;
use lead_dashboard::mailboxes::net::{ConnectError, Protocol, Security, Server};
use lead_dashboard::mailboxes::secrets::MailboxKey;
use uuid::Uuid;

use crate::common::dovecot::Dovecot;
use crate::common::{Client, TestApp};
use crate::team::support::{exec, org_id, set_plan, text, ORG, OTHER};
use crate::webhooks::support::{add_endpoint, deliver, Mode, Receiver};

const USER: &str = "sam";
const PASSWORD: &str = "imap-secret";

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
        .unwrap()
        .to_utc()
}

struct Inbox {
    app: TestApp,
    owner: Client,
    org: Uuid,
    dovecot: Dovecot,
    mailbox: Uuid,
    lead: Uuid,
    enrollment: Uuid,
    message: Uuid,
}

/// Olivia's organization with a mailbox on a fresh Dovecot, a lead Lea
/// enrolled in a stop-on-reply sequence, and one message sent to her from
/// the mailbox with Message-ID `<first@seller.example>`.
async fn inbox() -> Inbox {
    let app = TestApp::with_clock_and_config(Clock::fixed(start()), |c| {
        c.webhook_allow_private_targets = true;
        c.mailbox_allow_private_hosts = true;
    })
    .await;
    let owner = app.signup("Olivia", "olivia@example.com").await;
    app.verify_email("olivia@example.com");
    set_plan(&app, ORG, "ENTERPRISE");
    let org = org_id(&app, ORG);
    let dovecot = Dovecot::start(&[(USER, PASSWORD)]);
    let mailbox = add_mailbox(&app, org, dovecot.port(), PASSWORD);
    let r = owner
        .post(
            "/leads",
            &[
                ("first_name", "Lea"),
                ("last_name", "Test"),
                ("email", "lea@customer.example"),
                ("status", "contacted"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "create lead: {}", r.body);
    let lead: Uuid = text(&app, "SELECT id::text FROM leads").parse().unwrap();
    let sequence = Uuid::new_v4();
    let enrollment = Uuid::new_v4();
    let message = Uuid::new_v4();
    exec(
        &app,
        &format!(
            "INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{org}', '{org}', '{sequence}', 'Intro');
             INSERT INTO sequence_enrollments (organization_id, id, lead_id, sequence_owner_key, sequence_id, status, next_run_at)
                 VALUES ('{org}', '{enrollment}', '{lead}', '{org}', '{sequence}', 'active', '2026-12-09T10:00:00Z');
             INSERT INTO messages (organization_id, id, lead_id, to_email, subject, body, status, created_at, sent_at, mailbox_id, rfc_message_id)
                 VALUES ('{org}', '{message}', '{lead}', 'lea@customer.example', 'Quick question', 'Hi Lea', 'sent',
                         '2026-12-06T10:00:00Z', '2026-12-06T10:00:00Z', '{mailbox}', 'first@seller.example');"
        ),
    );
    Inbox {
        app,
        owner,
        org,
        dovecot,
        mailbox,
        lead,
        enrollment,
        message,
    }
}

fn add_mailbox(app: &TestApp, org: Uuid, port: u16, password: &str) -> Uuid {
    let access = SystemAccess::grant_at_startup();
    let tenant = access.tenant(OrgId(org));
    let key = MailboxKey::from_config(&app.state.config);
    let id = MailboxId::new();
    let seal = |server: &str| key.seal(password, &mailboxes::password_context(id, server));
    let mut conn = app.conn();
    mailboxes::insert(
        &mut conn,
        &tenant,
        NewMailbox {
            organization_id: OrgId(org),
            id,
            owner_user_id: None,
            display_name: "Sam Seller".into(),
            email: "sam@seller.example".into(),
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            smtp_security: "none".into(),
            smtp_username: USER.into(),
            smtp_password: seal("smtp"),
            imap_host: "127.0.0.1".into(),
            imap_port: i32::from(port),
            imap_security: "none".into(),
            imap_username: USER.into(),
            imap_password: seal("imap"),
            imap_folder: "INBOX".into(),
            created_at: start(),
            updated_at: start(),
        },
    )
    .expect("insert mailbox");
    id.0
}

/// One pass of the inbox job, with every mailbox due.
async fn read_inboxes(app: &TestApp) -> usize {
    exec(
        app,
        "UPDATE mailbox_states SET next_poll_at = '2000-01-01T00:00:00Z'",
    );
    let state = app.state.clone();
    let now = app.now();
    actix_web::web::block(move || {
        let access = SystemAccess::grant_at_startup();
        lead_dashboard::jobs::inbox::run(&state.db, &access, &state.config, now).unwrap()
    })
    .await
    .unwrap()
}

fn reply(message_id: &str, in_reply_to: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Lea Test <lea@customer.example>\r\nTo: sam@seller.example\r\n\
Subject: Re: Quick question\r\nDate: Mon, 07 Dec 2026 09:00:00 +0000\r\n\
Message-ID: <{message_id}>\r\nIn-Reply-To: <{in_reply_to}>\r\n\
References: <{in_reply_to}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn bounce_report(original: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.seller.example\r\nTo: sam@seller.example\r\n\
Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n\
Message-ID: <bounce-1@mx.seller.example>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\n\
Reporting-MTA: dns; mx.seller.example\r\n\r\n\
Final-Recipient: rfc822; lea@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n\
--B\r\nContent-Type: text/rfc822-headers\r\n\r\n\
From: sam@seller.example\r\nTo: lea@customer.example\r\nSubject: Quick question\r\n\
Message-ID: <{original}>\r\n\r\n--B--\r\n"
    )
    .into_bytes()
}

fn count(app: &TestApp, sql: &str) -> i64 {
    app.count(sql)
}

#[actix_rt::test]
async fn a_reply_moves_the_lead_stops_its_sequence_shows_on_its_page_and_leaves_the_inbox_as_it_was(
) {
    let t = inbox().await;
    let rx = Receiver::start(Mode::Ok);
    add_endpoint(&t.owner, &rx.url(), &["message.replied"]).await;
    t.dovecot.append(
        USER,
        PASSWORD,
        "INBOX",
        &reply(
            "r1@customer.example",
            "first@seller.example",
            "Yes <b>please</b>, call me Thursday.",
        ),
    );
    let before = t.dovecot.flags(USER, PASSWORD, "INBOX");
    assert_eq!(read_inboxes(&t.app).await, 1);

    assert_eq!(text(&t.app, "SELECT status FROM leads"), "replied");
    assert_eq!(
        text(
            &t.app,
            "SELECT note FROM lead_status_changes WHERE to_status = 'replied'"
        ),
        "reply detected"
    );
    assert_eq!(
        text(
            &t.app,
            &format!(
                "SELECT status || '|' || paused_reason FROM sequence_enrollments WHERE id = '{}'",
                t.enrollment
            )
        ),
        "stopped|Stopped: the lead replied."
    );
    assert_eq!(
        text(
            &t.app,
            "SELECT kind || '|' || message_id::text FROM inbound_messages"
        ),
        format!("reply|{}", t.message)
    );
    let page = t.owner.get(&format!("/leads/{}", t.lead)).await;
    assert!(
        page.body
            .contains("Yes &lt;b&gt;please&lt;/b&gt;, call me Thursday."),
        "the reply's text, escaped, on the lead page"
    );
    assert!(page.body.contains("reply detected"));

    deliver(&t.app).await;
    let got = rx.received();
    assert_eq!(got.len(), 1, "one delivery");
    assert_eq!(got[0].json()["type"], "message.replied");
    assert_eq!(got[0].json()["data"]["id"], t.message.to_string());
    let data = &got[0].json()["data"];
    assert!(
        data["reply"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("call me Thursday")),
        "the reply travels with the event: {data}"
    );
    assert_eq!(data["reply"]["from"], "lea@customer.example");
    assert!(data["bounce"].is_null());

    // Reading changed nothing: same messages, no flag (\Seen) added.
    assert_eq!(t.dovecot.flags(USER, PASSWORD, "INBOX"), before);
    assert_eq!(before, vec![Vec::<String>::new()]);
    let _ = t.org;
}

#[actix_rt::test]
async fn a_hard_bounce_suppresses_the_address_stops_the_sequence_and_marks_the_message() {
    let t = inbox().await;
    t.dovecot.append(
        USER,
        PASSWORD,
        "INBOX",
        &bounce_report("first@seller.example"),
    );
    read_inboxes(&t.app).await;
    assert_eq!(
        text(
            &t.app,
            "SELECT status || '|' || (bounced_at IS NOT NULL)::text FROM messages"
        ),
        "bounced|true"
    );
    assert_eq!(text(&t.app, "SELECT reason FROM suppressions"), "bounced");
    assert_eq!(
        text(
            &t.app,
            "SELECT status || '|' || paused_reason FROM sequence_enrollments"
        ),
        "stopped|Stopped: mail to this address bounced."
    );
    assert_eq!(
        text(
            &t.app,
            "SELECT kind || '|' || bounce_status FROM inbound_messages"
        ),
        "bounce|5.1.1"
    );
    assert_eq!(text(&t.app, "SELECT status FROM leads"), "contacted");
    let page = t.owner.get(&format!("/leads/{}", t.lead)).await;
    assert!(
        page.body.contains("5.1.1"),
        "the bounce and its status on the lead page"
    );
}

#[actix_rt::test]
async fn an_out_of_office_is_kept_but_is_not_a_reply() {
    let t = inbox().await;
    let mut ooo = String::from_utf8(reply(
        "ooo@customer.example",
        "first@seller.example",
        "I am out of the office until Monday.",
    ))
    .unwrap();
    ooo = ooo.replace(
        "Subject: Re: Quick question",
        "Subject: Automatic reply: Quick question\r\nAuto-Submitted: auto-replied",
    );
    t.dovecot.append(USER, PASSWORD, "INBOX", ooo.as_bytes());
    read_inboxes(&t.app).await;
    assert_eq!(
        text(&t.app, "SELECT kind FROM inbound_messages"),
        "auto_reply"
    );
    assert_eq!(text(&t.app, "SELECT status FROM leads"), "contacted");
    assert_eq!(
        text(&t.app, "SELECT status FROM sequence_enrollments"),
        "active"
    );
    let page = t.owner.get(&format!("/leads/{}", t.lead)).await;
    assert!(page.body.contains("Automatic reply from"));
}

#[actix_rt::test]
async fn the_same_reply_is_kept_once_even_when_the_folder_is_rebuilt() {
    let t = inbox().await;
    let r = reply("twice@customer.example", "first@seller.example", "Hello");
    t.dovecot.append(USER, PASSWORD, "INBOX", &r);
    t.dovecot.append(USER, PASSWORD, "INBOX", &r);
    read_inboxes(&t.app).await;
    assert_eq!(count(&t.app, "SELECT count(*) FROM inbound_messages"), 1);
    let last_uid = count(&t.app, "SELECT imap_last_uid FROM mailbox_states");
    assert_eq!(last_uid, 2);

    t.dovecot.set_uid_validity(USER, "INBOX", 4242);
    read_inboxes(&t.app).await;
    assert_eq!(count(&t.app, "SELECT count(*) FROM inbound_messages"), 1);
    assert_eq!(
        count(&t.app, "SELECT imap_uid_validity FROM mailbox_states"),
        4242
    );
}

#[actix_rt::test]
async fn a_reply_naming_another_organizations_message_does_not_attach() {
    let t = inbox().await;
    // Otto's organization sent a message with its own Message-ID.
    let otto = t.app.signup("Otto", "otto@example.com").await;
    let r = otto
        .post(
            "/leads",
            &[
                ("first_name", "Ole"),
                ("last_name", "Other"),
                ("email", "ole@other.example"),
                ("status", "new"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let other = org_id(&t.app, OTHER);
    exec(
        &t.app,
        &format!(
            "INSERT INTO messages (organization_id, id, lead_id, to_email, subject, body, status, created_at, sent_at, rfc_message_id)
             SELECT '{other}', gen_random_uuid(), id, email, 'Hi', 'Hi', 'sent', '2026-12-06T10:00:00Z', '2026-12-06T10:00:00Z', 'otto@other.example'
             FROM leads WHERE organization_id = '{other}'"
        ),
    );
    let mut foreign =
        String::from_utf8(reply("x@evil.example", "otto@other.example", "Gotcha")).unwrap();
    foreign = foreign.replace("Subject: Re: Quick question", "Subject: Re: Hi");
    t.dovecot
        .append(USER, PASSWORD, "INBOX", foreign.as_bytes());
    read_inboxes(&t.app).await;
    assert_eq!(count(&t.app, "SELECT count(*) FROM inbound_messages"), 0);
    assert_eq!(
        text(
            &t.app,
            &format!("SELECT status FROM leads WHERE organization_id = '{other}'")
        ),
        "new"
    );
    assert_eq!(
        text(
            &t.app,
            &format!("SELECT status FROM leads WHERE id = '{}'", t.lead)
        ),
        "contacted"
    );
}

#[actix_rt::test]
async fn huge_and_malformed_mail_is_skipped_and_the_next_message_still_counts() {
    let t = inbox().await;
    let mut huge = reply("huge@customer.example", "first@seller.example", "");
    huge.extend(std::iter::repeat_n(b'x', 30 * 1024 * 1024));
    huge.extend(b"\r\n");
    t.dovecot.append(USER, PASSWORD, "INBOX", &huge);
    t.dovecot.append(
        USER,
        PASSWORD,
        "INBOX",
        b"\x00\x01\x02 this is not mail at all",
    );
    t.dovecot.append(
        USER,
        PASSWORD,
        "INBOX",
        &reply(
            "ok@customer.example",
            "first@seller.example",
            "After the noise",
        ),
    );
    read_inboxes(&t.app).await;
    assert_eq!(
        text(
            &t.app,
            "SELECT string_agg(dedupe_key, ',') FROM inbound_messages"
        ),
        "ok@customer.example"
    );
    assert_eq!(text(&t.app, "SELECT status FROM leads"), "replied");
    assert_eq!(count(&t.app, "SELECT imap_last_uid FROM mailbox_states"), 3);
}

#[actix_rt::test]
async fn a_refused_login_needs_attention_and_tells_the_owners_once() {
    let t = inbox().await;
    // A user the server does not know: the login is refused.
    exec(&t.app, "UPDATE mailboxes SET imap_username = 'nobody'");
    let wrong = t.mailbox;
    read_inboxes(&t.app).await;
    assert_eq!(
        text(
            &t.app,
            &format!("SELECT status FROM mailbox_states WHERE mailbox_id = '{wrong}'")
        ),
        "needs_attention"
    );
    assert!(text(&t.app, "SELECT last_error FROM mailbox_states").contains("refused"));
    assert_eq!(
        count(
            &t.app,
            "SELECT count(*) FROM notices WHERE kind = 'mailbox'"
        ),
        1
    );
    let mails = count(&t.app, "SELECT count(*) FROM mail_outbox WHERE to_email = 'olivia@example.com' AND subject LIKE '%stopped working%'");
    assert_eq!(mails, 1);
    read_inboxes(&t.app).await;
    assert_eq!(
        count(
            &t.app,
            "SELECT count(*) FROM notices WHERE kind = 'mailbox'"
        ),
        1,
        "told once, not at every failed poll"
    );
}

#[actix_rt::test]
async fn a_server_that_never_answers_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts (the kernel completes the handshake) and says nothing.
    let server = Server {
        protocol: Protocol::Imap,
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: USER.into(),
        password: PASSWORD.to_string().into(),
    };
    let started = Instant::now();
    let outcome = std::thread::spawn(move || imap::check_login(&server, "INBOX", true))
        .join()
        .unwrap();
    let e = outcome.expect_err("no greeting");
    assert_eq!(e.error, ConnectError::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(started.elapsed() >= Duration::from_secs(14));
    drop(listener);
}

#[actix_rt::test]
async fn check_login_opens_the_folder_and_names_a_missing_one() {
    let dovecot = Dovecot::start(&[(USER, PASSWORD)]);
    let server = |password: &str| Server {
        protocol: Protocol::Imap,
        host: "127.0.0.1".into(),
        port: dovecot.port(),
        security: Security::None,
        username: USER.into(),
        password: password.to_string().into(),
    };
    assert_eq!(imap::check_login(&server(PASSWORD), "INBOX", true), Ok(()));
    let missing = imap::check_login(&server(PASSWORD), "Nope", true).unwrap_err();
    assert!(matches!(missing.error, ConnectError::Protocol(_)));
    assert!(missing.to_string().contains("\"Nope\""), "{missing}");
    let refused = imap::check_login(&server("wrong"), "INBOX", true).unwrap_err();
    assert!(refused.is_authentication(), "{refused}");
    let private = imap::check_login(&server(PASSWORD), "INBOX", false).unwrap_err();
    assert_eq!(private.error, ConnectError::PrivateAddress);
}

#[actix_rt::test]
async fn a_reply_matches_a_message_id_kept_in_angle_brackets_as_the_delivery_job_stores_it() {
    let t = inbox().await;
    exec(
        &t.app,
        "UPDATE messages SET rfc_message_id = '<first@seller.example>'",
    );
    // A subject that names nothing sent: only the Message-ID can match.
    let raw = String::from_utf8(reply(
        "r9@customer.example",
        "first@seller.example",
        "Sure.",
    ))
    .unwrap()
    .replace("Subject: Re: Quick question", "Subject: Re: Something else");
    t.dovecot.append(USER, PASSWORD, "INBOX", raw.as_bytes());
    assert_eq!(read_inboxes(&t.app).await, 1);
    assert_eq!(
        text(
            &t.app,
            "SELECT kind || '|' || message_id::text FROM inbound_messages"
        ),
        format!("reply|{}", t.message)
    );
    assert_eq!(text(&t.app, "SELECT status FROM leads"), "replied");
}
