//! Delivery: a signed test event a receiver can verify, order and recovery
//! after the receiver was down, one attempt per slot with two workers,
//! receivers that misbehave, the SSRF guard, retries, redelivery, secret
//! rotation and the endpoint that fails for three days.

use chrono::Duration;
use futures_util::future::join_all;

use super::support::*;
use crate::common::TestApp;

fn statuses(app: &TestApp) -> String {
    text(
        app,
        "SELECT coalesce(string_agg(status, ',' ORDER BY created_at, event_id), '') FROM webhook_events",
    )
}

#[actix_web::test]
async fn an_owner_adds_an_endpoint_and_a_signed_test_event_arrives() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Ok);
    let (id, secret) = add_endpoint(&h.owner, &rx.url(), &[]).await;
    assert!(secret.starts_with("whsec_"));
    let again = h.owner.get("/settings/webhooks").await;
    assert!(
        shown_secret(&again.body).is_none(),
        "the secret is shown once"
    );

    let r = h
        .owner
        .post(&format!("/settings/webhooks/{id}/test"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(deliver(&h.app).await, 1);
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let hit = &got[0];
    assert!(
        verifies(&secret, hit),
        "verifiable with the Standard Webhooks algorithm"
    );
    assert!(!verifies(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        hit
    ));
    assert_eq!(hit.header("content-type"), "application/json");
    assert_eq!(
        hit.header("webhook-timestamp"),
        h.app.now().timestamp().to_string()
    );
    let body = hit.json();
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(body["id"], hit.header("webhook-id"));
    assert_eq!(body["data"]["endpoint_id"], id.to_string());

    let log = h.owner.get(&format!("/settings/webhooks/{id}")).await;
    assert!(
        log.body.contains("Delivered") && log.body.contains("HTTP 200"),
        "{}",
        log.body
    );
    assert!(log.body.contains("received"), "the answer's body is shown");
    assert_eq!(
        text(&h.app, "SELECT string_agg(action, ',' ORDER BY created_at) FROM audit_events WHERE action LIKE 'webhook.%'"),
        "webhook.created"
    );
}

#[actix_web::test]
async fn a_receiver_that_was_down_gets_every_event_in_order_when_it_is_back() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Ok);
    let port = rx.port;
    add_endpoint(&h.owner, &rx.url(), &["lead.created"]).await;
    rx.stop();
    for i in 1..=3 {
        page_lead(&h.owner, "Down", &format!("down{i}@example.com")).await;
    }
    assert_eq!(
        deliver(&h.app).await,
        1,
        "the oldest is tried; later ones wait behind it"
    );
    assert_eq!(
        h.app
            .count("SELECT count(*) FROM webhook_deliveries WHERE NOT succeeded"),
        1
    );
    assert_eq!(statuses(&h.app), "pending,pending,pending");
    assert_eq!(
        deliver(&h.app).await,
        0,
        "nothing is due before the retry time"
    );

    let back = Receiver::start_on(port, Mode::Ok);
    h.app.clock().advance(Duration::seconds(10));
    assert_eq!(deliver(&h.app).await, 3);
    let emails: Vec<String> = back
        .received()
        .iter()
        .map(|r| r.json()["data"]["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        emails,
        [
            "down1@example.com",
            "down2@example.com",
            "down3@example.com"
        ]
    );
    assert_eq!(statuses(&h.app), "delivered,delivered,delivered");
}

#[actix_web::test]
async fn two_workers_at_once_attempt_each_delivery_once_per_slot() {
    let h = hooks_app("ENTERPRISE", true).await;
    let receivers: Vec<Receiver> = (0..4).map(|_| Receiver::start(Mode::Status500)).collect();
    for rx in &receivers {
        add_endpoint(&h.owner, &rx.url(), &[]).await;
    }
    page_lead(&h.owner, "Twice", "twice@example.com").await;
    let events = h.app.count("SELECT count(*) FROM webhook_events");
    assert_eq!(events, 4);
    let passes = join_all([deliver(&h.app), deliver(&h.app), deliver(&h.app)]).await;
    assert_eq!(passes.iter().sum::<usize>(), 4, "{passes:?}");
    let hits: usize = receivers.iter().map(|r| r.received().len()).sum();
    assert_eq!(hits, 4, "each event was sent once");
    assert_eq!(h.app.count("SELECT count(*) FROM webhook_deliveries"), 4);
    assert_eq!(h.app.count("SELECT max(attempts) FROM webhook_events"), 1);

    h.app.clock().advance(Duration::seconds(10));
    let passes = join_all([deliver(&h.app), deliver(&h.app)]).await;
    assert_eq!(
        passes.iter().sum::<usize>(),
        4,
        "the next slot: once more each"
    );
    assert_eq!(h.app.count("SELECT count(*) FROM webhook_deliveries"), 8);
}

#[actix_web::test]
async fn misbehaving_receivers_are_recorded_and_do_not_stall_the_others() {
    let h = hooks_app("ENTERPRISE", true).await;
    let modes = [
        Mode::Slow,
        Mode::Status500,
        Mode::Huge,
        Mode::Redirect,
        Mode::Reset,
        Mode::Ok,
    ];
    let receivers: Vec<Receiver> = modes.iter().map(|m| Receiver::start(*m)).collect();
    let mut ids = Vec::new();
    for rx in &receivers {
        ids.push(add_endpoint(&h.owner, &rx.url(), &["lead.created"]).await.0);
    }
    page_lead(&h.owner, "Odd", "odd@example.com").await;
    assert_eq!(
        deliver(&h.app).await,
        6,
        "every endpoint was tried in one pass"
    );
    let row = |id: &uuid::Uuid| {
        text(
            &h.app,
            &format!(
                "SELECT concat_ws('|', succeeded::text, status_code, length(response_body), error) \
                 FROM webhook_deliveries WHERE endpoint_id = '{id}'"
            ),
        )
    };
    let slow = row(&ids[0]);
    assert!(
        slow.starts_with("false|0|") && slow.to_lowercase().contains("time"),
        "{slow}"
    );
    assert_eq!(row(&ids[1]), "false|500|4|HTTP status 500");
    assert_eq!(row(&ids[2]), "true|200|2048", "a 50 MB body is cut at 2 KB");
    assert_eq!(
        row(&ids[3]),
        "false|302|0|HTTP status 302",
        "redirects are not followed"
    );
    assert!(
        row(&ids[4]).starts_with("false|0|"),
        "a reset is an error: {}",
        row(&ids[4])
    );
    assert!(
        receivers[3].received().len() == 1,
        "the redirect's target was never asked"
    );
    assert_eq!(row(&ids[5]), "true|200|8");
    assert_eq!(receivers[5].received().len(), 1);
}

#[actix_web::test]
async fn private_and_loopback_targets_are_refused_without_the_override() {
    let h = hooks_app("ENTERPRISE", false).await;
    let rx = Receiver::start(Mode::Ok);
    let port = rx.port;
    let targets = [
        format!("https://127.0.0.1:{port}/"),
        format!("https://[::1]:{port}/"),
        "https://10.0.0.1/".to_string(),
        "https://169.254.169.254/latest/meta-data".to_string(),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
        format!("https://localhost:{port}/"),
        format!("http://127.0.0.1:{port}/"),
    ];
    for url in &targets {
        let r = h
            .owner
            .post(
                "/settings/webhooks",
                &[
                    ("url", url.as_str()),
                    ("all_events", "on"),
                    ("enabled", "on"),
                ],
            )
            .await;
        // A name is resolved when saving too, as every delivery would.
        assert_eq!(r.status, 422, "{url} refused on the page");
        assert!(
            r.body.contains("private or local") || r.body.contains("https://"),
            "{url}: {}",
            r.body
        );
    }
    assert_eq!(h.app.count("SELECT count(*) FROM webhook_endpoints"), 0);
    // Saved while allowed (or by an older rule): refused when delivering.
    for url in &targets[..6] {
        exec(
            &h.app,
            &format!(
                "INSERT INTO webhook_endpoints (organization_id, id, url, secret, created_at, updated_at) \
                 VALUES ('{}', gen_random_uuid(), '{url}', 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', now(), now())",
                h.org
            ),
        );
    }
    page_lead(&h.owner, "Ssrf", "ssrf@example.com").await;
    assert_eq!(deliver(&h.app).await, 6);
    assert!(
        rx.received().is_empty(),
        "nothing reached the loopback receiver"
    );
    let errors = text(
        &h.app,
        "SELECT string_agg(e.url || ' => ' || d.error, E'\\n' ORDER BY e.url) FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id",
    );
    assert_eq!(errors.lines().count(), 6, "{errors}");
    for line in errors.lines() {
        let (_, error) = line.split_once(" => ").unwrap();
        assert!(error.contains("private or local"), "{line}");
        // The log never names the address a host resolved to.
        assert!(
            !["127.0.0.1", "::1", "10.0.0.1", "169.254"]
                .iter()
                .any(|ip| error.contains(ip)),
            "{line}"
        );
    }
    assert_eq!(
        h.app
            .count("SELECT count(*) FROM webhook_deliveries WHERE succeeded"),
        0
    );
}

#[actix_web::test]
async fn failures_are_retried_on_the_schedule_then_failed_and_can_be_redelivered() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Status500);
    let (id, secret) = add_endpoint(&h.owner, &rx.url(), &["lead.created"]).await;
    page_lead(&h.owner, "Retry", "retry@example.com").await;
    let mut waits = Vec::new();
    for _ in 0..8 {
        assert_eq!(deliver(&h.app).await, 1);
        let next = text(&h.app, "SELECT to_char(next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM webhook_events");
        let next = chrono::DateTime::parse_from_rfc3339(&next)
            .unwrap()
            .to_utc();
        waits.push((next - h.app.now()).num_milliseconds() as f64 / 1000.0);
        h.app.clock().set(next.max(h.app.now()));
    }
    let base = [5, 60, 300, 1800, 7200, 28800, 86400];
    for (w, b) in waits.iter().zip(base) {
        assert!(*w >= b as f64 * 0.89 && *w <= b as f64 * 1.11, "{waits:?}");
    }
    assert_eq!(statuses(&h.app), "failed", "after the 8th attempt");
    assert_eq!(rx.received().len(), 8);
    assert!(rx.received().iter().all(|r| verifies(&secret, r)));
    let ids: std::collections::BTreeSet<String> = rx
        .received()
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect();
    assert_eq!(ids.len(), 1, "a stable webhook-id across retries");

    rx.set_mode(Mode::Ok);
    // A day and a half later the session has expired: sign in again.
    let owner = h.app.login("olivia@example.com").await;
    let failed_log = owner
        .get(&format!("/settings/webhooks/{id}?failed=1"))
        .await;
    assert!(failed_log.body.contains("HTTP 500") && !failed_log.body.contains("HTTP 200"));
    let event = text(&h.app, "SELECT id FROM webhook_events");
    let r = owner
        .post(
            &format!("/settings/webhooks/{id}/redeliver"),
            &[("event", event.as_str())],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(deliver(&h.app).await, 1);
    assert_eq!(statuses(&h.app), "delivered");

    // All failed since a time: one more failed event, then the bulk redelivery.
    rx.set_mode(Mode::Status500);
    exec(&h.app, "UPDATE webhook_events SET status = 'failed'");
    let r = owner
        .post(
            &format!("/settings/webhooks/{id}/redeliver"),
            &[("since", "2026-12-01T00:00")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(statuses(&h.app), "pending");
    let r = owner
        .post(
            &format!("/settings/webhooks/{id}/redeliver"),
            &[("since", "yesterday")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r
        .body
        .contains("Enter the date and time as YYYY-MM-DDTHH:MM."));
    assert_eq!(statuses(&h.app), "pending", "nothing changed");
}

#[actix_web::test]
async fn a_rotated_secret_signs_next_to_the_old_one_for_a_day() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Ok);
    let (id, old) = add_endpoint(&h.owner, &rx.url(), &[]).await;
    let r = h
        .owner
        .post(&format!("/settings/webhooks/{id}/rotate"), &[])
        .await;
    assert_eq!(r.status, 200);
    let new = shown_secret(&r.body).expect("the new secret is shown once");
    assert_ne!(new, old);
    h.owner
        .post(&format!("/settings/webhooks/{id}/test"), &[])
        .await;
    deliver(&h.app).await;
    let first = &rx.received()[0];
    assert_eq!(first.header("webhook-signature").split(' ').count(), 2);
    assert!(verifies(&old, first) && verifies(&new, first));

    h.app.clock().advance(Duration::hours(25));
    let owner = h.app.login("olivia@example.com").await;
    let r = owner
        .post(&format!("/settings/webhooks/{id}/test"), &[])
        .await;
    assert_eq!(r.status, 303);
    deliver(&h.app).await;
    let second = &rx.received()[1];
    assert!(
        verifies(&new, second) && !verifies(&old, second),
        "the old secret no longer signs"
    );
    assert!(
        text(&h.app, "SELECT string_agg(action, ',') FROM audit_events")
            .contains("webhook.secret_rotated")
    );
}

#[actix_web::test]
async fn an_endpoint_failing_for_three_days_is_disabled_and_the_owners_are_told() {
    let h = hooks_app("ENTERPRISE", true).await;
    let rx = Receiver::start(Mode::Status500);
    let (id, _) = add_endpoint(&h.owner, &rx.url(), &[]).await;
    page_lead(&h.owner, "Fail", "fail@example.com").await;
    deliver(&h.app).await;
    assert_eq!(
        text(&h.app, "SELECT enabled::text FROM webhook_endpoints"),
        "true"
    );
    exec(
        &h.app,
        "UPDATE webhook_endpoints SET failing_since = failing_since - interval '3 days'",
    );
    h.app.clock().advance(Duration::seconds(10));
    deliver(&h.app).await;
    assert_eq!(
        text(&h.app, "SELECT enabled::text FROM webhook_endpoints"),
        "false"
    );
    assert_eq!(
        h.app
            .count("SELECT count(*) FROM notices WHERE kind = 'webhooks'"),
        1,
        "the owner is notified"
    );
    assert_eq!(
        h.app.count("SELECT count(*) FROM mail_outbox WHERE to_email = 'olivia@example.com' AND subject LIKE '%webhook%'"),
        1,
        "the owner is mailed"
    );
    let page = h.owner.get(&format!("/settings/webhooks/{id}")).await;
    assert!(
        page.body.contains("Disabled automatically"),
        "{}",
        page.body
    );
    h.app.clock().advance(Duration::minutes(2));
    assert_eq!(
        deliver(&h.app).await,
        0,
        "a disabled endpoint receives nothing"
    );
}
