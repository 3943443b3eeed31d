//! Messages and enrolments over the API: sending renders, stores, counts and
//! queues like the page; the history pages with a cursor and filters by
//! lead; a key sends in its creator's name, re-checked at every send; the
//! daily limit holds under concurrent calls; enrolling leads.

use futures_util::future::join_all;
use serde_json::json;

use super::support::*;
use crate::common::TestApp;

const TEMPLATE: &str = "33333333-3333-7333-8333-333333333333";
const SEQUENCE: &str = "44444444-4444-7444-8444-444444444444";

/// An own template that greets the lead by first name, signed by the sender.
fn add_template(app: &TestApp, org: uuid::Uuid) {
    exec(
        app,
        &format!(
            "INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body)
             VALUES ('{org}', '{org}', '{TEMPLATE}', 'Hello', 'Hi {{{{first_name}}}}',
                     'Dear {{{{first_name}}}}, regards {{{{sender_name}}}}')"
        ),
    );
}

/// A lead of `org` made directly; returns its id.
fn add_lead(app: &TestApp, org: uuid::Uuid, name: &str) -> String {
    crate::common::uuid_of(
        &mut app.conn(),
        &format!(
            "INSERT INTO leads (organization_id, id, first_name, email) \
             VALUES ('{org}', gen_random_uuid(), '{name}', '{}@l.example') RETURNING id",
            name.to_lowercase()
        ),
    )
    .to_string()
}

/// A PROFESSIONAL organization with the greeting template, a read-write
/// key of its owner and the lead Anna: (team, key, Anna's id).
async fn mailer() -> (Team, String, String) {
    let t = team_app("PROFESSIONAL").await;
    add_template(&t.app, t.org);
    let key = create_key(&t.owner, "Mailer", "read_write").await;
    let anna = add_lead(&t.app, t.org, "Anna");
    (t, key, anna)
}

fn send_body(lead: &str) -> serde_json::Value {
    json!({ "lead_id": lead, "template_id": TEMPLATE })
}

#[actix_web::test]
async fn a_message_is_rendered_counted_queued_listed_and_read() {
    let (t, key, anna) = mailer().await;
    let app = &t.app;
    let ben = add_lead(app, t.org, "Ben");

    let r = call(
        app,
        "POST",
        "/api/v1/messages",
        Some(&key),
        Some(send_body(&anna)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/messages/{id}").as_str())
    );
    assert_eq!(r.json["subject"], "Hi Anna");
    assert_eq!(r.json["body"], "Dear Anna, regards Olivia");
    assert_eq!(r.json["status"], "queued");
    assert_eq!(r.json["sender_name"], "Olivia");
    assert_eq!(r.json["lead_id"], anna.as_str());
    let olivia = user_id(app, "olivia@example.com").to_string();
    assert_eq!(r.json["sender_user_id"], olivia.as_str());
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'message_sent'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE message_id IS NOT NULL"),
        1,
        "queued for delivery like the page's send"
    );
    for _ in 0..2 {
        let r = call(
            app,
            "POST",
            "/api/v1/messages",
            Some(&key),
            Some(send_body(&ben)),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.json);
    }

    let got = call(
        app,
        "GET",
        &format!("/api/v1/messages/{id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        (got.json["id"].as_str(), got.json["lead_name"].as_str()),
        (Some(id.as_str()), Some("Anna"))
    );

    let anna_only = call(
        app,
        "GET",
        &format!("/api/v1/messages?lead_id={anna}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(anna_only.status, 200);
    assert_eq!(anna_only.json["data"].as_array().unwrap().len(), 1);

    let first = call(app, "GET", "/api/v1/messages?limit=2", Some(&key), None).await;
    assert_eq!(first.json["data"].as_array().unwrap().len(), 2);
    let next = first.json["next"]
        .as_str()
        .expect("a next link")
        .to_string();
    let second = call(app, "GET", &next, Some(&key), None).await;
    assert_eq!(second.status, 200, "{}", second.json);
    assert_eq!(second.json["data"].as_array().unwrap().len(), 1);
    assert!(second.json["next"].is_null());
    let mut seen: Vec<String> = first.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.json["data"].as_array().unwrap())
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "every message once across the pages");
}

#[actix_web::test]
async fn bad_sends_are_problem_documents_and_send_nothing() {
    let (t, key, anna) = mailer().await;
    let app = &t.app;
    let otto = app.signup("Otto", "otto@example.com").await;
    otto.get("/team").await;
    let foreign_lead = add_lead(app, org_id(app, OTHER), "Fritz");
    let cases = [
        (json!({ "lead_id": "nope", "template_id": TEMPLATE }), 400),
        (
            json!({ "lead_id": anna, "template_id": TEMPLATE, "cc": "x" }),
            400,
        ),
        (json!({ "lead_id": anna }), 400),
        (send_body(&foreign_lead), 404),
        (
            json!({ "lead_id": anna, "template_id": uuid::Uuid::now_v7() }),
            404,
        ),
    ];
    for (body, status) in cases {
        let r = call(
            app,
            "POST",
            "/api/v1/messages",
            Some(&key),
            Some(body.clone()),
        )
        .await;
        r.assert_problem(status, &body.to_string());
    }
    for query in [
        "limit=0",
        "limit=100000",
        "cursor=-1",
        "lead_id=nope",
        "colour=red",
    ] {
        let r = call(
            app,
            "GET",
            &format!("/api/v1/messages?{query}"),
            Some(&key),
            None,
        )
        .await;
        r.assert_problem(400, query);
    }
    call(
        app,
        "GET",
        &format!("/api/v1/messages?lead_id={foreign_lead}"),
        Some(&key),
        None,
    )
    .await
    .assert_problem(404, "another organization's lead");
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'message'"),
        0
    );
}

#[actix_web::test]
async fn a_key_sends_as_its_creator_only_while_they_may_send() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    add_template(app, t.org);
    exec(app, &format!(
        "INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{}', '{}', '{SEQUENCE}', 'Seq')",
        t.org, t.org
    ));
    let anna = add_lead(app, t.org, "Anna");
    let oscar = join(app, ORG, "Oscar", "oscar@example.com", "OWNER").await;
    let key = create_key(&oscar, "Oscar's", "read_write").await;
    let oscar_id = user_id(app, "oscar@example.com");
    let enrol_path = format!("/api/v1/sequences/{SEQUENCE}/enrollments");
    let enrol_body = json!({ "lead_ids": [anna] });

    let r = call(
        app,
        "POST",
        "/api/v1/messages",
        Some(&key),
        Some(send_body(&anna)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["sender_name"], "Oscar", "sent in the creator's name");

    let refusals = [
        (
            format!("UPDATE users SET email_verified_at = NULL WHERE id = '{oscar_id}'"),
            "not confirmed their email",
        ),
        (
            format!(
                "UPDATE users SET email_verified_at = now() WHERE id = '{oscar_id}';
                 UPDATE organization_members SET role = 'VIEWER' WHERE user_id = '{oscar_id}'"
            ),
            "may no longer send",
        ),
        (
            format!("DELETE FROM organization_members WHERE user_id = '{oscar_id}'"),
            "has left the organization",
        ),
    ];
    for (change, why) in refusals {
        exec(app, &change);
        for (path, body) in [
            ("/api/v1/messages", send_body(&anna)),
            (enrol_path.as_str(), enrol_body.clone()),
        ] {
            let r = call(app, "POST", path, Some(&key), Some(body)).await;
            r.assert_problem(403, why);
            assert!(
                r.json["detail"].as_str().unwrap().contains(why),
                "{}",
                r.json
            );
        }
    }
    assert_eq!(
        app.count("SELECT count(*) FROM messages"),
        1,
        "only the first send"
    );
    assert_eq!(app.count("SELECT count(*) FROM sequence_enrollments"), 0);
    let read = call(app, "GET", "/api/v1/messages", Some(&key), None).await;
    assert_eq!(read.status, 200, "reading needs no sender");
}

#[actix_web::test]
async fn fifty_concurrent_sends_five_below_the_daily_limit_send_exactly_five() {
    let (t, key, anna) = mailer().await;
    let app = &t.app;
    exec(app, &format!(
        "INSERT INTO limit_overrides (organization_id, limit_kind, value) VALUES ('{}', 'messages_per_day', 5)",
        t.org
    ));
    let calls = (0..50).map(|_| {
        call(
            app,
            "POST",
            "/api/v1/messages",
            Some(&key),
            Some(send_body(&anna)),
        )
    });
    let replies = join_all(calls).await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 5);
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_problem(402, "over the daily limit");
    }
    assert_eq!(app.count("SELECT count(*) FROM messages"), 5);
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'message'"),
        5
    );
}

#[actix_web::test]
async fn concurrent_retries_with_one_idempotency_key_send_one_message() {
    let (t, key, anna) = mailer().await;
    let app = &t.app;
    let auth = format!("Bearer {key}");
    let body = serde_json::to_vec(&send_body(&anna)).unwrap();
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "send-anna-1"),
    ];
    let calls = (0..20).map(|_| raw(app, "POST", "/api/v1/messages", &headers, body.clone()));
    let replies = join_all(calls).await;
    let ids: std::collections::BTreeSet<_> = replies
        .iter()
        .map(|r| (r.status, r.json["id"].to_string()))
        .collect();
    assert_eq!(ids.len(), 1, "every retry gets the first answer: {ids:?}");
    assert_eq!(replies[0].status, 201);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
}

#[actix_web::test]
async fn leads_are_enrolled_in_the_creators_name_once_each() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    add_template(app, t.org);
    exec(app, &format!(
        "INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{org}', '{org}', '{SEQUENCE}', 'Seq');
         INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days)
             VALUES ('{org}', '{org}', gen_random_uuid(), '{SEQUENCE}', 1, '{org}', '{TEMPLATE}', 0);",
        org = t.org
    ));
    let key = create_key(&t.owner, "Enrol", "read_write").await;
    let (anna, ben) = (add_lead(app, t.org, "Anna"), add_lead(app, t.org, "Ben"));
    let path = format!("/api/v1/sequences/{SEQUENCE}/enrollments");
    let r = call(
        app,
        "POST",
        &path,
        Some(&key),
        Some(json!({ "lead_ids": [anna, anna] })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        (
            r.json["enrolled"].as_i64(),
            r.json["already_enrolled"].as_i64()
        ),
        (Some(1), Some(0))
    );
    let r = call(
        app,
        "POST",
        &path,
        Some(&key),
        Some(json!({ "lead_ids": [anna, ben] })),
    )
    .await;
    assert_eq!(
        (
            r.json["enrolled"].as_i64(),
            r.json["already_enrolled"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let olivia = user_id(app, "olivia@example.com");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sequence_enrollments WHERE enrolled_by = '{olivia}'"
        )),
        2
    );

    let otto = app.signup("Otto", "otto@example.com").await;
    otto.get("/team").await;
    let foreign_lead = add_lead(app, org_id(app, OTHER), "Fritz");
    let carl = add_lead(app, t.org, "Carl");
    let before = app.count("SELECT count(*) FROM sequence_enrollments");
    let bad = [
        (json!({ "lead_ids": [] }), 422),
        (json!({ "lead_ids": [carl, foreign_lead] }), 422),
        (json!({ "lead_ids": ["nope"] }), 400),
        (json!({ "leads": [carl] }), 400),
    ];
    for (body, status) in bad {
        let r = call(app, "POST", &path, Some(&key), Some(body.clone())).await;
        r.assert_problem(status, &body.to_string());
    }
    let many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    call(
        app,
        "POST",
        &path,
        Some(&key),
        Some(json!({ "lead_ids": many })),
    )
    .await
    .assert_problem(422, "too many ids");
    let missing = format!("/api/v1/sequences/{}/enrollments", uuid::Uuid::now_v7());
    call(
        app,
        "POST",
        &missing,
        Some(&key),
        Some(json!({ "lead_ids": [carl] })),
    )
    .await
    .assert_problem(404, "no such sequence");
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments"),
        before,
        "nothing enrolled"
    );
}

#[actix_web::test]
async fn messages_carry_their_latest_reply_and_their_bounce() {
    let (t, key, anna) = mailer().await;
    let app = &t.app;
    let ben = add_lead(app, t.org, "Ben");
    let org = t.org;
    let (mailbox, replied, bounced) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    exec(
        app,
        &format!(
            "INSERT INTO mailboxes (organization_id, id, display_name, email, smtp_host, smtp_port, smtp_security,
                 smtp_username, smtp_password, imap_host, imap_port, imap_security, imap_username, imap_password,
                 created_at, updated_at)
             VALUES ('{org}', '{mailbox}', 'Sam', 'sam@seller.example', 'smtp.seller.example', 465, 'tls', 'sam', '',
                 'imap.seller.example', 993, 'tls', 'sam', '', now(), now());
             INSERT INTO messages (organization_id, id, lead_id, to_email, subject, body, status, created_at, sent_at, mailbox_id)
                 VALUES ('{org}', '{replied}', '{anna}', 'anna@l.example', 'Hello', 'Hi', 'sent',
                         '2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z', '{mailbox}'),
                        ('{org}', '{bounced}', '{ben}', 'ben@l.example', 'Hello', 'Hi', 'bounced',
                         '2026-12-01T11:00:00Z', '2026-12-01T11:00:00Z', '{mailbox}');
             UPDATE messages SET bounced_at = '2026-12-01T11:05:00Z',
                 error = 'Bounced (5.1.1): 550 5.1.1 User unknown' WHERE id = '{bounced}';
             INSERT INTO inbound_messages (organization_id, id, mailbox_id, kind, lead_id, message_id, dedupe_key,
                 from_email, subject, body_text, received_at, created_at)
             VALUES ('{org}', gen_random_uuid(), '{mailbox}', 'reply', '{anna}', '{replied}', 'a', 'anna@l.example',
                     'Re: Hello', 'First answer', '2026-12-01T12:00:00Z', now()),
                    ('{org}', gen_random_uuid(), '{mailbox}', 'reply', '{anna}', '{replied}', 'b', 'anna@l.example',
                     'Re: Hello', 'Second answer', '2026-12-02T12:00:00Z', now()),
                    ('{org}', gen_random_uuid(), '{mailbox}', 'auto_reply', '{anna}', '{replied}', 'c', 'anna@l.example',
                     'Out of office', 'Away', '2026-12-03T12:00:00Z', now());"
        ),
    );
    let r = call(
        app,
        "GET",
        &format!("/api/v1/messages/{replied}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json["reply"]["text"], "Second answer",
        "the latest reply, not the auto-reply"
    );
    assert_eq!(r.json["reply"]["from"], "anna@l.example");
    assert_eq!(r.json["reply"]["subject"], "Re: Hello");
    assert_eq!(r.json["reply"]["received_at"], "2026-12-02T12:00:00Z");
    assert!(r.json["bounce"].is_null());

    let r = call(
        app,
        "GET",
        &format!("/api/v1/messages/{bounced}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(r.json["status"], "bounced");
    assert!(r.json["reply"].is_null());
    assert_eq!(r.json["bounce"]["bounced_at"], "2026-12-01T11:05:00Z");
    assert_eq!(r.json["bounce"]["status"], "5.1.1");
    assert_eq!(
        r.json["bounce"]["diagnostic"],
        "Bounced (5.1.1): 550 5.1.1 User unknown"
    );

    let r = call(app, "GET", "/api/v1/messages", Some(&key), None).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let data = r.json["data"].as_array().unwrap();
    let by_id = |id: uuid::Uuid| data.iter().find(|m| m["id"] == id.to_string()).unwrap();
    assert_eq!(by_id(replied)["reply"]["text"], "Second answer");
    assert_eq!(by_id(bounced)["bounce"]["status"], "5.1.1");
    let doc = super::openapi_check::served_document(app).await;
    let props = &doc["components"]["schemas"]["MessageOut"]["properties"];
    assert!(
        props["reply"].is_object() && props["bounce"].is_object(),
        "{props}"
    );
}
