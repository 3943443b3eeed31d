//! API keys on `/settings/api-keys`: shown once and stored as a SHA-256
//! hash, listed by prefix, revoked, audited; OWNER manages, ADMIN reads, the
//! others are refused; a plan without API access explains and offers plans.

use sha2::{Digest, Sha256};

use super::support::*;
use crate::common::TestApp;

fn keys_fingerprint(app: &TestApp) -> String {
    text(
        app,
        "SELECT md5(coalesce((SELECT string_agg(k::text, ',' ORDER BY k.id) FROM api_keys k), '') \
         || (SELECT count(*) FROM audit_events)::text)",
    )
}

#[actix_web::test]
async fn an_owner_creates_a_key_shown_once_and_stored_as_its_hash() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let page = t.owner.get("/settings/api-keys").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No API keys yet") && page.body.contains("Create key"));

    let key = create_key(&t.owner, "CRM sync", "read_write").await;
    let prefix = &key[3..11];
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    let stored = format!(
        "SELECT count(*) FROM api_keys WHERE organization_id = '{}' AND name = 'CRM sync' \
         AND prefix = '{prefix}' AND scope = 'read_write' AND key_hash = '\\x{hash}' \
         AND created_by = (SELECT id FROM users WHERE email = 'olivia@example.com')",
        t.org
    );
    assert_eq!(app.count(&stored), 1, "only the hash of the key is stored");
    let (action, actor, target, _, after) = last_event(app);
    assert_eq!(
        (action.as_str(), actor.as_str()),
        ("api_key.created", "olivia@example.com")
    );
    assert!(target.contains(prefix) && after.contains("read_write") && !after.contains(&key));

    let list = t.owner.get("/settings/api-keys").await;
    assert!(list.body.contains(&format!("ld_{prefix}_")) && list.body.contains("CRM sync"));
    assert!(list.body.contains("Olivia") && list.body.contains("Never"));
    assert_eq!(shown_key(&list.body), None, "never shown again");

    let htmx = t
        .owner
        .post_htmx(
            "/settings/api-keys",
            &[("name", "Reports"), ("scope", "read")],
        )
        .await;
    assert_eq!(htmx.status, 200);
    assert!(htmx.body.contains("id=\"api-keys-card\"") && !htmx.body.contains("<html"));
    let second = shown_key(&htmx.body).expect("shown in the fragment");
    assert_ne!(second, key);
}

#[actix_web::test]
async fn bad_names_and_scopes_are_field_errors_and_store_nothing() {
    let t = team_app("ENTERPRISE").await;
    let before = keys_fingerprint(&t.app);
    let long = "x".repeat(101);
    let cases = [
        ("", "read", "Name is required"),
        (long.as_str(), "read", "at most 100"),
        ("<b>key</b>", "read", "cannot contain"),
        ("Fine", "admin", "Choose read only or read and write"),
        ("Fine", "", "Choose read only or read and write"),
    ];
    for (name, scope, message) in cases {
        for htmx in [false, true] {
            let form = [("name", name), ("scope", scope)];
            let r = if htmx {
                t.owner.post_htmx("/settings/api-keys", &form).await
            } else {
                t.owner.post("/settings/api-keys", &form).await
            };
            assert_eq!(r.status, 422, "{name:?}/{scope:?}");
            assert!(r.body.contains(message), "{name:?}/{scope:?}: {}", r.body);
            assert_eq!(shown_key(&r.body), None);
        }
    }
    assert_eq!(keys_fingerprint(&t.app), before, "nothing stored");
}

#[actix_web::test]
async fn revoking_stamps_the_key_once_and_is_audited() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    create_key(&t.owner, "Old", "read").await;
    let id = text(app, "SELECT id FROM api_keys WHERE name = 'Old'");
    let path = format!("/settings/api-keys/{id}/revoke");
    let r = t.owner.post(&path, &[]).await;
    assert_eq!((r.status, r.location()), (303, Some("/settings/api-keys")));
    let revoked =
        format!("SELECT count(*) FROM api_keys WHERE id = '{id}' AND revoked_at IS NOT NULL");
    assert_eq!(app.count(&revoked), 1);
    let (action, actor, ..) = last_event(app);
    assert_eq!(
        (action.as_str(), actor.as_str()),
        ("api_key.revoked", "olivia@example.com")
    );
    let events = app.count("SELECT count(*) FROM audit_events");
    let again = t.owner.post_htmx(&path, &[]).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("Revoked") && !again.body.contains(&path));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events"),
        events,
        "a second revoke records nothing"
    );
    for bad in [
        "/settings/api-keys/not-a-uuid/revoke".to_string(),
        format!("/settings/api-keys/{}/revoke", uuid::Uuid::now_v7()),
    ] {
        assert_eq!(t.owner.post(&bad, &[]).await.status, 404, "{bad}");
    }
}

#[actix_web::test]
async fn owners_manage_admins_read_and_others_are_refused() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    create_key(&t.owner, "Owner's", "read").await;
    let id = text(app, "SELECT id FROM api_keys WHERE name = 'Owner''s'");
    let revoke = format!("/settings/api-keys/{id}/revoke");
    let admin = join(app, ORG, "Adam", "adam@example.com", "ADMIN").await;
    let member = join(app, ORG, "Mia", "mia@example.com", "MEMBER").await;
    let viewer = join(app, ORG, "Vic", "vic@example.com", "VIEWER").await;

    let page = admin.get("/settings/api-keys").await;
    assert_eq!(page.status, 200, "admins see the list");
    assert!(page.body.contains("Owner&#39;s") || page.body.contains("Owner's"));
    assert!(!page.body.contains("Create key") && !page.body.contains(&revoke));
    let before = keys_fingerprint(app);
    for (who, c) in [("ADMIN", &admin), ("MEMBER", &member), ("VIEWER", &viewer)] {
        if who != "ADMIN" {
            assert_eq!(c.get("/settings/api-keys").await.status, 403, "{who} GET");
        }
        let r = c
            .post("/settings/api-keys", &[("name", "Mine"), ("scope", "read")])
            .await;
        assert_eq!(r.status, 403, "{who} creates");
        assert_eq!(c.post(&revoke, &[]).await.status, 403, "{who} revokes");
    }
    assert_eq!(keys_fingerprint(app), before, "nothing changed");
}

#[actix_web::test]
async fn without_api_access_the_page_explains_and_nothing_is_created() {
    let t = team_app("STARTER").await;
    let page = t.owner.get("/settings/api-keys").await;
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("API access comes with the Professional and Enterprise plans"));
    assert!(page.body.contains("href=\"/plans\"") && !page.body.contains("Create key"));
    let before = keys_fingerprint(&t.app);
    let r = t
        .owner
        .post(
            "/settings/api-keys",
            &[("name", "Sneaky"), ("scope", "read")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Professional and Enterprise"));
    assert_eq!(keys_fingerprint(&t.app), before);
}
