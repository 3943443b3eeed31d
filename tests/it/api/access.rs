//! Every API endpoint × every kind of caller: no key, a malformed key, a
//! revoked key, a session cookie instead of a key, a read key, a read-write
//! key, another organization's key, and a key of an organization whose plan
//! has no API access. Errors are problem documents; nothing leaks.

use serde_json::json;

use super::support::*;
use crate::common::{self, TestApp};

const OTHER_OWNER: &str = "otto@example.com";

/// A row of organization `org` of the kind `route` serves, made directly;
/// returns its id.
fn add_row(app: &TestApp, org: uuid::Uuid, route: &str, n: usize) -> String {
    let sql = if route.starts_with("/api/v1/sequences") {
        // With one step: leads can only be enrolled in a sequence that has one.
        format!(
            "WITH s AS (INSERT INTO sequences (organization_id, owner_key, id, name) \
                 VALUES ('{org}', '{org}', gen_random_uuid(), 'Seq {n}') RETURNING id), \
             t AS (INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) \
                 VALUES ('{org}', '{org}', gen_random_uuid(), 'Step {n}', 'S', 'B') RETURNING id), \
             st AS (INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, \
                 template_owner_key, template_id, delay_days) \
                 SELECT '{org}', '{org}', gen_random_uuid(), s.id, 1, '{org}', t.id, 0 FROM s, t) \
             SELECT id FROM s"
        )
    } else if route.starts_with("/api/v1/templates") {
        format!(
            "INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) \
             VALUES ('{org}', '{org}', gen_random_uuid(), 'Tpl {n}', 'S', 'B') RETURNING id"
        )
    } else if route.starts_with("/api/v1/messages") {
        let lead = add_row(app, org, "/api/v1/leads", n);
        format!(
            "INSERT INTO messages (organization_id, id, lead_id, to_email, subject, body) \
             VALUES ('{org}', gen_random_uuid(), '{lead}', 'lena{n}@a.example', 'S', 'B') RETURNING id"
        )
    } else {
        format!(
            "INSERT INTO leads (organization_id, id, first_name, email) \
             VALUES ('{org}', gen_random_uuid(), 'Lena', 'lena{n}@a.example') RETURNING id"
        )
    };
    common::uuid_of(&mut app.conn(), &sql).to_string()
}

/// A body for `method` on `route` that a read-write key of `org` may send;
/// rows it names are made in `org`.
fn body_for(
    app: &TestApp,
    org: uuid::Uuid,
    method: &str,
    route: &str,
    n: usize,
) -> Option<serde_json::Value> {
    let templates = route.starts_with("/api/v1/templates");
    if route.ends_with("/enrollments") {
        return Some(json!({ "lead_ids": [add_row(app, org, "/api/v1/leads", n + 10_000)] }));
    }
    if method == "POST" && route == "/api/v1/messages" {
        let lead = add_row(app, org, "/api/v1/leads", n + 10_000);
        let template = add_row(app, org, "/api/v1/templates", n + 10_000);
        return Some(json!({ "lead_id": lead, "template_id": template }));
    }
    match (method, templates) {
        ("POST", false) => {
            Some(json!({ "first_name": "New", "email": format!("new{n}@a.example") }))
        }
        ("POST", true) => Some(
            json!({ "name": format!("New {n}"), "subject": "Hi", "body": "Hello {{first_name}}" }),
        ),
        ("PATCH", false) => Some(json!({ "company": "Changed Co" })),
        ("PATCH", true) => Some(json!({ "name": "Changed Co" })),
        _ => None,
    }
}

/// Whether the call names rows of the key's organization (in the path or
/// the body), so another organization's key finds nothing.
fn names_rows(method: &str, route: &str) -> bool {
    route.contains("{id}") || (method == "POST" && route == "/api/v1/messages")
}

fn success(method: &str, route: &str) -> u16 {
    match method {
        "POST" if route.ends_with("/enrollments") => 200,
        "POST" => 201,
        "DELETE" => 204,
        _ => 200,
    }
}

#[actix_web::test]
async fn every_endpoint_answers_every_kind_of_caller_as_its_scope_allows() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let read = create_key(&t.owner, "Reader", "read").await;
    let write = create_key(&t.owner, "Writer", "read_write").await;
    let revoked = create_key(&t.owner, "Gone", "read_write").await;
    let gone_id = text(app, "SELECT id FROM api_keys WHERE name = 'Gone'");
    t.owner
        .post(&format!("/settings/api-keys/{gone_id}/revoke"), &[])
        .await;
    let otto = app.signup("Otto", OTHER_OWNER).await;
    // Confirmed, so his key may send: what it meets is the 404 of A's ids.
    app.verify_email(OTHER_OWNER);
    set_plan(app, OTHER, "PROFESSIONAL");
    otto.get("/settings/api-keys").await;
    let foreign = create_key(&otto, "Otto's", "read_write").await;
    let cookies: String = t
        .owner
        .cookies
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");

    let mut n = 0;
    for &(method, route) in lead_dashboard::api::ROUTES {
        let mut next = || {
            n += 1;
            let path = route.replace("{id}", &add_row(app, t.org, route, n));
            (path, n)
        };
        let ctx = |who: &str| format!("{who} {method} {route}");

        for (who, key) in [
            ("no key", None),
            ("malformed key", Some("ld_nope")),
            ("revoked key", Some(revoked.as_str())),
        ] {
            let (path, n) = next();
            let r = call(
                app,
                method,
                &path,
                key,
                body_for(app, t.org, method, route, n),
            )
            .await;
            r.assert_problem(401, &ctx(who));
            assert!(r
                .header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")));
        }

        let (path, n) = next();
        let body = body_for(app, t.org, method, route, n)
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        let r = raw(
            app,
            method,
            &path,
            &[("Cookie", &cookies), ("Content-Type", "application/json")],
            body,
        )
        .await;
        r.assert_problem(401, &ctx("session cookie"));

        let (path, n) = next();
        let r = call(
            app,
            method,
            &path,
            Some(&read),
            body_for(app, t.org, method, route, n),
        )
        .await;
        if method == "GET" {
            assert_eq!(r.status, 200, "{}: {}", ctx("read key"), r.json);
        } else {
            r.assert_problem(403, &ctx("read key"));
            assert!(r.json["detail"].as_str().unwrap().contains("read-only"));
        }

        let (path, n) = next();
        let r = call(
            app,
            method,
            &path,
            Some(&write),
            body_for(app, t.org, method, route, n),
        )
        .await;
        assert_eq!(
            r.status,
            success(method, route),
            "{}: {}",
            ctx("read-write key"),
            r.json
        );

        let (path, n) = next();
        let r = call(
            app,
            method,
            &path,
            Some(&foreign),
            body_for(app, t.org, method, route, n),
        )
        .await;
        if names_rows(method, route) {
            r.assert_problem(404, &ctx("another organization's key"));
        } else {
            assert_eq!(
                r.status,
                success(method, route),
                "{}",
                ctx("another organization's key")
            );
            assert!(!r.json.to_string().contains("@a.example\"") || method == "POST");
            assert!(!r.json.to_string().contains("Olivia"));
        }
    }

    // After a downgrade the same keys are refused, saying why.
    set_plan(app, OTHER, "STARTER");
    for &(method, route) in lead_dashboard::api::ROUTES {
        n += 1;
        let path = route.replace("{id}", &add_row(app, t.org, route, n));
        let r = call(
            app,
            method,
            &path,
            Some(&foreign),
            body_for(app, t.org, method, route, n),
        )
        .await;
        r.assert_problem(403, &format!("no API access {method} {route}"));
        assert!(r.json["detail"]
            .as_str()
            .unwrap()
            .contains("not included in the Starter plan"));
    }
    let unchanged = app.count(&format!(
        "SELECT count(*) FROM leads WHERE organization_id = '{}' AND company = 'Changed Co'",
        t.org
    ));
    assert_eq!(
        unchanged, 1,
        "only the read-write key's PATCH changed a lead of A"
    );
    let renamed = app.count(&format!(
        "SELECT count(*) FROM message_templates WHERE organization_id = '{}' AND name = 'Changed Co'",
        t.org
    ));
    assert_eq!(
        renamed, 1,
        "only the read-write key's PATCH changed a template of A"
    );
}

#[actix_web::test]
async fn unknown_api_paths_are_problem_documents_not_pages() {
    let t = team_app("PROFESSIONAL").await;
    let key = create_key(&t.owner, "Any", "read").await;
    for (method, path) in [
        ("GET", "/api/v1/nothing"),
        ("POST", "/api/v1/organization"),
        ("GET", "/api/v1/leads/not-a-uuid"),
    ] {
        let r = call(&t.app, method, path, Some(&key), None).await;
        assert!(
            r.status == 404 || r.status == 405,
            "{method} {path}: {}",
            r.status
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{method} {path}"
        );
    }
}
