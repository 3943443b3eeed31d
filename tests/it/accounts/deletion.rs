//! Account deletion: last-owner rule, sole-member organizations, audit, races.

use futures_util::future::join_all;

use super::*;
use crate::common::{self, TestApp, PASSWORD};

// ── account deletion ─────────────────────────────────────────────────────

fn org_id(app: &TestApp, slug: &str) -> uuid::Uuid {
    common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM organizations WHERE slug = '{slug}'"),
    )
}

/// Gives an organization some data: leads, a template, a sequence with a step, a message.
fn add_data(app: &TestApp, slug: &str) {
    let org = org_id(app, slug);
    diesel::connection::SimpleConnection::batch_execute(
        &mut app.conn(),
        &format!(
            "INSERT INTO leads (organization_id, id, first_name, email) VALUES \
               ('{org}', gen_random_uuid(), 'Lena', 'lena.{slug}@example.com'), \
               ('{org}', gen_random_uuid(), 'Max', 'max.{slug}@example.com'); \
             INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) \
               VALUES ('{org}', '{org}', gen_random_uuid(), 'Hi', 'Hi', 'Hello'); \
             INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{org}', '{org}', gen_random_uuid(), 'Seq'); \
             INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days) \
               SELECT '{org}', '{org}', gen_random_uuid(), s.id, 1, t.owner_key, t.id, 0 \
               FROM sequences s, message_templates t WHERE s.organization_id = '{org}' AND t.organization_id = '{org}'; \
             INSERT INTO messages (organization_id, id, lead_id, template_owner_key, template_id, to_email, subject, body) \
               SELECT '{org}', gen_random_uuid(), l.id, t.owner_key, t.id, l.email, 'Hi', 'Hello' \
               FROM leads l, message_templates t WHERE l.organization_id = '{org}' AND t.organization_id = '{org}' LIMIT 1"
        ),
    )
    .unwrap();
}

fn org_rows(app: &TestApp, org: uuid::Uuid) -> i64 {
    app.count(&format!(
        "(SELECT count(*) FROM leads WHERE organization_id = '{org}') + \
         (SELECT count(*) FROM message_templates WHERE organization_id = '{org}') + \
         (SELECT count(*) FROM sequences WHERE organization_id = '{org}') + \
         (SELECT count(*) FROM sequence_steps WHERE organization_id = '{org}') + \
         (SELECT count(*) FROM messages WHERE organization_id = '{org}') + \
         (SELECT count(*) FROM organization_members WHERE organization_id = '{org}') + \
         (SELECT count(*) FROM subscriptions WHERE organization_id = '{org}') + \
         (SELECT count(*) FROM organizations WHERE id = '{org}')"
    ))
}

#[actix_web::test]
async fn the_last_owner_of_a_team_cannot_delete_their_account() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    app.signup("Bob", "bob@example.com").await;
    app.add_member("ann-s-organization", "bob@example.com", "MEMBER");
    let page = ann.get("/account").await;
    assert!(page.body.contains("You are the last owner of"));
    let totals = "(SELECT count(*) FROM users) + (SELECT count(*) FROM organizations) + (SELECT count(*) FROM organization_members) + (SELECT count(*) FROM audit_events)";
    let before = app.count(totals);
    let r = ann.post("/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("not deleted"));
    assert!(r.body.contains("Ann&#39;s Organization") || r.body.contains("Ann's Organization"));
    assert!(r.body.contains("href=\"/team\""), "says what to do");
    let r = ann
        .post_htmx("/account/delete", &[("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("delete-card") && !r.body.contains("<html"));
    assert_eq!(app.count(totals), before, "nothing changed");
    assert!(signed_in(&ann).await);
    // Wrong or missing password: nothing either.
    assert_eq!(
        ann.post("/account/delete", &[("password", "wrong")])
            .await
            .status,
        422
    );
    assert_eq!(
        ann.post("/account/delete", &[("password", "")])
            .await
            .status,
        422
    );
    assert_eq!(app.count(totals), before);
}

#[actix_web::test]
async fn deleting_an_account_removes_sole_member_orgs_and_leaves_the_others() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    app.signup("Bob", "bob@example.com").await;
    app.signup("Cleo", "cleo@example.com").await;
    add_data(&app, "ann-s-organization");
    add_data(&app, "bob-s-organization");
    add_data(&app, "cleo-s-organization");
    app.add_member("bob-s-organization", "ann@example.com", "ADMIN");
    let (ann_org, bob_org, cleo_org) = (
        org_id(&app, "ann-s-organization"),
        org_id(&app, "bob-s-organization"),
        org_id(&app, "cleo-s-organization"),
    );
    let bob_before = org_rows(&app, bob_org);
    let cleo_before = org_rows(&app, cleo_org);
    // Ann's leads in Bob's organization stay, without an owner.
    exec(&app, &format!("UPDATE leads SET owner_user_id = (SELECT id FROM users WHERE email = 'ann@example.com') WHERE organization_id = '{bob_org}'"));
    let page = ann.get("/account").await;
    assert!(page.body.contains("Deleted with all their data") && page.body.contains("You leave"));
    let cookie = ann.cookie("ld_session").unwrap();
    let r = ann.post("/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!((r.status, r.location()), (303, Some("/account/deleted")));
    assert!(ann
        .get("/account/deleted")
        .await
        .body
        .contains("Your account is deleted"));
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'ann@example.com'"),
        0
    );
    assert_eq!(
        org_rows(&app, ann_org),
        0,
        "sole-member organization and its rows are gone"
    );
    assert_eq!(
        org_rows(&app, bob_org),
        bob_before - 1,
        "only Ann's membership left Bob's"
    );
    assert_eq!(
        org_rows(&app, cleo_org),
        cleo_before,
        "an unrelated organization is untouched"
    );
    assert_eq!(app.count(&format!("SELECT count(*) FROM leads WHERE organization_id = '{bob_org}' AND owner_user_id IS NULL")), 2);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_events WHERE organization_id = '{bob_org}' AND action = 'member.account_deleted' \
             AND target = 'ann@example.com' AND actor_user_id IS NULL AND actor_label LIKE 'Ann <ann@example.com>' \
             AND before->>'role' = 'ADMIN'"
        )),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM audit_events"), 1);
    assert_eq!(app.count("SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)"), 0);
    assert!(!signed_in(&with_cookie(&app, &cookie)).await);
    assert_eq!(
        sign_in(&app, "ann@example.com", PASSWORD).await.1.status,
        422
    );
}

#[actix_web::test]
async fn an_owner_with_a_co_owner_may_delete_and_htmx_redirects() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    app.signup("Bob", "bob@example.com").await;
    app.add_member("ann-s-organization", "bob@example.com", "OWNER");
    let org = org_id(&app, "ann-s-organization");
    ann.get("/account").await;
    let r = ann
        .post_htmx("/account/delete", &[("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("hx-redirect"), Some("/account/deleted"));
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM organization_members WHERE organization_id = '{org}' AND role = 'OWNER'")),
        1
    );
}

#[actix_web::test]
async fn two_owners_deleting_at_once_leave_one_owner() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    let bob = app.signup("Bob", "bob@example.com").await;
    app.signup("Cleo", "cleo@example.com").await;
    app.add_member("ann-s-organization", "bob@example.com", "OWNER");
    app.add_member("ann-s-organization", "cleo@example.com", "MEMBER");
    let org = org_id(&app, "ann-s-organization");
    ann.get("/account").await;
    bob.get("/account").await;
    let results =
        join_all([&ann, &bob].map(|c| c.post("/account/delete", &[("password", PASSWORD)]))).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        vec![303, 409],
        "exactly one deletion goes through"
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM organization_members WHERE organization_id = '{org}' AND role = 'OWNER'")),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM organization_members WHERE organization_id = '{org}'"
        )),
        2
    );
}

// ── access ───────────────────────────────────────────────────────────────

#[actix_web::test]
async fn account_pages_need_a_session_and_public_pages_do_not() {
    let app = TestApp::new().await;
    let anon = app.client();
    for path in ["/account", "/account/sessions"] {
        let r = anon.get(path).await;
        assert_eq!((r.status, r.location()), (303, Some("/login")), "{path}");
    }
    anon.get("/password/forgot").await;
    for path in [
        "/account",
        "/account/password",
        "/account/delete",
        "/account/sessions/end-others",
    ] {
        let r = anon.post(path, &[]).await;
        assert_eq!((r.status, r.location()), (303, Some("/login")), "{path}");
    }
    assert_eq!(anon.get("/password/forgot").await.status, 200);
    assert_eq!(anon.get("/account/deleted").await.status, 200);
    assert_eq!(
        anon.get(&format!("/account/verify/{}", "x".repeat(2000)))
            .await
            .status,
        404
    );
    // A user without any organization can still manage their account.
    let me = app.signup("Ann", "ann@example.com").await;
    exec(&app, "DELETE FROM organizations");
    let page = me.get("/account").await;
    assert_eq!(page.status, 200);
    assert_eq!(me.get("/account/sessions").await.status, 200);
    let r = me.post("/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!(r.status, 303);
    assert_eq!(app.count("SELECT count(*) FROM users"), 0);
}
