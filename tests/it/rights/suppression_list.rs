//! The suppression list page: add (bad input refused, duplicates refused),
//! remove with a reason, audit without the address, roles, and another
//! organization's entries answering 404.

use super::*;

fn entry_id(app: &TestApp) -> String {
    crate::common::uuid_of(
        &mut app.conn(),
        "SELECT id FROM suppressions ORDER BY created_at DESC LIMIT 1",
    )
    .to_string()
}

#[actix_web::test]
async fn owners_add_and_remove_addresses_with_a_reason_and_it_is_audited() {
    let app = TestApp::new().await;
    let (c, lead) = enrolled_and_mailed(&app).await;
    let page = c.get("/settings/suppression").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No suppressed addresses."));
    assert!(c
        .get("/settings")
        .await
        .body
        .contains("/settings/suppression"));

    for (email, note, expected) in [
        ("not-an-address", "", "valid email address"),
        ("", "", "valid email address"),
        ("anna@x.example", "<b>bold</b>", "cannot contain"),
    ] {
        let r = c
            .post("/settings/suppression", &[("email", email), ("note", note)])
            .await;
        assert_eq!(r.status, 422, "{email}");
        assert!(r.body.contains(expected), "{email}: {}", r.body);
    }
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 0);

    let r = c
        .post(
            "/settings/suppression",
            &[("email", " Anna@X.example "), ("note", "asked by phone")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.count("SELECT count(*) FROM suppressions WHERE reason = 'added'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'stopped'"),
        1,
        "the lead with that address stops its sequence"
    );
    let page = c.get("/settings/suppression").await;
    assert!(page.body.contains("a•••@x.example"), "{}", page.body);
    assert!(page.body.contains("asked by phone"));
    let r = send_intro(&c, lead).await;
    assert_eq!(r.status, 409);

    let r = c
        .post(
            "/settings/suppression",
            &[("email", "anna@x.example"), ("note", "")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("already on the suppression list"));

    let id = entry_id(&app);
    let remove = format!("/settings/suppression/{id}/delete");
    let r = c.post(&remove, &[("why", "  ")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Reason"), "{}", r.body);
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 1);
    let r = c
        .post_htmx(&remove, &[("why", "consented again in writing")])
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("may be mailed again"), "{}", r.body);
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action IN ('suppression.added', 'suppression.removed')"),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events x WHERE x::text LIKE '%anna@%'"),
        0,
        "the audit log keeps the masked address only"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'suppression.removed' AND after->>'why' = 'consented again in writing'"),
        1
    );
    let r = send_intro(&c, lead).await;
    assert_eq!(r.status, 303, "mailable again");
}

#[actix_web::test]
async fn only_owners_and_admins_manage_the_list_and_foreign_entries_are_not_found() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let r = c
        .post(
            "/settings/suppression",
            &[("email", "x@x.example"), ("note", "")],
        )
        .await;
    assert_eq!(r.status, 303);
    let id = entry_id(&app);
    let remove = format!("/settings/suppression/{id}/delete");
    for (who, client, _) in role_matrix(&app, 0).await {
        let expected = if who == "admin" { 200 } else { 403 };
        assert_eq!(
            client.get("/settings/suppression").await.status,
            expected,
            "{who}"
        );
        let r = client
            .post(
                "/settings/suppression",
                &[("email", "y@x.example"), ("note", "")],
            )
            .await;
        assert_eq!(r.status, if who == "admin" { 303 } else { 403 }, "{who}");
        if who != "admin" {
            let r = client.post(&remove, &[("why", "no")]).await;
            assert_eq!(r.status, 403, "{who}");
        }
    }
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 2);

    // Another organization's owner: the entry is not found.
    let bea = app.signup("Bea", "bea@example.com").await;
    let r = bea.post(&remove, &[("why", "mine now")]).await;
    assert_eq!(r.status, 404);
    let r = bea.post(&remove, &[("why", "")]).await;
    assert_eq!(r.status, 404);
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 2);
    assert!(!bea
        .get("/settings/suppression")
        .await
        .body
        .contains("x•••@x.example"));
}
