//! Templates over the API: own and global listed, global read-only, the
//! editor's validation, the templates limit (402) and a template still used
//! by a sequence step (409).

use serde_json::json;

use super::support::*;

const TEMPLATE: &str = "11111111-1111-7111-8111-111111111111";
const SEQUENCE: &str = "22222222-2222-7222-8222-222222222222";

/// An own template `name` used by step 1 (no delay) of the own sequence
/// `Onboarding`.
fn sequence_with_step(app: &crate::common::TestApp, org: uuid::Uuid, name: &str) {
    exec(app, &format!(
        "INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body)
             VALUES ('{org}', '{org}', '{TEMPLATE}', '{name}', 'S', 'B');
         INSERT INTO sequences (organization_id, owner_key, id, name)
             VALUES ('{org}', '{org}', '{SEQUENCE}', 'Onboarding');
         INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days)
             VALUES ('{org}', '{org}', gen_random_uuid(), '{SEQUENCE}', 1, '{org}', '{TEMPLATE}', 0);"
    ));
}

#[actix_web::test]
async fn own_templates_are_managed_and_global_ones_only_read() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "Tpl", "read_write").await;
    let list = call(app, "GET", "/api/v1/templates", Some(&key), None).await;
    assert_eq!(list.status, 200);
    let global = list.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["global"] == true)
        .expect("global templates are listed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/templates/{global}");
    assert_eq!(call(app, "GET", &path, Some(&key), None).await.status, 200);
    let before = text(
        app,
        "SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM message_templates t",
    );
    call(
        app,
        "PATCH",
        &path,
        Some(&key),
        Some(json!({ "name": "Mine now" })),
    )
    .await
    .assert_problem(403, "patch a global template");
    call(app, "DELETE", &path, Some(&key), None)
        .await
        .assert_problem(403, "delete a global template");
    let bad = json!({ "name": "X", "subject": "Hi {{nope}}", "body": "" });
    let r = call(app, "POST", "/api/v1/templates", Some(&key), Some(bad)).await;
    r.assert_problem(422, "invalid template");
    assert!(r.json["errors"]["subject"].is_string() && r.json["errors"]["body"].is_string());
    let after = text(
        app,
        "SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM message_templates t",
    );
    assert_eq!(before, after, "nothing changed");

    let good = json!({ "name": "Intro", "subject": "Hi {{first_name}}", "body": "Hello" });
    let r = call(app, "POST", "/api/v1/templates", Some(&key), Some(good)).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let own = format!("/api/v1/templates/{}", r.json["id"].as_str().unwrap());
    let r = call(
        app,
        "PATCH",
        &own,
        Some(&key),
        Some(json!({ "body": "Hello again" })),
    )
    .await;
    assert_eq!(
        (r.status, r.json["name"].as_str(), r.json["body"].as_str()),
        (200, Some("Intro"), Some("Hello again"))
    );
    assert_eq!(
        call(app, "DELETE", &own, Some(&key), None).await.status,
        204
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'template.deleted'"),
        1
    );
}

#[actix_web::test]
async fn the_templates_limit_and_templates_in_use_are_problems() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "Tpl", "read_write").await;
    let org = t.org;
    sequence_with_step(app, org, "Used");
    exec(app, &format!(
        "INSERT INTO limit_overrides (organization_id, limit_kind, value) VALUES ('{org}', 'templates', 1)"
    ));
    let path = &format!("/api/v1/templates/{TEMPLATE}");
    let r = call(app, "DELETE", path, Some(&key), None).await;
    r.assert_problem(409, "template in use");
    assert!(r.json["detail"].as_str().unwrap().contains("sequence"));
    let good = json!({ "name": "One more", "subject": "Hi", "body": "Hello" });
    call(app, "POST", "/api/v1/templates", Some(&key), Some(good))
        .await
        .assert_problem(402, "templates limit");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM message_templates WHERE organization_id = '{org}'"
        )),
        1
    );
}

#[actix_web::test]
async fn sequences_are_read_with_their_steps_in_order() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let key = create_key(&t.owner, "Seq", "read").await;
    let org = t.org;
    sequence_with_step(app, org, "First touch");
    exec(app, &format!(
        "INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days)
             VALUES ('{org}', '{org}', gen_random_uuid(), '{SEQUENCE}', 2, '{org}', '{TEMPLATE}', 3)"
    ));
    let r = call(app, "GET", "/api/v1/sequences", Some(&key), None).await;
    assert_eq!(r.status, 200);
    let own = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Onboarding")
        .cloned()
        .unwrap();
    assert_eq!(
        (own["step_count"].as_i64(), own["global"].as_bool()),
        (Some(2), Some(false))
    );
    let r = call(
        app,
        "GET",
        &format!("/api/v1/sequences/{SEQUENCE}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let steps = r.json["steps"].as_array().unwrap();
    assert_eq!(
        steps
            .iter()
            .map(|s| s["position"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        (
            steps[1]["delay_days"].as_i64(),
            steps[1]["template_name"].as_str()
        ),
        (Some(3), Some("First touch"))
    );
}
