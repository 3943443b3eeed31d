//! Leads over the API: CRUD with the page's validation, cursor pagination
//! with filters, the monthly limit under concurrency (402), bad input as
//! problem documents with nothing changed, and the `api_call` meter.

use futures_util::future::join_all;
use serde_json::json;

use super::support::*;
use crate::common::TestApp;

fn leads_fingerprint(app: &TestApp) -> String {
    text(
        app,
        "SELECT md5(coalesce((SELECT string_agg(l::text, ',' ORDER BY l.id) FROM leads l), ''))",
    )
}

#[actix_web::test]
async fn leads_are_created_read_changed_and_deleted_like_on_the_pages() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "CRM", "read_write").await;
    let body = json!({ "first_name": " Anna ", "email": "Anna@Example.com", "tags": ["vip", "berlin", "vip"], "status": "contacted" });
    let r = call(app, "POST", "/api/v1/leads", Some(&key), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/leads/{id}").as_str())
    );
    assert_eq!(r.json["first_name"], "Anna");
    assert_eq!(r.json["email"], "anna@example.com");
    assert_eq!(r.json["tags"], json!(["vip", "berlin"]));
    assert_eq!(r.json["status"], "contacted");
    assert!(r.json["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'lead_created'"),
        1
    );

    let dup = call(
        app,
        "POST",
        "/api/v1/leads",
        Some(&key),
        Some(json!({ "first_name": "B", "email": "anna@example.com" })),
    )
    .await;
    dup.assert_problem(422, "duplicate email");
    assert!(dup.json["errors"]["email"]
        .as_str()
        .unwrap()
        .contains("already exists"));

    let path = format!("/api/v1/leads/{id}");
    let r = call(
        app,
        "PATCH",
        &path,
        Some(&key),
        Some(json!({ "company": "Acme" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        (r.json["company"].as_str(), r.json["first_name"].as_str()),
        (Some("Acme"), Some("Anna"))
    );
    let bad = call(
        app,
        "PATCH",
        &path,
        Some(&key),
        Some(json!({ "first_name": "", "status": "won" })),
    )
    .await;
    bad.assert_problem(422, "invalid patch");
    assert!(
        bad.json["errors"]["first_name"].is_string() && bad.json["errors"]["status"].is_string()
    );
    let r = call(app, "GET", &path, Some(&key), None).await;
    assert_eq!((r.status, r.json["company"].as_str()), (200, Some("Acme")));

    let r = call(app, "DELETE", &path, Some(&key), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'lead.deleted'"),
        1
    );
    call(app, "GET", &path, Some(&key), None)
        .await
        .assert_problem(404, "deleted");
    call(app, "DELETE", &path, Some(&key), None)
        .await
        .assert_problem(404, "deleted twice");
}

#[actix_web::test]
async fn the_list_pages_with_a_cursor_and_keeps_its_filters() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "Sync", "read").await;
    exec(
        app,
        &format!(
            "INSERT INTO leads (organization_id, id, first_name, email, status, tags, created_at)
         SELECT '{}', gen_random_uuid(), 'Lead ' || i, 'l' || i || '@x.example',
                CASE WHEN i % 2 = 0 THEN 'qualified' ELSE 'new' END,
                CASE WHEN i % 3 = 0 THEN ARRAY['three'] ELSE ARRAY[]::text[] END,
                now() - i * interval '1 minute'
         FROM generate_series(1, 130) i",
            t.org
        ),
    );
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/leads?limit=40".to_string());
    while let Some(path) = next {
        let r = call(app, "GET", &path, Some(&key), None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.json);
        for lead in r.json["data"].as_array().unwrap() {
            seen.push(lead["email"].as_str().unwrap().to_string());
        }
        next = r.json["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 130, "every lead once");
    assert_eq!(seen[0], "l1@x.example", "newest first");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 130);

    let r = call(
        app,
        "GET",
        "/api/v1/leads?status=qualified&tag=three&limit=5",
        Some(&key),
        None,
    )
    .await;
    let data = r.json["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    assert!(data
        .iter()
        .all(|l| l["status"] == "qualified" && l["tags"] == json!(["three"])));
    let next = r.json["next"].as_str().unwrap();
    assert!(next.contains("status=qualified") && next.contains("tag=three"));
    let r = call(app, "GET", next, Some(&key), None).await;
    assert_eq!(
        r.json["data"].as_array().unwrap().len(),
        5,
        "30 multiples of 6 up to 130: 21 total"
    );
    let r = call(app, "GET", "/api/v1/leads?q=lead%2012", Some(&key), None).await;
    assert!(r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["first_name"].as_str().unwrap().starts_with("Lead 12")));
}

/// (method, path, headers, body, expected status).
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>, u16);

#[actix_web::test]
async fn bad_input_is_a_problem_document_and_changes_nothing() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "Fuzz", "read_write").await;
    let auth = format!("Bearer {key}");
    let id = common_lead(app, t.org);
    let before = leads_fingerprint(app);
    let json_ct = ("Content-Type", "application/json");
    let a = ("Authorization", auth.as_str());
    let huge = vec![b'x'; 10 * 1024 * 1024];
    let long = json!({ "first_name": "x".repeat(101), "email": "a@b.example" });
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/v1/leads".into(),
            vec![a, json_ct],
            b"{not json".to_vec(),
            400,
        ),
        (
            "POST",
            "/api/v1/leads".into(),
            vec![a, ("Content-Type", "text/plain")],
            b"{}".to_vec(),
            415,
        ),
        (
            "POST",
            "/api/v1/leads".into(),
            vec![a],
            br#"{"first_name":"A","email":"a@b.example"}"#.to_vec(),
            415,
        ),
        (
            "POST",
            "/api/v1/leads".into(),
            vec![a, json_ct],
            br#"{"first_name":"A","email":"a@b.example","admin":true}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/v1/leads".into(),
            vec![a, json_ct],
            serde_json::to_vec(&long).unwrap(),
            422,
        ),
        (
            "POST",
            "/api/v1/leads".into(),
            vec![a, json_ct],
            br#"{"first_name":"A","email":"a@b.example","tags":"vip"}"#.to_vec(),
            400,
        ),
        ("POST", "/api/v1/leads".into(), vec![a, json_ct], huge, 413),
        (
            "PATCH",
            format!("/api/v1/leads/{id}"),
            vec![a, json_ct],
            br#"{"email":["x"]}"#.to_vec(),
            400,
        ),
        (
            "PATCH",
            "/api/v1/leads/not-a-uuid".into(),
            vec![a, json_ct],
            b"{}".to_vec(),
            404,
        ),
        ("DELETE", "/api/v1/leads/12345".into(), vec![a], vec![], 404),
        (
            "GET",
            "/api/v1/leads?limit=100000".into(),
            vec![a],
            vec![],
            400,
        ),
        ("GET", "/api/v1/leads?limit=0".into(), vec![a], vec![], 400),
        ("GET", "/api/v1/leads?limit=-5".into(), vec![a], vec![], 400),
        (
            "GET",
            "/api/v1/leads?limit=ten".into(),
            vec![a],
            vec![],
            400,
        ),
        (
            "GET",
            "/api/v1/leads?cursor=-1".into(),
            vec![a],
            vec![],
            400,
        ),
        (
            "GET",
            "/api/v1/leads?cursor=abc.def".into(),
            vec![a],
            vec![],
            400,
        ),
        (
            "GET",
            "/api/v1/leads?status=won".into(),
            vec![a],
            vec![],
            400,
        ),
        (
            "GET",
            "/api/v1/leads?unknown=1".into(),
            vec![a],
            vec![],
            400,
        ),
    ];
    for (method, path, headers, body, status) in cases {
        let r = raw(app, method, &path, &headers, body).await;
        r.assert_problem(status, &format!("{method} {path}"));
    }
    assert_eq!(leads_fingerprint(app), before, "nothing changed");
}

fn common_lead(app: &TestApp, org: uuid::Uuid) -> uuid::Uuid {
    crate::common::uuid_of(
        &mut app.conn(),
        &format!("INSERT INTO leads (organization_id, id, first_name, email) VALUES ('{org}', gen_random_uuid(), 'K', 'k@x.example') RETURNING id"),
    )
}

#[actix_web::test]
async fn fifty_concurrent_creates_five_below_the_limit_make_exactly_five() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "Burst", "read_write").await;
    exec(app, &format!(
        "INSERT INTO limit_overrides (organization_id, limit_kind, value) VALUES ('{}', 'leads_per_month', 5)",
        t.org
    ));
    let calls = (0..50).map(|i| {
        let body = json!({ "first_name": "Burst", "email": format!("b{i}@x.example") });
        call(app, "POST", "/api/v1/leads", Some(&key), Some(body))
    });
    let replies = join_all(calls).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 5);
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_problem(402, "over the limit");
    }
    assert_eq!(app.count("SELECT count(*) FROM leads"), 5);
}

#[actix_web::test]
async fn every_authenticated_call_is_metered_as_an_api_call() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "Meter", "read").await;
    for _ in 0..7 {
        assert_eq!(
            call(app, "GET", "/api/v1/organization", Some(&key), None)
                .await
                .status,
            200
        );
    }
    call(app, "GET", "/api/v1/leads", None, None)
        .await
        .assert_problem(401, "unauthenticated");
    let r = call(app, "GET", "/api/v1/usage", Some(&key), None).await;
    assert_eq!(r.status, 200);
    let meter = r.json["meters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "api_calls_per_day")
        .cloned()
        .unwrap();
    assert_eq!(
        meter["used"], 8,
        "seven calls and this one; the refused call is not counted"
    );
    assert_eq!(meter["period"], "day");
    let leads = r.json["meters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "leads_per_month")
        .cloned()
        .unwrap();
    assert_eq!(
        (leads["limit"].as_i64(), leads["period"].as_str()),
        (Some(5000), Some("month"))
    );
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'api_call'"),
        8
    );
    let last_used = app.count("SELECT count(*) FROM api_keys WHERE last_used_at IS NOT NULL");
    assert_eq!(last_used, 1);
    let org = call(app, "GET", "/api/v1/organization", Some(&key), None).await;
    assert_eq!(org.json["plan"], "PROFESSIONAL");
    assert_eq!(org.json["rate_limit_per_minute"], 120);
    assert!(org.json["features"]
        .as_array()
        .unwrap()
        .contains(&json!("api_access")));
    let page = t.owner.get("/usage").await;
    assert!(
        page.body
            .contains("API calls today</span><span class=\"meter-value\"><strong>9</strong>"),
        "the usage page shows the nine calls"
    );
    assert!(
        page.body
            .contains("API calls per day: 9 API calls in total"),
        "the 30-day history charts them"
    );
}

#[actix_web::test]
async fn a_leads_time_zone_is_read_set_kept_cleared_and_checked() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "CRM", "read_write").await;
    let body =
        json!({ "first_name": "Anna", "email": "anna@example.com", "time_zone": "Asia/Tokyo" });
    let r = call(app, "POST", "/api/v1/leads", Some(&key), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["time_zone"], "Asia/Tokyo");
    let path = format!("/api/v1/leads/{}", r.json["id"].as_str().unwrap());

    let bad = json!({ "first_name": "Bo", "email": "bo@example.com", "time_zone": "Mars/Olympus" });
    let r = call(app, "POST", "/api/v1/leads", Some(&key), Some(bad)).await;
    r.assert_problem(422, "unknown time zone");
    assert!(r.json["errors"]["time_zone"]
        .as_str()
        .unwrap()
        .contains("not a known time zone"));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 1);

    let before = leads_fingerprint(app);
    let r = call(
        app,
        "PATCH",
        &path,
        Some(&key),
        Some(json!({ "time_zone": "Nowhere/Town" })),
    )
    .await;
    r.assert_problem(422, "unknown zone on update");
    assert_eq!(leads_fingerprint(app), before, "nothing changed");

    let r = call(
        app,
        "PATCH",
        &path,
        Some(&key),
        Some(json!({ "title": "CTO" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["time_zone"], "Asia/Tokyo", "absent keeps it");
    let r = call(app, "GET", &path, Some(&key), None).await;
    assert_eq!(r.json["time_zone"], "Asia/Tokyo");
    let r = call(
        app,
        "PATCH",
        &path,
        Some(&key),
        Some(json!({ "time_zone": null })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json["time_zone"].is_null(), "null clears it: {}", r.json);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE time_zone IS NULL"),
        1
    );
    let r = call(
        app,
        "PATCH",
        &path,
        Some(&key),
        Some(json!({ "time_zone": "Europe/Berlin" })),
    )
    .await;
    assert_eq!(r.json["time_zone"], "Europe/Berlin");
    let r = call(
        app,
        "PATCH",
        &path,
        Some(&key),
        Some(json!({ "time_zone": "" })),
    )
    .await;
    assert!(r.json["time_zone"].is_null(), "empty clears it too");
}
