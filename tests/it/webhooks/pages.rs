//! The pages: bad input refused with a clear message and nothing saved,
//! changes and deletions audited, OWNER and ADMIN only, other
//! organizations' endpoints not found.

use super::support::*;
use crate::common::TestApp;

fn endpoints_fingerprint(app: &TestApp) -> String {
    text(
        app,
        "SELECT md5(coalesce((SELECT string_agg(e::text, ',' ORDER BY e.id) FROM webhook_endpoints e), ''))",
    )
}

#[actix_web::test]
async fn bad_input_gets_a_clear_message_and_saves_nothing() {
    let h = hooks_app("ENTERPRISE", false).await;
    let long = "d".repeat(10_000);
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("url", "not a url"), ("all_events", "on")],
            "Enter a full URL",
        ),
        (
            &[
                ("url", "https://user:pw@hooks.example.com/"),
                ("all_events", "on"),
            ],
            "must not contain a user name or password",
        ),
        (
            &[("url", "http://hooks.example.com/"), ("all_events", "on")],
            "must start with https://",
        ),
        (
            &[
                ("url", "https://hooks.example.com/"),
                ("events", "lead.exploded"),
            ],
            "Unknown event type: lead.exploded",
        ),
        (
            &[
                ("url", "https://hooks.example.com/"),
                ("description", &long),
                ("all_events", "on"),
            ],
            "at most 500 characters",
        ),
        (
            &[("url", "https://hooks.example.com/")],
            "Choose the event types",
        ),
    ];
    let before = endpoints_fingerprint(&h.app);
    for (form, message) in cases {
        let r = h.owner.post("/settings/webhooks", form).await;
        assert_eq!(r.status, 422, "{form:?}");
        assert!(r.body.contains(message), "{form:?}: wanted {message:?}");
        assert!(shown_secret(&r.body).is_none());
    }
    assert_eq!(endpoints_fingerprint(&h.app), before, "nothing saved");
    assert_eq!(
        h.app
            .count("SELECT count(*) FROM audit_events WHERE action LIKE 'webhook.%'"),
        0
    );

    let (id, _) = add_endpoint(&h.owner, "https://hooks.example.com/in", &["lead.created"]).await;
    let before = endpoints_fingerprint(&h.app);
    let r = h
        .owner
        .post(
            &format!("/settings/webhooks/{id}"),
            &[("url", "ftp://x.example/"), ("all_events", "on")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("must start with https://"));
    assert_eq!(endpoints_fingerprint(&h.app), before);
}

#[actix_web::test]
async fn changes_and_deletions_are_saved_and_audited() {
    let h = hooks_app("ENTERPRISE", false).await;
    let (id, _) = add_endpoint(&h.owner, "https://hooks.example.com/in", &["lead.created"]).await;
    let r = h
        .owner
        .post(
            &format!("/settings/webhooks/{id}"),
            &[
                ("url", "https://hooks.example.com/v2"),
                ("description", "CRM"),
                ("events", "lead.deleted"),
                ("events", "member.joined"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        text(&h.app, "SELECT concat_ws('|', url, description, array_to_string(event_types, ','), enabled::text) FROM webhook_endpoints"),
        "https://hooks.example.com/v2|CRM|lead.deleted,member.joined|false"
    );
    let page = h.owner.get(&format!("/settings/webhooks/{id}")).await;
    assert!(page.body.contains("https://hooks.example.com/v2") && page.body.contains("Disabled"));
    let r = h
        .owner
        .post(&format!("/settings/webhooks/{id}/delete"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(h.app.count("SELECT count(*) FROM webhook_endpoints"), 0);
    assert_eq!(
        text(&h.app, "SELECT string_agg(action, ',' ORDER BY created_at, id) FROM audit_events WHERE action LIKE 'webhook.%'"),
        "webhook.created,webhook.updated,webhook.deleted"
    );
    assert_eq!(
        h.owner
            .get(&format!("/settings/webhooks/{id}"))
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn owners_and_admins_manage_endpoints_and_other_roles_are_refused() {
    let h = hooks_app("ENTERPRISE", false).await;
    let (id, _) = add_endpoint(&h.owner, "https://hooks.example.com/in", &[]).await;
    let admin = join(&h.app, ORG, "Adam", "adam@example.com", "ADMIN").await;
    let member = join(&h.app, ORG, "Mia", "mia@example.com", "MEMBER").await;
    let viewer = join(&h.app, ORG, "Vic", "vic@example.com", "VIEWER").await;
    let base = format!("/settings/webhooks/{id}");
    assert_eq!(admin.get("/settings/webhooks").await.status, 200);
    assert_eq!(admin.get(&base).await.status, 200);
    let before = endpoints_fingerprint(&h.app);
    for (who, c) in [("MEMBER", &member), ("VIEWER", &viewer)] {
        assert_eq!(c.get("/settings/webhooks").await.status, 403, "{who}");
        assert_eq!(c.get(&base).await.status, 403, "{who}");
        let form = [("url", "https://evil.example/"), ("all_events", "on")];
        assert_eq!(
            c.post("/settings/webhooks", &form).await.status,
            403,
            "{who} adds"
        );
        assert_eq!(c.post(&base, &form).await.status, 403, "{who} changes");
        for action in ["rotate", "test", "delete", "redeliver"] {
            let r = c
                .post(
                    &format!("{base}/{action}"),
                    &[("since", "2026-12-01T00:00")],
                )
                .await;
            assert_eq!(r.status, 403, "{who} {action}");
        }
    }
    assert_eq!(endpoints_fingerprint(&h.app), before, "nothing changed");
    assert_eq!(h.app.count("SELECT count(*) FROM webhook_events"), 0);
    let r = admin.post(&format!("{base}/rotate"), &[]).await;
    assert_eq!(r.status, 200, "admins rotate");
    assert!(shown_secret(&r.body).is_some());
}

#[actix_web::test]
async fn another_organizations_endpoint_and_events_are_not_found() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Status500);
    let (id, _) = add_endpoint(&h.owner, &rx.url(), &[]).await;
    page_lead(&h.owner, "Mine", "mine@example.com").await;
    deliver(&h.app).await;
    let event = text(&h.app, "SELECT id FROM webhook_events");
    let other = h.app.signup("Otto", "otto@example.com").await;
    h.app.verify_email("otto@example.com");
    set_plan(&h.app, "otto-s-organization", "ENTERPRISE");
    let (own, _) = add_endpoint(&other, "https://hooks.example.com/otto", &[]).await;
    let before = endpoints_fingerprint(&h.app);
    let base = format!("/settings/webhooks/{id}");
    assert_eq!(other.get(&base).await.status, 404);
    assert_eq!(other.get(&format!("{base}?failed=1")).await.status, 404);
    let form = [("url", "https://evil.example/"), ("all_events", "on")];
    assert_eq!(other.post(&base, &form).await.status, 404);
    for action in ["rotate", "test", "delete"] {
        assert_eq!(
            other.post(&format!("{base}/{action}"), &[]).await.status,
            404,
            "{action}"
        );
    }
    let r = other
        .post(&format!("{base}/redeliver"), &[("event", event.as_str())])
        .await;
    assert_eq!(r.status, 404);
    let r = other
        .post(
            &format!("/settings/webhooks/{own}/redeliver"),
            &[("event", event.as_str())],
        )
        .await;
    assert_eq!(
        r.status, 404,
        "an event of another organization through one's own endpoint"
    );
    let r = other
        .post(
            &format!("{base}/redeliver"),
            &[("since", "2026-12-01T00:00")],
        )
        .await;
    assert_eq!(r.status, 404);
    let list = other.get("/settings/webhooks").await;
    assert!(!list.body.contains(&rx.url()));
    assert_eq!(endpoints_fingerprint(&h.app), before);
    assert_eq!(text(&h.app, "SELECT status FROM webhook_events"), "pending");
}
