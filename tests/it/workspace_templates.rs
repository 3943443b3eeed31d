//! Templates: placeholder checks at save time, the templates limit (own
//! only), global templates read-only with copy, the live preview (lead data
//! escaped), roles and other organizations' ids.

use crate::common::TestApp;
use crate::workspace_support::*;

fn form<'a>(name: &'a str, subject: &'a str, body: &'a str) -> [(&'a str, &'a str); 3] {
    [("name", name), ("subject", subject), ("body", body)]
}

#[actix_web::test]
async fn save_checks_placeholders_and_both_paths_work() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let r = c
        .post(
            "/templates",
            &form("Intro", "Hi {{first_name}}", "Dear {{nickname}}"),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Unknown placeholder {{nickname}}"),
        "{}",
        r.body
    );
    let r = c
        .post_htmx("/templates", &form("Intro", "Hi {{first_name", "Body"))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("not closed") && r.body.contains("id=\"template-form\""));
    assert!(!r.body.contains("<html"), "HTMX gets the form only");
    assert_eq!(
        app.count("SELECT count(*) FROM message_templates WHERE organization_id IS NOT NULL"),
        0
    );
    let r = c
        .post(
            "/templates",
            &form("Intro", "Hi {{first_name}}", "Hello {{ company }}"),
        )
        .await;
    assert_eq!(r.status, 303);
    let id = crate::common::uuid_of(
        &mut app.conn(),
        "SELECT id FROM message_templates WHERE name = 'Intro'",
    );
    assert_eq!(r.location(), Some(format!("/templates/{id}").as_str()));
    let r = c
        .post_htmx(
            &format!("/templates/{id}"),
            &form("Intro 2", "Hi", "Body {{title}}"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("hx-redirect"),
        Some(format!("/templates/{id}").as_str())
    );
    assert_eq!(app.count("SELECT count(*) FROM message_templates WHERE name = 'Intro 2' AND body = 'Body {{title}}'"), 1);
    let page = c.get(&format!("/templates/{id}")).await;
    assert!(page.body.contains("Intro 2") && page.body.contains("Delete this template"));
}

#[actix_web::test]
async fn the_templates_limit_counts_own_templates_only() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    // FREE allows 3 own templates; the 3 global ones are free.
    for i in 0..3 {
        let name = format!("T{i}");
        assert_eq!(
            c.post("/templates", &form(&name, "S", "B")).await.status,
            303
        );
    }
    let r = c.post_htmx("/templates", &form("T3", "S", "B")).await;
    assert_eq!(r.status, 402);
    assert!(r.body.contains("href=\"/plans\""));
    let r = c
        .post(&format!("/templates/{GLOBAL_INTRO}/copy"), &[])
        .await;
    assert_eq!(r.status, 402, "a copy is a new own template too");
    assert_eq!(
        app.count("SELECT count(*) FROM message_templates WHERE organization_id IS NOT NULL"),
        3
    );
    let list = c.get("/templates").await;
    assert!(list.body.contains("3 of 3 own templates"));
    assert!(list.body.contains("Introduction") && list.body.contains("Global"));
}

#[actix_web::test]
async fn global_templates_are_read_only_and_can_be_copied() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let page = c.get(&format!("/templates/{GLOBAL_INTRO}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Copy to my organization") && !page.body.contains("Save template"));
    let r = c
        .post(
            &format!("/templates/{GLOBAL_INTRO}"),
            &form("Mine now", "S", "B"),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = c
        .post(&format!("/templates/{GLOBAL_INTRO}/delete"), &[])
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(app.count(&format!("SELECT count(*) FROM message_templates WHERE id = '{GLOBAL_INTRO}' AND name = 'Introduction'")), 1);
    let r = c
        .post(&format!("/templates/{GLOBAL_INTRO}/copy"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(app.count("SELECT count(*) FROM message_templates WHERE organization_id IS NOT NULL AND name = 'Introduction (copy)'"), 1);
}

#[actix_web::test]
async fn live_preview_renders_for_a_lead_and_escapes_its_fields() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let lead = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    exec(
        &app,
        &format!("UPDATE leads SET company = '<b onmouseover=x>Evil</b>' WHERE id = '{lead}'"),
    );
    let lead_s = lead.to_string();
    let fields = [
        ("subject", "Hi {{first_name}}"),
        ("body", "At {{company}} — {{sender_name}}, {{organization}}"),
        ("lead_id", lead_s.as_str()),
    ];
    let r = c.post_htmx("/templates/preview", &fields).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Hi Anna"));
    assert!(
        r.body.contains("&lt;b onmouseover=x&gt;Evil&lt;/b&gt;"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<b onmouseover"));
    assert!(
        r.body.contains("Owen") && r.body.contains("Owen&#39;s Organization")
            || r.body.contains("Owen's Organization")
    );
    let r = c
        .post_htmx(
            "/templates/preview",
            &[("subject", "x"), ("body", "{{nope}}"), ("lead_id", &lead_s)],
        )
        .await;
    assert!(r.body.contains("Unknown placeholder {{nope}}"));
    // Without JavaScript the Preview button re-renders the editor with the preview.
    let r = c
        .post(
            "/templates/preview",
            &[
                ("name", "N"),
                ("subject", "Hi {{first_name}}"),
                ("body", "B"),
                ("lead_id", &lead_s),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<html") && r.body.contains("Hi Anna"));
    // The editor asks for a debounced live preview.
    let page = c.get("/templates/new").await;
    assert!(page.body.contains("keyup changed delay:400ms"));
    // A lead of another organization cannot be previewed.
    app.signup("Bob", "bob@example.com").await;
    let theirs = insert_lead(&app, "bob-s-organization", "Zed", "zed@x.example").to_string();
    let r = c
        .post_htmx(
            "/templates/preview",
            &[("subject", "x"), ("body", "y"), ("lead_id", &theirs)],
        )
        .await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn roles_and_flags_decide_who_changes_templates() {
    let app = TestApp::new().await;
    let _o = owner(&app).await;
    let id = insert_template(&app, OWNER_SLUG, "Shared");
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    for (i, (who, c, allowed)) in role_matrix(&app, 2).await.into_iter().enumerate() {
        assert_eq!(c.get("/templates").await.status, 200, "{who} reads");
        assert_eq!(
            c.get(&format!("/templates/{id}")).await.status,
            200,
            "{who} reads one"
        );
        assert_eq!(
            c.get("/templates/new").await.status,
            if allowed { 200 } else { 403 }
        );
        let name = format!("By {who}");
        let before = app.count("SELECT count(*) FROM message_templates");
        let r = c.post("/templates", &form(&name, "S", "B")).await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} creates");
        assert_eq!(
            app.count("SELECT count(*) FROM message_templates"),
            before + i64::from(allowed)
        );
        let renamed = format!("Shared {i}");
        let r = c
            .post(&format!("/templates/{id}"), &form(&renamed, "S", "B"))
            .await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} edits");
        let r = c
            .post(&format!("/templates/{GLOBAL_INTRO}/copy"), &[])
            .await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} copies");
        let victim = insert_template(&app, OWNER_SLUG, &format!("Victim {i}"));
        let r = c.post(&format!("/templates/{victim}/delete"), &[]).await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} deletes");
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM message_templates WHERE id = '{victim}'"
            )),
            i64::from(!allowed)
        );
    }
}

#[actix_web::test]
async fn another_organizations_template_is_not_found_and_unchanged() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    app.signup("Bob", "bob@example.com").await;
    let theirs = insert_template(&app, "bob-s-organization", "Bob secret");
    assert_eq!(c.get(&format!("/templates/{theirs}")).await.status, 404);
    assert!(!c.get("/templates").await.body.contains("Bob secret"));
    assert_eq!(
        c.post(&format!("/templates/{theirs}"), &form("X", "S", "B"))
            .await
            .status,
        404
    );
    assert_eq!(
        c.post(&format!("/templates/{theirs}"), &form("", "", ""))
            .await
            .status,
        404
    );
    assert_eq!(
        c.post(&format!("/templates/{theirs}/delete"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        c.post(&format!("/templates/{theirs}/copy"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        app.count("SELECT count(*) FROM message_templates WHERE name = 'Bob secret'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM message_templates WHERE organization_id IS NOT NULL"),
        1
    );
}

#[actix_web::test]
async fn a_template_used_by_a_sequence_step_is_not_deleted() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let t = insert_template(&app, OWNER_SLUG, "Used");
    assert_eq!(c.post("/sequences", &[("name", "Flow")]).await.status, 303);
    let seq = crate::common::uuid_of(
        &mut app.conn(),
        "SELECT id FROM sequences WHERE name = 'Flow'",
    );
    let r = c
        .post(
            &format!("/sequences/{seq}/steps"),
            &[("template_id", &t.to_string()), ("delay_days", "0")],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = c.post(&format!("/templates/{t}/delete"), &[]).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("used by a sequence step"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM message_templates WHERE id = '{t}'"
        )),
        1
    );
}

#[actix_web::test]
async fn concurrent_creations_never_pass_the_templates_limit() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let clients: Vec<_> = (0..8).map(|_| c.clone_session()).collect();
    let names: Vec<String> = (0..8).map(|i| format!("Race {i}")).collect();
    let results = futures_util::future::join_all(
        clients
            .iter()
            .zip(&names)
            .map(|(cl, n)| async move { cl.post("/templates", &form(n, "S", "B")).await }),
    )
    .await;
    assert_eq!(results.iter().filter(|r| r.status == 303).count(), 3);
    assert!(results.iter().all(|r| r.status == 303 || r.status == 402));
    assert_eq!(
        app.count("SELECT count(*) FROM message_templates WHERE organization_id IS NOT NULL"),
        3
    );
}
