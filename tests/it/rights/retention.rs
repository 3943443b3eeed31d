//! Retention: the hourly job blanks the text of mail sent over 30 days ago
//! (keeping the delivery record), deletes raw usage records older than 13
//! months (the counters stay) and used account tokens after a day, and
//! leaves everything younger alone. The privacy page that lists these
//! periods is served to anyone and linked from every page.

use chrono::Duration;
use lead_dashboard::db::SystemAccess;

use super::*;

fn run_retention(app: &TestApp) -> usize {
    lead_dashboard::jobs::retention::run(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        &app.state.config,
        app.now(),
    )
    .expect("retention job")
}

#[actix_web::test]
async fn old_mail_text_usage_records_and_used_tokens_go_younger_ones_stay() {
    let app = TestApp::new().await;
    let _c = owner(&app).await;
    let now = app.now();
    let at = |days: i64| (now - Duration::days(days)).to_rfc3339();
    crate::team::support::exec(
        &app,
        &format!(
            "INSERT INTO mail_outbox (id, kind, to_email, subject, body_text, body_html, status, sent_at) VALUES \
               (gen_random_uuid(), 'account', 'old@x.example', 'Old', 'old body', '<p>old</p>', 'sent', '{old}'), \
               (gen_random_uuid(), 'account', 'new@x.example', 'New', 'new body', '<p>new</p>', 'sent', '{new}'), \
               (gen_random_uuid(), 'account', 'queued@x.example', 'Queued', 'queued body', NULL, 'pending', NULL); \
             INSERT INTO usage_records (organization_id, kind, occurred_at) \
               SELECT id, 'lead_created', '{year_ago}' FROM organizations; \
             INSERT INTO usage_records (organization_id, kind, occurred_at) \
               SELECT id, 'lead_created', '{long_ago}' FROM organizations; \
             INSERT INTO account_tokens (token_hash, user_id, purpose, expires_at, used_at) \
               SELECT '\\x01', id, 'password_reset', '{future}', '{used_old}' FROM users; \
             INSERT INTO account_tokens (token_hash, user_id, purpose, expires_at, used_at) \
               SELECT '\\x02', id, 'password_reset', '{future}', '{used_new}' FROM users;",
            old = at(31),
            new = at(29),
            year_ago = at(365),
            long_ago = at(13 * 31 + 5),
            future = (now + Duration::days(1)).to_rfc3339(),
            used_old = at(2),
            used_new = (now - Duration::hours(1)).to_rfc3339(),
        ),
    );
    let counters = app.count("SELECT count(*) FROM usage_counters");
    assert_eq!(run_retention(&app), 3, "one mail, one record, one token");

    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE to_email = 'old@x.example' \
                   AND body_text = '' AND body_html IS NULL AND subject = 'Old' AND status = 'sent'"),
        1,
        "the text goes, the delivery record stays"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM mail_outbox WHERE body_text IN ('new body', 'queued body')"
        ),
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM usage_records WHERE occurred_at < '{}'",
            at(366)
        )),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM usage_records WHERE occurred_at = '{}'",
            at(365)
        )),
        1,
        "a year-old record stays"
    );
    assert_eq!(app.count("SELECT count(*) FROM usage_counters"), counters);
    assert_eq!(
        app.count("SELECT count(*) FROM account_tokens WHERE token_hash = '\\x02'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM account_tokens WHERE token_hash = '\\x01'"),
        0
    );

    assert_eq!(run_retention(&app), 0, "nothing twice");
}

#[actix_web::test]
async fn the_privacy_page_lists_the_periods_and_every_page_links_to_it() {
    let app = TestApp::new().await;
    let visitor = app.client();
    let page = visitor.get("/privacy").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<table>"), "{}", page.body);
    assert!(page.body.contains("13 months") && page.body.contains("30 days after sending"));
    assert!(visitor
        .get("/login")
        .await
        .body
        .contains("href=\"/privacy\""));
    let c = owner(&app).await;
    assert!(c.get("/dashboard").await.body.contains("href=\"/privacy\""));
    assert!(c.get("/privacy").await.status == 200);
}

#[actix_web::test]
async fn inbound_mail_without_a_lead_goes_after_30_days_a_leads_conversation_stays() {
    let app = TestApp::new().await;
    let _c = owner(&app).await;
    let now = app.now();
    let at = |days: i64| (now - Duration::days(days)).to_rfc3339();
    crate::team::support::exec(
        &app,
        &format!(
            "INSERT INTO leads (organization_id, id, first_name, email) \
               SELECT id, gen_random_uuid(), 'Lea', 'lea@x.example' FROM organizations; \
             INSERT INTO mailboxes (organization_id, id, display_name, email, smtp_host, smtp_port, \
                 smtp_security, smtp_username, smtp_password, imap_host, imap_port, imap_security, \
                 imap_username, imap_password, created_at, updated_at) \
               SELECT id, gen_random_uuid(), 'M', 'm@x.example', 'smtp.x.example', 465, 'tls', 'm', \
                 '\\x00', 'imap.x.example', 993, 'tls', 'm', '\\x00', now(), now() FROM organizations; \
             INSERT INTO inbound_messages (organization_id, id, mailbox_id, kind, lead_id, dedupe_key, \
                 body_text, received_at, created_at) \
               SELECT m.organization_id, gen_random_uuid(), m.id, k.kind, k.lead, k.key, 'text', k.at::timestamptz, now() \
               FROM mailboxes m CROSS JOIN (VALUES \
                 ('reply', (SELECT id FROM leads), 'old-with-lead', '{old}'), \
                 ('bounce', NULL::uuid, 'old-without-lead', '{old}'), \
                 ('bounce', NULL::uuid, 'new-without-lead', '{new}')) AS k (kind, lead, key, at);",
            old = at(31),
            new = at(29),
        ),
    );
    assert_eq!(run_retention(&app), 1, "one old mail without a lead");
    let keys = |key: &str| {
        app.count(&format!(
            "SELECT count(*) FROM inbound_messages WHERE dedupe_key = '{key}'"
        ))
    };
    assert_eq!(keys("old-without-lead"), 0);
    assert_eq!(
        keys("old-with-lead"),
        1,
        "a lead's conversation stays with it"
    );
    assert_eq!(keys("new-without-lead"), 1);
}

#[actix_web::test]
async fn api_idempotency_keys_go_after_their_24_hours() {
    let app = TestApp::new().await;
    let _c = owner(&app).await;
    let now = app.now();
    let at = |hours: i64| (now - Duration::hours(hours)).to_rfc3339();
    crate::team::support::exec(
        &app,
        &format!(
            "INSERT INTO api_idempotency_keys (organization_id, idempotency_key, request_hash, \
                 response_status, response_body, created_at) \
               SELECT o.id, k.key, '\\x00', 201, '{{}}', k.at::timestamptz \
               FROM organizations o CROSS JOIN (VALUES ('old', '{old}'), ('young', '{young}')) \
                 AS k (key, at);",
            old = at(25),
            young = at(23),
        ),
    );
    assert_eq!(run_retention(&app), 1, "the key older than 24 hours");
    assert_eq!(
        app.count("SELECT count(*) FROM api_idempotency_keys WHERE idempotency_key = 'young'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM api_idempotency_keys WHERE idempotency_key = 'old'"),
        0
    );
}
