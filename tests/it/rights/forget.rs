//! "Forget this lead": the lead, its messages, enrolments and mail are
//! erased, no row of the organization mentions the address any more, the
//! salted hash stays (the old unsubscribe link still answers), and the
//! audit event names no one. Wrong roles and other organizations' ids
//! change nothing.

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::*;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Tables with an `organization_id` whose rows mention `needle`.
fn tables_mentioning(app: &TestApp, needle: &str) -> Vec<String> {
    let mut conn = app.conn();
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.columns \
         WHERE table_schema = 'public' AND column_name = 'organization_id'",
    )
    .load(&mut conn)
    .unwrap();
    tables
        .into_iter()
        .map(|t| t.name)
        .filter(|t| {
            app.count(&format!(
                "SELECT count(*) FROM {t} x WHERE x::text LIKE '%{needle}%'"
            )) > 0
        })
        .collect()
}

#[actix_web::test]
async fn forgetting_a_lead_erases_it_and_keeps_only_the_hash() {
    let app = TestApp::new().await;
    let (c, lead) = enrolled_and_mailed(&app).await;
    let link = unsubscribe_path(&app);
    assert!(!tables_mentioning(&app, "anna@x.example").is_empty());
    // A reply of hers and a bounce report about her address that matched no lead.
    crate::team::support::exec(
        &app,
        "INSERT INTO mailboxes (organization_id, id, display_name, email, smtp_host, smtp_port, \
             smtp_security, smtp_username, smtp_password, imap_host, imap_port, imap_security, \
             imap_username, imap_password, created_at, updated_at) \
           SELECT id, gen_random_uuid(), 'M', 'm@x.example', 'smtp.x.example', 465, 'tls', 'm', \
             '\\x00', 'imap.x.example', 993, 'tls', 'm', '\\x00', now(), now() FROM organizations; \
         INSERT INTO inbound_messages (organization_id, id, mailbox_id, kind, lead_id, dedupe_key, \
             from_email, body_text, bounce_recipient, received_at, created_at) \
           SELECT m.organization_id, gen_random_uuid(), m.id, k.kind, k.lead, k.key, k.sender, \
             'Thanks, Anna', k.rcpt, now(), now() \
           FROM mailboxes m CROSS JOIN (VALUES \
             ('reply', (SELECT id FROM leads), 'r1', 'anna@x.example', NULL), \
             ('bounce', NULL::uuid, 'b1', 'mailer-daemon@x.example', 'anna@x.example')) \
             AS k (kind, lead, key, sender, rcpt);",
    );
    let page = c.get(&format!("/leads/{lead}")).await;
    assert!(page.body.contains("Forget this lead"));

    let r = c.post(&format!("/leads/{lead}/forget"), &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some("/leads"));
    for table in [
        "leads",
        "messages",
        "sequence_enrollments",
        "mail_outbox",
        "inbound_messages",
    ] {
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }
    assert_eq!(
        tables_mentioning(&app, "anna@x.example"),
        Vec::<String>::new()
    );
    assert_eq!(tables_mentioning(&app, "Anna"), Vec::<String>::new());
    assert_eq!(
        app.count(
            "SELECT count(*) FROM suppressions WHERE reason = 'forgotten' AND email_hint IS NULL"
        ),
        1
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM audit_events WHERE action = 'lead.forgotten' AND target = '{lead}'")),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM unsubscribe_tokens WHERE lead_id IS NULL"),
        1
    );
    let old_link = app.client().get(&link).await;
    assert!(
        old_link.body.contains("Already unsubscribed"),
        "{}",
        old_link.body
    );
    assert!(c
        .get("/settings/suppression")
        .await
        .body
        .contains("Forgotten (hash only)"));
    // Gone: a second try is not found.
    let r = c.post(&format!("/leads/{lead}/forget"), &[]).await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn only_members_with_lead_rights_forget_and_never_another_organizations_lead() {
    let app = TestApp::new().await;
    let (_, lead) = enrolled_and_mailed(&app).await;
    let path = format!("/leads/{lead}/forget");
    for (who, client, allowed) in role_matrix(&app, 0).await {
        if allowed {
            continue;
        }
        assert_eq!(client.post(&path, &[]).await.status, 403, "{who}");
    }
    let bea = app.signup("Bea", "bea@example.com").await;
    assert_eq!(bea.post(&path, &[]).await.status, 404);
    let unknown = format!("/leads/{}/forget", Uuid::now_v7());
    assert_eq!(bea.post(&unknown, &[]).await.status, 404);
    assert_eq!(app.count("SELECT count(*) FROM leads"), 1);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 0);
}

#[actix_web::test]
async fn forgetting_a_lead_erases_api_responses_kept_for_replays() {
    use crate::api::support::{create_key, raw};
    let t = crate::api::support::team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "Replay", "read_write").await;
    let auth = format!("Bearer {key}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "lead-mia"),
    ];
    let body = br#"{"first_name":"Mia","email":"Mia_Lee@x.example"}"#.to_vec();
    let created = raw(app, "POST", "/api/v1/leads", &headers, body).await;
    assert_eq!(created.status, 201);
    let lead = created.json["id"].as_str().unwrap().to_string();
    // Another lead's kept response stays.
    let other = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "lead-max"),
    ];
    let body = br#"{"first_name":"Max","email":"max@x.example"}"#.to_vec();
    assert_eq!(
        raw(app, "POST", "/api/v1/leads", &other, body).await.status,
        201
    );
    assert_eq!(app.count("SELECT count(*) FROM api_idempotency_keys"), 2);

    let r = t.owner.post(&format!("/leads/{lead}/forget"), &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.count("SELECT count(*) FROM api_idempotency_keys WHERE idempotency_key = 'lead-mia'"),
        0,
        "the kept response named the forgotten lead"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM api_idempotency_keys WHERE idempotency_key = 'lead-max'"),
        1
    );
}
