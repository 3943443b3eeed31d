//! The mailboxes page beyond connecting, against real servers (the SMTP
//! sink with a required login, and Dovecot): each mailbox's health (next
//! free slot, bounce rate over its last 100 sends, replies of the last 7
//! days); resuming a paused mailbox, and one that needs attention only once
//! its logins work again; editing the settings with the logins checked
//! when a connection setting changes, an empty password keeping the stored
//! one and nothing half-saved. Wrong roles are 403, another organization's
//! mailbox 404, and neither changes anything.

use crate::common::dovecot::Dovecot;
use crate::common::{Client, TestApp};
use crate::workspace_mail::SmtpSink;
use crate::workspace_support::*;

const SMTP_PASSWORD: &str = "smtp-Pa55word-xyz";
const IMAP_PASSWORD: &str = "imap-Pa55word-xyz";
const USER: &str = "owen";
const ADDRESS: &str = "owen@sales.example";

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

/// An ENTERPRISE organization of Owen with his mailbox connected.
async fn connected() -> (TestApp, Servers, Client, uuid::Uuid) {
    let app = TestApp::with_config(|c| c.mailbox_allow_private_hosts = true).await;
    let s = servers();
    let owen = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    let r = post(&owen, "/settings/mailboxes", &connect_form(&s, ADDRESS)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let id = mailbox_id(&app, ADDRESS);
    (app, s, owen, id)
}

fn connect_form(s: &Servers, address: &str) -> Vec<(&'static str, String)> {
    vec![
        ("display_name", "Owen Sales".into()),
        ("email", address.into()),
        ("smtp_host", "127.0.0.1".into()),
        ("smtp_port", s.sink.port().to_string()),
        ("smtp_security", "none".into()),
        ("smtp_username", USER.into()),
        ("smtp_password", SMTP_PASSWORD.into()),
        ("imap_host", "127.0.0.1".into()),
        ("imap_port", s.dovecot.port().to_string()),
        ("imap_security", "none".into()),
        ("imap_username", USER.into()),
        ("imap_password", IMAP_PASSWORD.into()),
        ("imap_folder", "INBOX".into()),
        ("daily_cap", "40".into()),
    ]
}

/// The edit form as the page fills it (passwords empty), with `changes`.
fn edit_form(s: &Servers, changes: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut form: Vec<(&'static str, String)> = connect_form(s, ADDRESS)
        .into_iter()
        .filter(|(k, _)| !k.ends_with("_password"))
        .collect();
    form.extend([
        ("min_gap_seconds", "90".to_string()),
        ("window_start", "09:00".into()),
        ("window_end", "17:00".into()),
    ]);
    for day in ["day_mon", "day_tue", "day_wed", "day_thu", "day_fri"] {
        form.push((day, "on".into()));
    }
    for (key, value) in changes {
        form.retain(|(k, _)| k != key);
        if !value.is_empty() || key.ends_with("_password") {
            form.push((key, value.to_string()));
        }
    }
    form
}

async fn post(c: &Client, path: &str, form: &[(&'static str, String)]) -> crate::common::Resp {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.post(path, &pairs).await
}

fn mailbox_id(app: &TestApp, address: &str) -> uuid::Uuid {
    crate::common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM mailboxes WHERE email = '{address}'"),
    )
}

/// Every stored column of the mailboxes and their states, to see that a
/// refused action changed nothing.
fn fingerprint(app: &TestApp) -> String {
    let mut conn = app.conn();
    #[derive(diesel::QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    use diesel::RunQueryDsl;
    diesel::sql_query(
        "SELECT coalesce(md5(string_agg(m::text || s::text, ',' ORDER BY m.id)), '') AS t \
         FROM mailboxes m JOIN mailbox_states s ON s.mailbox_id = m.id",
    )
    .get_result::<Text>(&mut conn)
    .unwrap()
    .t
}

fn status(app: &TestApp, id: uuid::Uuid) -> String {
    let mut conn = app.conn();
    #[derive(diesel::QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    use diesel::RunQueryDsl;
    diesel::sql_query(format!(
        "SELECT status AS t FROM mailbox_states WHERE mailbox_id = '{id}'"
    ))
    .get_result::<Text>(&mut conn)
    .unwrap()
    .t
}

#[actix_web::test]
async fn the_list_shows_next_slot_bounce_rate_and_recent_replies() {
    let (app, _s, owen, id) = connected().await;
    let org = org_id(&app, OWNER_SLUG);
    let lead = insert_lead(&app, OWNER_SLUG, "Lea", "lea@x.example");
    exec(
        &app,
        &format!(
            "INSERT INTO messages (organization_id, id, lead_id, to_email, subject, body, status, created_at, sent_at, mailbox_id)
             SELECT '{org}', gen_random_uuid(), '{lead}', 'lea@x.example', 'Hi', 'Hi',
                    CASE WHEN i = 1 THEN 'bounced' ELSE 'sent' END,
                    now() - i * interval '1 hour', now() - i * interval '1 hour', '{id}'
             FROM generate_series(1, 20) i"
        ),
    );
    exec(
        &app,
        &format!(
            "INSERT INTO inbound_messages (organization_id, id, mailbox_id, kind, lead_id, dedupe_key, received_at, created_at)
             VALUES ('{org}', gen_random_uuid(), '{id}', 'reply', '{lead}', 'a', now() - interval '1 day', now()),
                    ('{org}', gen_random_uuid(), '{id}', 'reply', '{lead}', 'b', now() - interval '6 days', now()),
                    ('{org}', gen_random_uuid(), '{id}', 'reply', '{lead}', 'c', now() - interval '8 days', now()),
                    ('{org}', gen_random_uuid(), '{id}', 'auto_reply', '{lead}', 'd', now() - interval '1 day', now());"
        ),
    );
    let page = owen.get("/settings/mailboxes").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Bounced: 5.0 % of 20 sends"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("2 replies in 7 days"),
        "two replies in 7 days, not the older one or the auto-reply: {}",
        page.body
    );
    assert!(
        page.body.contains("Next: ") && !page.body.contains("Next: not sending"),
        "an active mailbox has a next free slot"
    );
    exec(
        &app,
        &format!("UPDATE mailbox_states SET status = 'paused' WHERE mailbox_id = '{id}'"),
    );
    let page = owen.get("/settings/mailboxes").await;
    assert!(
        page.body.contains("Next: not sending"),
        "a paused mailbox has no slot"
    );
    assert!(page
        .body
        .contains(&format!("/settings/mailboxes/{id}/resume")));
}

#[actix_web::test]
async fn a_paused_mailbox_is_resumed_by_those_who_manage_it_only() {
    let (app, _s, owen, id) = connected().await;
    exec(
        &app,
        &format!(
            "UPDATE mailbox_states SET status = 'paused', status_reason = 'Paused: 6 of the last 100 bounced.' \
             WHERE mailbox_id = '{id}'"
        ),
    );
    let path = format!("/settings/mailboxes/{id}/resume");
    let before = fingerprint(&app);
    let vic = member(&app, OWNER_SLUG, "Vic", "VIEWER", [true; 3]).await;
    assert_eq!(vic.post(&path, &[]).await.status, 403);
    let mia = member(&app, OWNER_SLUG, "Mia", "MEMBER", [true; 3]).await;
    assert_eq!(mia.post(&path, &[]).await.status, 403, "not her mailbox");
    let bea = app.signup("Bea", "bea@example.com").await;
    app.verify_email("bea@example.com");
    assert_eq!(bea.post(&path, &[]).await.status, 404);
    assert_eq!(fingerprint(&app), before, "refusals change nothing");

    let r = owen.post(&path, &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(status(&app, id), "active");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM mailbox_states WHERE mailbox_id = '{id}' AND status_reason IS NULL"
        )),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'mailbox.resumed'"),
        1
    );
}

#[actix_web::test]
async fn a_mailbox_that_needs_attention_resumes_only_once_its_logins_work() {
    let (app, s, owen, id) = connected().await;
    // Nothing answers on this port: the login check fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    exec(
        &app,
        &format!(
            "UPDATE mailbox_states SET status = 'needs_attention', status_reason = 'Needs attention: login refused' \
             WHERE mailbox_id = '{id}'"
        ),
    );
    exec(
        &app,
        &format!("UPDATE mailboxes SET imap_port = {dead_port} WHERE id = '{id}'"),
    );
    let path = format!("/settings/mailboxes/{id}/resume");
    let before = fingerprint(&app);
    let r = owen.post(&path, &[]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("IMAP"),
        "the failing server is named: {}",
        r.body
    );
    assert_eq!(fingerprint(&app), before, "a failed check changes nothing");
    assert_eq!(status(&app, id), "needs_attention");

    exec(
        &app,
        &format!(
            "UPDATE mailboxes SET imap_port = {} WHERE id = '{id}'",
            s.dovecot.port()
        ),
    );
    let r = owen.post(&path, &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(status(&app, id), "active");
}

#[actix_web::test]
async fn editing_checks_the_logins_when_a_connection_setting_changes_and_saves_all_or_nothing() {
    let (app, s, owen, id) = connected().await;
    let path = format!("/settings/mailboxes/{id}/edit");
    let page = owen.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("value=\"Owen Sales\"") && page.body.contains("value=\"09:00\""));
    assert!(!page.body.contains(SMTP_PASSWORD) && !page.body.contains(IMAP_PASSWORD));

    // A wrong new IMAP password: the check fails, not even the pacing is saved.
    let before = fingerprint(&app);
    let r = post(
        &owen,
        &path,
        &edit_form(&s, &[("daily_cap", "30"), ("imap_password", "wrong-one")]),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("IMAP"));
    assert!(!r.body.contains("wrong-one"));
    assert_eq!(fingerprint(&app), before);
    // A folder that does not exist: the same.
    let r = post(&owen, &path, &edit_form(&s, &[("imap_folder", "Nowhere")])).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fingerprint(&app), before);
    // No sending day: refused before any login.
    let mut no_days = edit_form(&s, &[]);
    no_days.retain(|(k, _)| !k.starts_with("day_"));
    let r = post(&owen, &path, &no_days).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("at least one sending day"), "{}", r.body);
    assert_eq!(fingerprint(&app), before);

    // Name and pacing only, passwords left empty: saved, passwords kept.
    let smtp_before = stored_password(&app, id, "smtp");
    let imap_before = stored_password(&app, id, "imap");
    let mut changes = edit_form(
        &s,
        &[
            ("display_name", "Owen S."),
            ("daily_cap", "30"),
            ("min_gap_seconds", "120"),
            ("window_start", "08:30"),
            ("window_end", "00:00"),
        ],
    );
    changes.retain(|(k, _)| *k != "day_fri");
    changes.push(("day_sat", "on".into()));
    let r = post(&owen, &path, &changes).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM mailboxes WHERE id = '{id}' AND display_name = 'Owen S.' AND daily_cap = 30 \
             AND min_gap_seconds = 120 AND window_start_minute = 510 AND window_end_minute = 1440 \
             AND send_days = 1 + 2 + 4 + 8 + 32"
        )),
        1
    );
    assert_eq!(
        stored_password(&app, id, "smtp"),
        smtp_before,
        "an empty password keeps the stored one"
    );
    assert_eq!(stored_password(&app, id, "imap"), imap_before);

    // A new, right SMTP password while it needs attention: checked, sealed
    // again, and the mailbox works again.
    exec(
        &app,
        &format!("UPDATE mailbox_states SET status = 'needs_attention', status_reason = 'x' WHERE mailbox_id = '{id}'"),
    );
    let r = post(
        &owen,
        &path,
        &edit_form(&s, &[("smtp_password", SMTP_PASSWORD)]),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_ne!(
        stored_password(&app, id, "smtp"),
        smtp_before,
        "sealed again"
    );
    assert_eq!(status(&app, id), "active");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'mailbox.updated'"),
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_events WHERE action = 'mailbox.updated' \
             AND (coalesce(after::text, '') LIKE '%{SMTP_PASSWORD}%' OR coalesce(before::text, '') LIKE '%{SMTP_PASSWORD}%')"
        )),
        0,
        "no password in the audit log"
    );
}

fn stored_password(app: &TestApp, id: uuid::Uuid, which: &str) -> Vec<u8> {
    let mut conn = app.conn();
    #[derive(diesel::QueryableByName)]
    struct Bytes {
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        b: Vec<u8>,
    }
    use diesel::RunQueryDsl;
    diesel::sql_query(format!(
        "SELECT {which}_password AS b FROM mailboxes WHERE id = '{id}'"
    ))
    .get_result::<Bytes>(&mut conn)
    .unwrap()
    .b
}

#[actix_web::test]
async fn only_those_who_manage_a_mailbox_edit_it_and_another_organizations_is_404() {
    let (app, s, _owen, id) = connected().await;
    let path = format!("/settings/mailboxes/{id}/edit");
    let before = fingerprint(&app);
    let form = edit_form(&s, &[("display_name", "Taken over")]);
    let vic = member(&app, OWNER_SLUG, "Vic", "VIEWER", [true; 3]).await;
    assert_eq!(vic.get(&path).await.status, 403);
    assert_eq!(post(&vic, &path, &form).await.status, 403);
    let mia = member(&app, OWNER_SLUG, "Mia", "MEMBER", [true; 3]).await;
    assert_eq!(mia.get(&path).await.status, 403, "not her mailbox");
    assert_eq!(post(&mia, &path, &form).await.status, 403);
    let ada = member(&app, OWNER_SLUG, "Ada", "ADMIN", [true; 3]).await;
    assert_eq!(
        ada.get(&path).await.status,
        200,
        "an admin manages any mailbox"
    );
    let bea = app.signup("Bea", "bea@example.com").await;
    app.verify_email("bea@example.com");
    assert_eq!(bea.get(&path).await.status, 404);
    assert_eq!(post(&bea, &path, &form).await.status, 404);
    assert_eq!(fingerprint(&app), before, "nothing changed");
}
