//! `Idempotency-Key` on POST: concurrent retries make one lead and all get
//! its response; the same key with another body is a 409; a key is kept per
//! organization for 24 hours; refused work is not remembered.

use futures_util::future::join_all;
use serde_json::json;

use super::support::*;

async fn post_with_key(
    app: &crate::common::TestApp,
    key: &str,
    idem: &str,
    body: &serde_json::Value,
) -> Reply {
    let auth = format!("Bearer {key}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", idem),
    ];
    raw(
        app,
        "POST",
        "/api/v1/leads",
        &headers,
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

#[actix_web::test]
async fn fifty_concurrent_retries_with_one_key_make_one_lead() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "Retry", "read_write").await;
    let body = json!({ "first_name": "Once", "email": "once@x.example" });
    let replies = join_all((0..50).map(|_| post_with_key(app, &key, "order-42", &body))).await;
    assert!(
        replies.iter().all(|r| r.status == 201),
        "every retry gets the first response"
    );
    let ids: Vec<_> = replies.iter().map(|r| r.json["id"].clone()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]));
    let replayed = replies
        .iter()
        .filter(|r| r.header("idempotent-replayed") == Some("true"))
        .count();
    assert_eq!(replayed, 49);
    assert_eq!(app.count("SELECT count(*) FROM leads"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'lead_created'"),
        1
    );

    let other = json!({ "first_name": "Twice", "email": "twice@x.example" });
    post_with_key(app, &key, "order-42", &other)
        .await
        .assert_problem(409, "same key, other body");
    assert_eq!(app.count("SELECT count(*) FROM leads"), 1);

    // After 24 hours the key is free again.
    exec(
        app,
        "UPDATE api_idempotency_keys SET created_at = created_at - interval '25 hours'",
    );
    let r = post_with_key(app, &key, "order-42", &other).await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (201, None));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 2);
}

#[actix_web::test]
async fn refused_work_is_not_remembered_and_bad_keys_are_refused() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "Retry", "read_write").await;
    exec(app, &format!(
        "INSERT INTO leads (organization_id, id, first_name, email) VALUES ('{}', gen_random_uuid(), 'Dup', 'dup@x.example')",
        t.org
    ));
    let dup = json!({ "first_name": "Dup", "email": "dup@x.example" });
    post_with_key(app, &key, "k-1", &dup)
        .await
        .assert_problem(422, "duplicate");
    assert_eq!(app.count("SELECT count(*) FROM api_idempotency_keys"), 0);
    exec(app, "DELETE FROM leads");
    let r = post_with_key(app, &key, "k-1", &dup).await;
    assert_eq!(r.status, 201, "the corrected retry is done: {}", r.json);

    let long = "k".repeat(256);
    for bad in [long.as_str(), "has space", "ünïcode"] {
        let body = json!({ "first_name": "B", "email": "b@x.example" });
        let auth = format!("Bearer {key}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", bad),
        ];
        let r = raw(
            app,
            "POST",
            "/api/v1/leads",
            &headers,
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
        r.assert_problem(400, bad);
    }
    assert_eq!(app.count("SELECT count(*) FROM leads"), 1);
}

#[actix_web::test]
async fn keys_are_kept_per_organization() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let mine = create_key(&t.owner, "Mine", "read_write").await;
    let otto = app.signup("Otto", "otto@example.com").await;
    set_plan(app, OTHER, "PROFESSIONAL");
    otto.get("/settings/api-keys").await;
    let theirs = create_key(&otto, "Theirs", "read_write").await;
    let a = json!({ "first_name": "A", "email": "a@x.example" });
    let b = json!({ "first_name": "B", "email": "b@x.example" });
    assert_eq!(post_with_key(app, &mine, "shared", &a).await.status, 201);
    let r = post_with_key(app, &theirs, "shared", &b).await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (201, None));
    assert_eq!(r.json["email"], "b@x.example");
    assert_eq!(app.count("SELECT count(*) FROM leads"), 2);
}
