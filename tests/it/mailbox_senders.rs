//! Which mailbox sends, against real servers (SMTP sinks that require each
//! mailbox's own login and record it, and Dovecot for the inbox): a
//! sequence's rotation sends first steps from every chosen mailbox and each
//! enrolment stays on its mailbox; "the lead owner's mailbox" sends from
//! the owner's; a mailbox of another organization, or a role that may not,
//! is refused and changes nothing (sequence form and compose form); an
//! out-of-office answer to step 1 leaves the lead as it was and step 2
//! still goes out threaded on step 1; and the pages show "next send at".

use chrono::{DateTime, Duration, TimeZone, Utc};
use lead_dashboard::clock::Clock;
use lead_dashboard::db::mailboxes::{insert, password_context, NewMailbox};
use lead_dashboard::db::SystemAccess;
use lead_dashboard::ids::{MailboxId, OrgId, UserId};
use lead_dashboard::jobs::mail::deliver_due;
use lead_dashboard::jobs::sequences::run_due;
use lead_dashboard::mailboxes::secrets::MailboxKey;
use uuid::Uuid;

use crate::common::dovecot::Dovecot;
use crate::common::{uuid_of, Client, TestApp};
use crate::workspace_mail::SmtpSink;
use crate::workspace_support::*;

/// Monday 2026-12-07 10:00 UTC.
fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap()
}

/// The app at `at`, allowed to reach loopback mail servers, with Owen as
/// the owner of an organization on STARTER.
async fn app_at(at: DateTime<Utc>) -> (TestApp, Client) {
    let app = TestApp::with_clock_and_config(Clock::fixed(at), |c| {
        c.mailbox_allow_private_hosts = true;
    })
    .await;
    let owen = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "STARTER");
    (app, owen)
}

/// A mailbox to connect: its address, owner, and the SMTP and IMAP servers
/// (port, login, password) it uses.
struct Spec<'a> {
    email: &'a str,
    owner: Option<Uuid>,
    smtp: (u16, &'a str, &'a str),
    imap: (u16, &'a str, &'a str),
}

/// Stores a mailbox of the organization `slug` as the settings page would.
fn connect(app: &TestApp, slug: &str, spec: &Spec) -> MailboxId {
    let org: OrgId = org_id(app, slug).into();
    let key = MailboxKey::from_config(&app.state.config);
    let id = MailboxId::new();
    let new = NewMailbox {
        organization_id: org,
        id,
        owner_user_id: spec.owner.map(UserId::from),
        display_name: format!("Sender {}", spec.email),
        email: spec.email.into(),
        smtp_host: "127.0.0.1".into(),
        smtp_port: i32::from(spec.smtp.0),
        smtp_security: "none".into(),
        smtp_username: spec.smtp.1.into(),
        smtp_password: key.seal(spec.smtp.2, &password_context(id, "smtp")),
        imap_host: "127.0.0.1".into(),
        imap_port: i32::from(spec.imap.0),
        imap_security: "none".into(),
        imap_username: spec.imap.1.into(),
        imap_password: key.seal(spec.imap.2, &password_context(id, "imap")),
        imap_folder: "INBOX".into(),
        created_at: app.now(),
        updated_at: app.now(),
    };
    let tenant = SystemAccess::grant_at_startup().tenant(org);
    insert(&mut app.conn(), &tenant, new).unwrap();
    id
}

/// A mailbox whose SMTP server is `sink` (login `user`, password "pw").
fn connect_sink(
    app: &TestApp,
    email: &str,
    owner: Option<Uuid>,
    sink: &SmtpSink,
    user: &str,
) -> MailboxId {
    let spec = Spec {
        email,
        owner,
        smtp: (sink.port(), user, "pw"),
        imap: (143, user, "pw"),
    };
    connect(app, OWNER_SLUG, &spec)
}

/// Pacing off for every mailbox: every day, all day, no gap.
fn pacing_off(app: &TestApp) {
    exec(
        app,
        "UPDATE mailboxes SET send_days = 127, window_start_minute = 0, \
         window_end_minute = 1440, min_gap_seconds = 0, gap_jitter_percent = 0",
    );
}

fn user_id(app: &TestApp, email: &str) -> Uuid {
    uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM users WHERE email = '{email}'"),
    )
}

/// A new own sequence of Owen's with the global intro as each step, after
/// each of `delays` days.
async fn sequence(app: &TestApp, c: &Client, name: &str, delays: &[&str]) -> Uuid {
    let r = c.post("/sequences", &[("name", name)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let seq = uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM sequences WHERE name = '{name}'"),
    );
    for delay in delays {
        let r = c
            .post(
                &format!("/sequences/{seq}/steps"),
                &[("template_id", GLOBAL_INTRO), ("delay_days", delay)],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    seq
}

async fn enrol(c: &Client, seq: Uuid, leads: &[Uuid]) {
    let seq = seq.to_string();
    let leads: Vec<String> = leads.iter().map(Uuid::to_string).collect();
    let mut form = vec![("sequence_id", seq.as_str())];
    form.extend(leads.iter().map(|l| ("lead_id", l.as_str())));
    let r = c.post("/sequences/enrol", &form).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

async fn set_senders(
    c: &Client,
    seq: Uuid,
    mode: &str,
    mailboxes: &[MailboxId],
) -> crate::common::Resp {
    let ids: Vec<String> = mailboxes.iter().map(|m| m.0.to_string()).collect();
    let mut form = vec![("mode", mode)];
    form.extend(ids.iter().map(|id| ("mailbox_id", id.as_str())));
    c.post(&format!("/sequences/{seq}/senders"), &form).await
}

/// One pass of the sequence job and of the delivery job at `at`.
fn run_jobs(app: &TestApp, at: DateTime<Utc>) -> (usize, usize) {
    let access = SystemAccess::grant_at_startup();
    let steps = run_due(&mut app.conn(), &access, at).unwrap();
    let sent = deliver_due(&mut app.conn(), &access, &app.state.config, at).unwrap();
    (steps, sent)
}

/// The value of header `name` in a mail the sink stored.
fn header(mail: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}: ");
    mail.lines()
        .find(|l| l.starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
}

fn headers(mails: &[String], name: &str) -> Vec<String> {
    mails.iter().filter_map(|m| header(m, name)).collect()
}

#[actix_web::test]
async fn a_rotation_sends_first_steps_from_every_chosen_mailbox_and_each_enrolment_stays_on_its_own(
) {
    let (app, c) = app_at(monday()).await;
    let (sink_a, sink_b) = (
        SmtpSink::start_with_login("a-smtp:pw"),
        SmtpSink::start_with_login("b-smtp:pw"),
    );
    let a = connect_sink(&app, "a@sales.example", None, &sink_a, "a-smtp");
    let b = connect_sink(&app, "b@sales.example", None, &sink_b, "b-smtp");
    pacing_off(&app);
    let seq = sequence(&app, &c, "Rotation", &["0", "2"]).await;
    let page = c.get(&format!("/sequences/{seq}")).await.body;
    assert!(
        page.contains("Sends from") && page.contains("a@sales.example"),
        "{page}"
    );
    let r = set_senders(&c, seq, "mailboxes", &[a, b]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'sequence.senders_changed'"),
        1
    );
    let leads: Vec<Uuid> = (0..4)
        .map(|i| {
            insert_lead(
                &app,
                OWNER_SLUG,
                &format!("L{i}"),
                &format!("l{i}@x.example"),
            )
        })
        .collect();
    enrol(&c, seq, &leads).await;
    assert_eq!(run_jobs(&app, monday()), (4, 4));
    let (first_a, first_b) = (sink_a.received(), sink_b.received());
    assert_eq!(
        (first_a.len(), first_b.len()),
        (2, 2),
        "both mailboxes send"
    );
    assert!(first_a.iter().all(|m| m.contains("\nAUTH: a-smtp\n")));
    assert!(first_b.iter().all(|m| m.contains("\nAUTH: b-smtp\n")));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sequence_enrollments WHERE mailbox_id = '{}'",
            a.0
        )),
        2,
        "each enrolment records its mailbox"
    );

    let later = monday() + Duration::days(2) + Duration::minutes(1);
    assert_eq!(run_jobs(&app, later), (4, 4));
    for (sink, firsts) in [(&sink_a, &first_a), (&sink_b, &first_b)] {
        let follow_ups = sink.received()[2..].to_vec();
        assert_eq!(
            follow_ups.len(),
            2,
            "each enrolment's step 2 stays on its mailbox"
        );
        let mut parents = headers(&follow_ups, "In-Reply-To");
        let mut ids = headers(firsts, "Message-ID");
        parents.sort();
        ids.sort();
        assert_eq!(parents, ids, "threaded on the step 1 that mailbox sent");
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM (SELECT enrollment_id FROM messages GROUP BY enrollment_id \
             HAVING count(*) = 2 AND count(DISTINCT mailbox_id) = 1) one_mailbox"
        ),
        4
    );

    // A mailbox that cannot send is passed over while another can (A would
    // win the tie otherwise: every enrolment so far has completed).
    exec(
        &app,
        &format!(
            "UPDATE mailbox_states SET status = 'needs_attention' WHERE mailbox_id = '{}'",
            a.0
        ),
    );
    let fifth = insert_lead(&app, OWNER_SLUG, "L5", "l5@x.example");
    enrol(&c, seq, &[fifth]).await;
    assert_eq!(run_jobs(&app, later), (1, 1));
    assert_eq!(sink_b.received().len(), 5);
}

#[actix_web::test]
async fn the_lead_owner_mode_sends_from_the_owners_mailbox_else_from_the_enrollers() {
    let (app, c) = app_at(monday()).await;
    member(&app, OWNER_SLUG, "Mia", "MEMBER", [true, true, true]).await;
    let (owen_sink, mia_sink) = (
        SmtpSink::start_with_login("owen-smtp:pw"),
        SmtpSink::start_with_login("mia-smtp:pw"),
    );
    let owen = user_id(&app, "owen@example.com");
    let mia = user_id(&app, "mia@example.com");
    let owen_box = connect_sink(
        &app,
        "owen@sales.example",
        Some(owen),
        &owen_sink,
        "owen-smtp",
    );
    let mia_box = connect_sink(&app, "mia@sales.example", Some(mia), &mia_sink, "mia-smtp");
    pacing_off(&app);
    let seq = sequence(&app, &c, "Owners", &["0"]).await;
    assert_eq!(set_senders(&c, seq, "lead_owner", &[]).await.status, 303);
    let miass = insert_lead(&app, OWNER_SLUG, "Owned", "owned@x.example");
    exec(
        &app,
        &format!("UPDATE leads SET owner_user_id = '{mia}' WHERE id = '{miass}'"),
    );
    let nobodys = insert_lead(&app, OWNER_SLUG, "Free", "free@x.example");
    enrol(&c, seq, &[miass, nobodys]).await;
    assert_eq!(run_jobs(&app, monday()), (2, 2));
    let (to_owner, to_enroller) = (mia_sink.received(), owen_sink.received());
    assert_eq!(to_owner.len(), 1);
    assert!(
        to_owner[0].starts_with("RCPT: owned@x.example\nAUTH: mia-smtp\n"),
        "{}",
        to_owner[0]
    );
    assert_eq!(to_enroller.len(), 1, "no owner: the enroller's mailbox");
    assert!(to_enroller[0].starts_with("RCPT: free@x.example\nAUTH: owen-smtp\n"));
    for (lead, mailbox) in [(miass, mia_box), (nobodys, owen_box)] {
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM sequence_enrollments WHERE lead_id = '{lead}' AND mailbox_id = '{}'",
                mailbox.0
            )),
            1
        );
    }
}

/// Bob's organization with a mailbox of its own; returns the mailbox.
async fn foreign_mailbox(app: &TestApp) -> MailboxId {
    app.signup("Bob", "bob@example.com").await;
    let spec = Spec {
        email: "bob@b-sales.example",
        owner: None,
        smtp: (25, "bob", "pw"),
        imap: (143, "bob", "pw"),
    };
    connect(app, "bob-s-organization", &spec)
}

#[actix_web::test]
async fn another_organizations_mailbox_or_a_role_that_may_not_is_refused_and_nothing_changes() {
    let (app, c) = app_at(monday()).await;
    let owen_sink = SmtpSink::start_with_login("owen-smtp:pw");
    let owen = user_id(&app, "owen@example.com");
    let own = connect_sink(
        &app,
        "owen@sales.example",
        Some(owen),
        &owen_sink,
        "owen-smtp",
    );
    let theirs = foreign_mailbox(&app).await;
    let seq = sequence(&app, &c, "Guarded", &["0"]).await;

    // The sequence form.
    for chosen in [vec![theirs], vec![own, theirs]] {
        let r = set_senders(&c, seq, "mailboxes", &chosen).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            r.body.contains("not a mailbox of this organization"),
            "{}",
            r.body
        );
    }
    let r = set_senders(&c, seq, "mailboxes", &[]).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Tick at least one mailbox"), "{}", r.body);
    let viewer = member(&app, OWNER_SLUG, "Vera", "VIEWER", [true, true, true]).await;
    let no_templates = member(&app, OWNER_SLUG, "Nils", "MEMBER", [true, true, false]).await;
    for client in [&viewer, &no_templates] {
        assert_eq!(
            set_senders(client, seq, "mailboxes", &[own]).await.status,
            403
        );
    }
    for table in [
        "sequence_senders",
        "sequence_mailboxes",
        "audit_events WHERE action LIKE 'sequence.%'",
    ] {
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }

    // The compose form.
    let mia_client = member(&app, OWNER_SLUG, "Mia", "MEMBER", [true, true, true]).await;
    let mia = user_id(&app, "mia@example.com");
    let mia_sink = SmtpSink::start_with_login("mia-smtp:pw");
    let mia_box = connect_sink(&app, "mia@sales.example", Some(mia), &mia_sink, "mia-smtp");
    let lead = insert_lead(&app, OWNER_SLUG, "Lou", "lou@x.example").to_string();
    let compose = |mailbox: MailboxId| {
        [
            ("lead_id", lead.clone()),
            ("template_id", GLOBAL_INTRO.to_string()),
            ("mailbox_id", mailbox.0.to_string()),
        ]
    };
    let post_to = |path: &'static str, client: &Client, form: [(&'static str, String); 3]| {
        let client = client.clone_session();
        async move {
            let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            client.post(path, &fields).await
        }
    };
    let post = |client: &Client, form| post_to("/messages", client, form);
    let r = post(&c, compose(theirs)).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("not one of this organization"),
        "{}",
        r.body
    );
    let r = post(&mia_client, compose(own)).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("only from your own mailbox"), "{}", r.body);
    let r = post_to("/messages/preview", &mia_client, compose(own)).await;
    assert_eq!(r.status, 400, "the preview refuses it too");
    assert_eq!(
        app.count("SELECT count(*) FROM messages"),
        0,
        "nothing was sent"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'message'"),
        0
    );

    // What each may use is offered, and works.
    let lead_page = mia_client.get(&format!("/leads/{lead}")).await.body;
    assert!(lead_page.contains("mia@sales.example") && !lead_page.contains("owen@sales.example"));
    let lead_page = c.get(&format!("/leads/{lead}")).await.body;
    assert!(lead_page.contains("mia@sales.example") && lead_page.contains("owen@sales.example"));
    assert_eq!(post(&mia_client, compose(mia_box)).await.status, 303);
    assert_eq!(
        post(&c, compose(mia_box)).await.status,
        303,
        "an owner may use any"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM messages WHERE mailbox_id = '{}'",
            mia_box.0
        )),
        2
    );
}

/// An out-of-office answer to `parent`, as a mail server writes one.
fn out_of_office(parent: &str) -> Vec<u8> {
    format!(
        "From: Lea Test <lea@customer.example>\r\nTo: sam@seller.example\r\n\
Subject: Automatic reply: away until Monday\r\nDate: Mon, 07 Dec 2026 10:05:00 +0000\r\n\
Message-ID: <ooo-1@customer.example>\r\nAuto-Submitted: auto-replied\r\n\
In-Reply-To: {parent}\r\nReferences: {parent}\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nI am out of the office until Monday.\r\n"
    )
    .into_bytes()
}

/// One pass of the inbox job with every mailbox due.
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

#[actix_web::test]
async fn an_out_of_office_leaves_the_lead_as_it_was_and_step_two_goes_out_threaded_on_step_one() {
    let (app, c) = app_at(monday()).await;
    let dovecot = Dovecot::start(&[("sam", "imap-secret")]);
    let sink = SmtpSink::start_with_login("sam-smtp:s3cret");
    let spec = Spec {
        email: "sam@seller.example",
        owner: None,
        smtp: (sink.port(), "sam-smtp", "s3cret"),
        imap: (dovecot.port(), "sam", "imap-secret"),
    };
    let a = connect(&app, OWNER_SLUG, &spec);
    pacing_off(&app);
    let seq = sequence(&app, &c, "Two steps", &["0", "2"]).await;
    assert_eq!(set_senders(&c, seq, "mailboxes", &[a]).await.status, 303);
    let lead = insert_lead(&app, OWNER_SLUG, "Lea", "lea@customer.example");
    enrol(&c, seq, &[lead]).await;
    assert_eq!(run_jobs(&app, monday()), (1, 1));
    let first = sink.received();
    assert_eq!(first.len(), 1);
    assert!(first[0].contains("\nAUTH: sam-smtp\n"));
    let first_id = header(&first[0], "Message-ID").unwrap();
    let first_subject = header(&first[0], "Subject").unwrap();

    dovecot.append("sam", "imap-secret", "INBOX", &out_of_office(&first_id));
    assert_eq!(read_inboxes(&app).await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM inbound_messages WHERE kind = 'auto_reply' AND message_id IS NOT NULL"),
        1,
        "kept as an automatic reply to step 1"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE status = 'replied'"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'active'"),
        1
    );

    let later = monday() + Duration::days(2) + Duration::minutes(1);
    assert_eq!(run_jobs(&app, later), (1, 1));
    let mails = sink.received();
    assert_eq!(mails.len(), 2, "step 2 still goes out");
    let second = &mails[1];
    assert!(
        second.contains("\nAUTH: sam-smtp\n"),
        "from the same mailbox"
    );
    assert_eq!(header(second, "In-Reply-To"), Some(first_id.clone()));
    assert_eq!(header(second, "References"), Some(first_id));
    assert_eq!(
        header(second, "Subject"),
        Some(format!("Re: {first_subject}"))
    );
}

#[actix_web::test]
async fn the_pages_show_when_a_waiting_step_is_expected_to_go_and_when_the_next_is_due() {
    // Saturday 2026-12-12 10:00 UTC: the default window (Monday to Friday,
    // 09:00-17:00, the organization's zone UTC) is closed until Monday.
    let saturday = Utc.with_ymd_and_hms(2026, 12, 12, 10, 0, 0).unwrap();
    let (app, c) = app_at(saturday).await;
    let sink = SmtpSink::start_with_login("owen-smtp:pw");
    let owen = user_id(&app, "owen@example.com");
    connect_sink(&app, "owen@sales.example", Some(owen), &sink, "owen-smtp");
    let seq = sequence(&app, &c, "Weekend", &["0", "3"]).await;
    let lead = insert_lead(&app, OWNER_SLUG, "Wes", "wes@x.example");
    enrol(&c, seq, &[lead]).await;
    assert_eq!(
        run_jobs(&app, saturday),
        (1, 0),
        "the mail waits for Monday"
    );
    let expected = "Step 1 queued: next send at about <time datetime=\"2026-12-14T09:00:00Z\">14 Dec 2026, 09:00</time> (an estimate";
    for page in [format!("/sequences/{seq}"), format!("/leads/{lead}")] {
        let body = c.get(&page).await.body;
        assert!(body.contains("Next send at"), "{page}");
        assert!(body.contains(expected), "{page}: {body}");
        assert!(body.contains("Step 2 due"), "{page}");
        assert!(body.contains("15 Dec 2026, 10:00"), "{page}");
    }
    exec(&app, "UPDATE mailbox_states SET status = 'needs_attention'");
    let body = c.get(&format!("/leads/{lead}")).await.body;
    assert!(
        body.contains("Step 1 queued: waits for its mailbox, which needs attention"),
        "{body}"
    );
    assert!(sink.received().is_empty());
}
