//! Sending messages: preview then send, stored with usage and outbox in one
//! transaction, the daily limit, the verified-email rule, roles, other
//! organizations' ids, and the paginated history.

use crate::common::TestApp;
use crate::workspace_support::*;

fn send_form(lead: &uuid::Uuid, template: &str) -> [(&'static str, String); 2] {
    [
        ("lead_id", lead.to_string()),
        ("template_id", template.to_string()),
    ]
}

fn pairs<'a>(f: &'a [(&'static str, String); 2]) -> [(&'static str, &'a str); 2] {
    [(f[0].0, f[0].1.as_str()), (f[1].0, f[1].1.as_str())]
}

#[actix_web::test]
async fn preview_then_send_stores_message_usage_and_mail() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let lead = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    let f = send_form(&lead, GLOBAL_INTRO);
    let r = c.post_htmx("/messages/preview", &pairs(&f)).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Quick question, Anna") && r.body.contains("Send to anna@x.example"));
    assert_eq!(
        app.count("SELECT count(*) FROM messages"),
        0,
        "a preview sends nothing"
    );
    let r = c.post("/messages/preview", &pairs(&f)).await;
    assert!(r.body.contains("<html") && r.body.contains("Quick question, Anna"));
    let r = c.post_htmx("/messages", &pairs(&f)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("hx-trigger"), Some("usage-changed"));
    assert!(r.body.contains("queued"));
    let r = c.post("/messages", &pairs(&f)).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some(format!("/leads/{lead}").as_str()));
    assert_eq!(app.count("SELECT count(*) FROM messages WHERE status = 'queued' AND subject = 'Quick question, Anna' AND body LIKE '%Acme%Owen%'"), 2);
    assert_eq!(app.count("SELECT count(*) FROM usage_records r JOIN messages m ON m.id = r.resource_id WHERE r.kind = 'message_sent'"), 2);
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox o JOIN messages m ON m.id = o.message_id WHERE o.kind = 'message' AND o.to_email = 'anna@x.example' AND o.status = 'pending'"), 2);
    let page = c.get(&format!("/leads/{lead}")).await;
    assert!(page.body.contains("Quick question, Anna") && page.body.contains("Queued"));
    let list = c.get("/messages").await;
    assert!(list.body.contains("Quick question, Anna") && list.body.contains("Owen"));
    let id = crate::common::uuid_of(&mut app.conn(), "SELECT id FROM messages LIMIT 1");
    let one = c.get(&format!("/messages/{id}")).await;
    assert_eq!(one.status, 200);
    assert!(one.body.contains("I work with teams like Acme"));
}

#[actix_web::test]
async fn the_daily_limit_refuses_a_manual_send_with_a_clear_message() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    override_limit(&app, OWNER_SLUG, "messages_per_day", 1);
    let lead = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    let f = send_form(&lead, GLOBAL_INTRO);
    assert_eq!(c.post_htmx("/messages", &pairs(&f)).await.status, 200);
    let r = c.post_htmx("/messages", &pairs(&f)).await;
    assert_eq!(r.status, 402);
    assert!(
        r.body.contains("Messages today") && r.body.contains("href=\"/plans\""),
        "{}",
        r.body
    );
    let r = c.post("/messages", &pairs(&f)).await;
    assert_eq!(r.status, 402);
    assert!(r.body.contains("href=\"/plans\""));
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'message_sent'"),
        1
    );
}

#[actix_web::test]
async fn an_unconfirmed_address_cannot_send() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    exec(&app, "UPDATE users SET email_verified_at = NULL");
    let lead = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    let f = send_form(&lead, GLOBAL_INTRO);
    let r = c.post("/messages", &pairs(&f)).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("confirm your email"));
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);
    let lead_s = lead.to_string();
    let r = c
        .post(
            "/sequences/enrol",
            &[("sequence_id", GLOBAL_SEQUENCE), ("lead_id", &lead_s)],
        )
        .await;
    assert_eq!(r.status, 403, "enrolling sends mail too");
    assert_eq!(app.count("SELECT count(*) FROM sequence_enrollments"), 0);
}

#[actix_web::test]
async fn roles_and_flags_decide_who_sends() {
    let app = TestApp::new().await;
    let _o = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    let lead = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    let f = send_form(&lead, GLOBAL_INTRO);
    for (who, c, allowed) in role_matrix(&app, 1).await {
        assert_eq!(c.get("/messages").await.status, 200, "{who} reads");
        let page = c.get(&format!("/leads/{lead}")).await;
        assert_eq!(
            page.body.contains("Send a message"),
            allowed,
            "{who} sees the send form"
        );
        let r = c.post("/messages/preview", &pairs(&f)).await;
        assert_eq!(r.status, if allowed { 200 } else { 403 }, "{who} previews");
        let before = app.count("SELECT count(*) FROM messages");
        let r = c.post("/messages", &pairs(&f)).await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} sends");
        assert_eq!(
            app.count("SELECT count(*) FROM messages"),
            before + i64::from(allowed)
        );
    }
}

#[actix_web::test]
async fn another_organizations_lead_template_or_message_is_not_found() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    app.signup("Bob", "bob@example.com").await;
    let mine = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    let their_lead = insert_lead(&app, "bob-s-organization", "Zed", "zed@x.example");
    let their_template = insert_template(&app, "bob-s-organization", "Secret").to_string();
    for f in [
        send_form(&their_lead, GLOBAL_INTRO),
        send_form(&mine, &their_template),
    ] {
        assert_eq!(c.post("/messages/preview", &pairs(&f)).await.status, 404);
        assert_eq!(c.post("/messages", &pairs(&f)).await.status, 404);
    }
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);
    // Bob's message is invisible to Owen.
    let bob = app.login("bob@example.com").await;
    app.verify_email("bob@example.com");
    let f = send_form(&their_lead, GLOBAL_INTRO);
    assert_eq!(bob.post("/messages", &pairs(&f)).await.status, 303);
    let theirs = crate::common::uuid_of(&mut app.conn(), "SELECT id FROM messages");
    assert_eq!(c.get(&format!("/messages/{theirs}")).await.status, 404);
    assert!(!c.get("/messages").await.body.contains("zed@x.example"));
}

#[actix_web::test]
async fn the_history_is_newest_first_in_keyset_pages() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let lead = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    let org = org_id(&app, OWNER_SLUG);
    exec(
        &app,
        &format!(
            "INSERT INTO messages (organization_id, id, lead_id, to_email, subject, body, status, created_at) \
             SELECT '{org}', gen_random_uuid(), '{lead}', 'anna@x.example', 'Msg ' || i, 'b', \
                    CASE WHEN i % 2 = 0 THEN 'sent' ELSE 'failed' END, now() - i * interval '1 minute' \
             FROM generate_series(1, 75) AS i"
        ),
    );
    let first = c.get("/messages").await;
    let subjects = regex::Regex::new(r">Msg (\d+)<").unwrap();
    let page1: Vec<u32> = subjects
        .captures_iter(&first.body)
        .map(|m| m[1].parse().unwrap())
        .collect();
    assert_eq!(page1, (1..=50).collect::<Vec<_>>());
    let next = regex::Regex::new(r#"href="(/messages\?after=[^"]+)" rel="next""#).unwrap();
    let href = next.captures(&first.body).expect("next link")[1].to_string();
    let second = c.get(&href).await;
    let page2: Vec<u32> = subjects
        .captures_iter(&second.body)
        .map(|m| m[1].parse().unwrap())
        .collect();
    assert_eq!(page2, (51..=75).collect::<Vec<_>>());
    assert!(!next.is_match(&second.body));
    assert!(second.body.contains("Failed") && second.body.contains("Sent"));
}
