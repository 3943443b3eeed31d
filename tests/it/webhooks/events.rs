//! Events are written with the change that causes them, from every source
//! (pages, the API, a CSV import, the sequence worker), once per subscribed
//! endpoint; a rolled-back change writes none; organizations without
//! custom integrations write none.

use diesel::prelude::*;
use lead_dashboard::db::{leads, DbError, Tenant};
use lead_dashboard::domain::leads::{LeadFields, LeadSource, LeadStatus};
use lead_dashboard::ids::{OrgId, UserId};

use super::support::*;
use crate::common::{self, Client, TestApp};

const BOUNDARY: &str = "----ld-hook-boundary";

/// Imports `csv` through the upload and confirm pages.
async fn import(c: &Client, csv: &str) {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(csv.as_bytes());
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let path = format!("/leads/import?csrf_token={}", c.csrf_token());
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let preview = c.post_body(&path, &ct, body, &[]).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let re = regex::Regex::new(r"/leads/import/([0-9a-f-]{36})").unwrap();
    let id = re.captures(&preview.body).expect("the import form")[1].to_string();
    let r = c.post(&format!("/leads/import/{id}"), &[]).await;
    assert!(r.status == 303 || r.status == 200, "{}", r.body);
}

/// An API key made on the keys page.
async fn api_key(c: &Client) -> String {
    let r = c
        .post(
            "/settings/api-keys",
            &[("name", "Hooks"), ("scope", "read_write")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let re = regex::Regex::new(r"ld_[a-z0-9]{8}_[A-Za-z0-9_-]{43}").unwrap();
    re.find(&r.body).expect("the key").as_str().to_string()
}

async fn api_lead(app: &TestApp, key: &str, email: &str) {
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .finish();
    let res = client
        .post(app.url("/api/v1/leads"))
        .insert_header(("Authorization", format!("Bearer {key}")))
        .send_json(&serde_json::json!({ "first_name": "Api", "email": email }))
        .await
        .expect("API call");
    assert_eq!(res.status().as_u16(), 201);
}

#[actix_web::test]
async fn lead_events_come_from_the_page_the_api_and_a_csv_import() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Ok);
    let (_, secret) = add_endpoint(&h.owner, &rx.url(), &[]).await;
    page_lead(&h.owner, "Paula", "paula@example.com").await;
    let key = api_key(&h.owner).await;
    api_lead(&h.app, &key, "api@example.com").await;
    import(
        &h.owner,
        "first_name,email\nCsv1,csv1@example.com\nCsv2,csv2@example.com\nCsv3,csv3@example.com\n",
    )
    .await;
    let rows = event_rows(&h.app);
    let created: Vec<&str> = rows
        .iter()
        .filter(|(t, _)| t == "lead.created")
        .map(|(_, e)| e.as_str())
        .collect();
    assert_eq!(
        created,
        [
            "paula@example.com",
            "api@example.com",
            "csv1@example.com",
            "csv2@example.com",
            "csv3@example.com"
        ],
        "one event per lead, from every source: {rows:?}"
    );
    assert!(deliver(&h.app).await >= 5);
    let got = rx.received();
    assert_eq!(got.len(), rows.len());
    for r in &got {
        assert!(verifies(&secret, r), "signature of {}", r.body);
        let body = r.json();
        assert_eq!(body["organization_id"], h.org.to_string());
        assert_eq!(body["id"], r.header("webhook-id"));
    }
    let first = got[0].json();
    assert_eq!(first["type"], "lead.created");
    assert_eq!(first["data"]["email"], "paula@example.com");
    assert_eq!(first["data"]["first_name"], "Paula");
    assert!(first["data"]["id"].is_string() && first["data"]["created_at"].is_string());
}

#[actix_web::test]
async fn changing_and_deleting_a_lead_emit_their_events() {
    let h = hooks_app("PROFESSIONAL", true).await;
    let rx = Receiver::start(Mode::Ok);
    add_endpoint(
        &h.owner,
        &rx.url(),
        &["lead.updated", "lead.status_changed", "lead.deleted"],
    )
    .await;
    page_lead(&h.owner, "Lea", "lea@example.com").await;
    assert!(
        event_rows(&h.app).is_empty(),
        "lead.created is not subscribed"
    );
    let id = text(&h.app, "SELECT id FROM leads");
    let r = h
        .owner
        .post(
            &format!("/leads/{id}"),
            &[
                ("first_name", "Lea"),
                ("last_name", "Test"),
                ("email", "lea@example.com"),
                ("status", "contacted"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = h.owner.post(&format!("/leads/{id}/delete"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let types: Vec<String> = event_rows(&h.app).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        types,
        ["lead.updated", "lead.status_changed", "lead.deleted"]
    );
    let changed = text(
        &h.app,
        "SELECT data::text FROM webhook_events WHERE event_type = 'lead.status_changed'",
    );
    let changed: serde_json::Value = serde_json::from_str(&changed).unwrap();
    assert_eq!(changed["previous_status"], "new");
    assert_eq!(changed["lead"]["status"], "contacted");
}

#[actix_web::test]
async fn the_sequence_worker_emits_enrolment_events() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Ok);
    add_endpoint(
        &h.owner,
        &rx.url(),
        &["enrollment.created", "enrollment.completed"],
    )
    .await;
    page_lead(&h.owner, "Seq", "seq@example.com").await;
    let (org, lead) = (h.org, text(&h.app, "SELECT id FROM leads"));
    let (tpl, seq) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    exec(
        &h.app,
        &format!(
            "INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) VALUES ('{org}', '{org}', '{tpl}', 'T', 'Hello', 'Hi');
             INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{org}', '{org}', '{seq}', 'S');
             INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days)
                 VALUES ('{org}', '{org}', gen_random_uuid(), '{seq}', 1, '{org}', '{tpl}', 0);"
        ),
    );
    let r = h
        .owner
        .post(
            "/sequences/enrol",
            &[
                ("sequence_id", seq.to_string().as_str()),
                ("lead_id", lead.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let ran = lead_dashboard::jobs::sequences::run_due(
        &mut h.app.conn(),
        &lead_dashboard::db::SystemAccess::grant_at_startup(),
        h.app.now() + chrono::Duration::minutes(1),
    )
    .unwrap();
    assert!(ran >= 1);
    let types: Vec<String> = event_rows(&h.app).into_iter().map(|(t, _)| t).collect();
    assert_eq!(types, ["enrollment.created", "enrollment.completed"]);
    assert_eq!(
        text(
            &h.app,
            "SELECT data->>'status' FROM webhook_events WHERE event_type = 'enrollment.completed'"
        ),
        "completed"
    );
}

/// Creates a lead in a transaction that `commit` decides the fate of.
fn create_in_tx(app: &TestApp, org: uuid::Uuid, user: uuid::Uuid, email: &str, commit: bool) {
    let mut conn = app.conn();
    let now = app.now();
    let fields = LeadFields {
        first_name: "Tx".into(),
        last_name: String::new(),
        email: email.into(),
        company: String::new(),
        title: String::new(),
        phone: String::new(),
        status: LeadStatus::New,
        tags: Vec::new(),
        notes: String::new(),
        time_zone: String::new(),
    };
    let result: Result<(), DbError> = conn.transaction(|c| {
        let tenant = Tenant::for_member(c, OrgId(org), UserId(user))?;
        leads::create(c, &tenant, &fields, LeadSource::Page, now)?.expect("a valid lead");
        if commit {
            Ok(())
        } else {
            Err(DbError::from(diesel::result::Error::RollbackTransaction))
        }
    });
    assert_eq!(result.is_ok(), commit);
}

#[actix_web::test]
async fn a_rolled_back_change_writes_no_event_and_a_committed_one_exactly_one() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Ok);
    add_endpoint(&h.owner, &rx.url(), &[]).await;
    let user = common::uuid_of(
        &mut h.app.conn(),
        "SELECT id FROM users WHERE email = 'olivia@example.com'",
    );
    create_in_tx(&h.app, h.org, user, "gone@example.com", false);
    assert_eq!(h.app.count("SELECT count(*) FROM leads"), 0);
    assert_eq!(
        h.app.count("SELECT count(*) FROM webhook_events"),
        0,
        "rolled back: no event"
    );
    create_in_tx(&h.app, h.org, user, "kept@example.com", true);
    assert_eq!(
        event_rows(&h.app),
        [("lead.created".to_string(), "kept@example.com".to_string())],
        "committed: exactly one event"
    );
}

#[actix_web::test]
async fn without_custom_integrations_nothing_is_written_and_the_endpoint_says_why() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Ok);
    let (id, _) = add_endpoint(&h.owner, &rx.url(), &[]).await;
    set_plan(&h.app, ORG, "STARTER");
    page_lead(&h.owner, "Free", "free@example.com").await;
    assert_eq!(h.app.count("SELECT count(*) FROM webhook_events"), 0);
    let page = h.owner.get(&format!("/settings/webhooks/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Your plan has no custom integrations."),
        "{}",
        page.body
    );
    assert!(page.body.contains("href=\"/plans\""));
    let r = h
        .owner
        .post(&format!("/settings/webhooks/{id}/test"), &[])
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(h.app.count("SELECT count(*) FROM webhook_events"), 0);
    let before = h.app.count("SELECT count(*) FROM webhook_endpoints");
    let r = h
        .owner
        .post(
            "/settings/webhooks",
            &[("url", "https://hooks.example.com/"), ("all_events", "on")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Professional and Enterprise"));
    assert_eq!(
        h.app.count("SELECT count(*) FROM webhook_endpoints"),
        before
    );
}

#[actix_web::test]
async fn removing_a_member_using_up_a_limit_and_changing_the_plan_emit_their_events() {
    let h = hooks_app("PROFESSIONAL", true).await;
    let rx = Receiver::start(Mode::Ok);
    let types = [
        "member.removed",
        "usage.limit_reached",
        "subscription.updated",
    ];
    add_endpoint(&h.owner, &rx.url(), &types).await;
    let mia = crate::team::support::add_plain_member(&h.app, ORG, "mia@example.com", "MEMBER");
    let r = h
        .owner
        .post(&format!("/team/members/{mia}/remove"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    crate::workspace_support::override_limit(&h.app, ORG, "leads_per_month", 1);
    page_lead(&h.owner, "Last", "last@example.com").await;
    let r = h
        .owner
        .post(
            "/plans/change",
            &[("plan", "ENTERPRISE"), ("interval", "monthly")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let emitted: Vec<String> = event_rows(&h.app).into_iter().map(|(t, _)| t).collect();
    assert_eq!(emitted, types);
    assert_eq!(
        text(
            &h.app,
            "SELECT data->>'plan' FROM webhook_events WHERE event_type = 'subscription.updated'"
        ),
        "ENTERPRISE"
    );
    assert_eq!(
        text(
            &h.app,
            "SELECT data->>'email' FROM webhook_events WHERE event_type = 'member.removed'"
        ),
        "mia@example.com"
    );
    assert_eq!(
        text(&h.app, "SELECT concat_ws('|', data->>'limit', data->>'used', data->>'value') FROM webhook_events WHERE event_type = 'usage.limit_reached'"),
        "leads_per_month|1|1"
    );
    assert_eq!(deliver(&h.app).await, 3);
    assert_eq!(rx.received().len(), 3);
}

#[actix_web::test]
async fn the_mail_worker_emits_message_sent() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Ok);
    add_endpoint(&h.owner, &rx.url(), &["message.sent", "message.failed"]).await;
    page_lead(&h.owner, "Anna", "anna@x.example").await;
    let lead = text(&h.app, "SELECT id FROM leads");
    let r = h
        .owner
        .post(
            "/messages",
            &[
                ("lead_id", lead.as_str()),
                ("template_id", crate::workspace_support::GLOBAL_INTRO),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(event_rows(&h.app).is_empty(), "queued is not sent yet");
    let sink = crate::workspace_mail::SmtpSink::start(false);
    let config = crate::workspace_mail::config_for(&h.app, &sink.url());
    let access = lead_dashboard::db::SystemAccess::grant_at_startup();
    lead_dashboard::jobs::mail::deliver_due(&mut h.app.conn(), &access, &config, h.app.now())
        .unwrap();
    assert_eq!(
        event_rows(&h.app),
        [("message.sent".to_string(), String::new())]
    );
    assert_eq!(
        text(
            &h.app,
            "SELECT concat_ws('|', data->>'to_email', data->>'status') FROM webhook_events"
        ),
        "anna@x.example|sent"
    );
}

#[actix_web::test]
async fn accepting_an_invitation_emits_member_joined() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Ok);
    add_endpoint(&h.owner, &rx.url(), &["member.joined"]).await;
    let r = h
        .owner
        .post(
            "/team/invitations",
            &[("email", "ivy@example.com"), ("role", "ADMIN")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let token = crate::team::support::mailed_token(&h.app, "ivy@example.com");
    let ivy = h.app.signup("Ivy", "ivy@example.com").await;
    h.app.verify_email("ivy@example.com");
    let r = ivy.post(&format!("/invitations/{token}"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        text(&h.app, "SELECT concat_ws('|', event_type, data->>'email', data->>'role', data->>'name') FROM webhook_events"),
        "member.joined|ivy@example.com|ADMIN|Ivy"
    );
}
