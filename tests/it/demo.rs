//! The demo organization looks used on first sign-in: 30 days of leads,
//! messages (a few failed), replies, a sequence at work, a teammate and a
//! pending invitation, with usage counters that agree with the rows;
//! conversations (replies, an automatic reply, a bounce) on its leads'
//! timelines from a mailbox with no server, which no job reads or sends
//! from; and `lead-dashboard demo` builds it again from scratch.

use lead_dashboard::db::demo::{self, Seeded};

use crate::common::TestApp;

fn seed(app: &TestApp) -> String {
    match demo::seed(&mut app.conn(), app.now()).unwrap() {
        Seeded::Created { password } | Seeded::PasswordReset { password } => password,
    }
}

/// The figures a newcomer sees, straight from the tables.
fn figures(app: &TestApp) -> Vec<(&'static str, i64)> {
    let org = "(SELECT id FROM organizations WHERE slug = 'behar-s-organization')";
    let q = |sql: &str| app.count(&sql.replace("ORG", org));
    vec![
        ("organizations", q("SELECT count(*) FROM organizations")),
        ("members", q("SELECT count(*) FROM organization_members WHERE organization_id = ORG")),
        ("open invitations", q("SELECT count(*) FROM invitations WHERE organization_id = ORG AND accepted_at IS NULL")),
        ("leads", q("SELECT count(*) FROM leads WHERE organization_id = ORG")),
        ("days with new leads in the last 30", q("SELECT count(DISTINCT created_at::date) FROM leads WHERE created_at > now() - interval '30 days'")),
        ("sent", q("SELECT count(*) FROM messages WHERE status = 'sent'")),
        ("failed", q("SELECT count(*) FROM messages WHERE status = 'failed'")),
        ("bounced", q("SELECT count(*) FROM messages WHERE status = 'bounced'")),
        ("replied", q("SELECT count(*) FROM leads WHERE status = 'replied'")),
        ("enrolments due later", q("SELECT count(*) FROM sequence_enrollments WHERE status = 'active' AND next_run_at > now()")),
        ("teammate's leads", q("SELECT count(*) FROM leads l JOIN users u ON u.id = l.owner_user_id WHERE u.email = 'maya.okafor@example.com'")),
        ("professional trial", q("SELECT count(*) FROM subscriptions WHERE plan = 'PROFESSIONAL' AND status = 'TRIAL'")),
    ]
}

fn get(figures: &[(&str, i64)], name: &str) -> i64 {
    figures.iter().find(|(n, _)| *n == name).unwrap().1
}

#[actix_web::test]
async fn the_demo_has_a_month_of_history_that_the_counters_agree_with() {
    let app = TestApp::new().await;
    let password = seed(&app);
    let f = figures(&app);
    assert_eq!(get(&f, "organizations"), 1, "{f:?}");
    assert_eq!(get(&f, "members"), 2, "{f:?}");
    assert_eq!(get(&f, "open invitations"), 1, "{f:?}");
    assert_eq!(get(&f, "leads"), 45, "{f:?}");
    assert!(get(&f, "days with new leads in the last 30") >= 25, "{f:?}");
    assert!(get(&f, "sent") >= 30 && get(&f, "failed") >= 2, "{f:?}");
    assert!(get(&f, "replied") >= 5, "{f:?}");
    assert_eq!(get(&f, "enrolments due later"), 8, "{f:?}");
    assert!(get(&f, "teammate's leads") >= 10, "{f:?}");
    assert_eq!(get(&f, "professional trial"), 1, "{f:?}");
    // Each day's counter equals the usage recorded that day.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM usage_counters c WHERE c.period = 'day' AND c.count <> \
             (SELECT count(*) FROM usage_records r WHERE r.kind = c.kind AND r.occurred_at::date = c.period_start)"
        ),
        0,
        "daily counters match the records"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'message_sent'"),
        get(&f, "sent") + get(&f, "failed") + get(&f, "bounced")
    );

    let c = app.client();
    c.get("/login").await;
    let r = c
        .post(
            "/login",
            &[("email", demo::DEMO_EMAIL), ("password", &password)],
        )
        .await;
    assert_eq!(r.status, 303, "the demo password signs in");
    let dashboard = c.get("/dashboard").await;
    assert_eq!(
        dashboard.body.matches(r#"<li class="done">"#).count(),
        3,
        "leads, a sequence at work and a teammate are ticked: {}",
        dashboard.body
    );
}

#[actix_web::test]
async fn seeding_again_rebuilds_the_demo_with_a_new_password() {
    let app = TestApp::new().await;
    let first = seed(&app);
    let before = figures(&app);
    let second = seed(&app);
    assert_ne!(first, second);
    assert_eq!(figures(&app), before, "the same demo, built again");
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email IN ('behar@example.com', 'maya.okafor@example.com')"),
        2
    );
}

#[actix_web::test]
async fn the_demo_shows_replies_an_auto_reply_and_a_bounce_with_no_mail_server() {
    let app = TestApp::new().await;
    let password = seed(&app);
    let q = |sql: &str| app.count(sql);
    assert!(q("SELECT count(*) FROM inbound_messages WHERE kind = 'reply'") >= 3);
    assert_eq!(
        q("SELECT count(*) FROM inbound_messages WHERE kind = 'auto_reply'"),
        1
    );
    assert_eq!(
        q("SELECT count(*) FROM inbound_messages WHERE kind = 'bounce'"),
        1
    );
    assert_eq!(
        q("SELECT count(*) FROM messages WHERE status = 'bounced' AND bounced_at IS NOT NULL"),
        1
    );
    assert_eq!(
        q("SELECT count(*) FROM suppressions WHERE reason = 'bounced'"),
        1,
        "the bounced address is suppressed"
    );
    // A reply belongs to a lead that reached Replied, detected from it.
    assert_eq!(
        q(
            "SELECT count(*) FROM inbound_messages i JOIN lead_status_changes c
             ON c.lead_id = i.lead_id AND c.to_status = 'replied' AND c.note = 'reply detected'
           WHERE i.kind = 'reply'"
        ),
        q("SELECT count(*) FROM inbound_messages WHERE kind = 'reply'")
    );
    // Every reply answers a message sent from the demo mailbox, found by its Message-ID.
    assert_eq!(
        q(
            "SELECT count(*) FROM inbound_messages i JOIN messages m ON m.id = i.message_id
           WHERE m.mailbox_id = i.mailbox_id AND m.rfc_message_id IS NOT NULL"
        ),
        q("SELECT count(*) FROM inbound_messages")
    );
    // The mailbox has no server: paused, saying why, never read or sent from.
    assert_eq!(
        q(&format!(
            "SELECT count(*) FROM mailboxes m JOIN mailbox_states s ON s.mailbox_id = m.id
             WHERE m.email = '{}' AND s.status = 'paused' AND s.status_reason = '{}'",
            demo::DEMO_MAILBOX,
            demo::NO_SERVER_REASON.replace('\'', "''")
        )),
        1
    );
    let state = app.state.clone();
    let now = app.now();
    actix_web::rt::task::spawn_blocking(move || {
        let access = lead_dashboard::db::SystemAccess::grant_at_startup();
        lead_dashboard::jobs::inbox::run(&state.db, &access, &state.config, now).unwrap();
        lead_dashboard::jobs::inbox::run(
            &state.db,
            &access,
            &state.config,
            now + chrono::Duration::days(2),
        )
        .unwrap();
    })
    .await
    .unwrap();
    assert_eq!(
        q("SELECT count(*) FROM mailbox_states WHERE last_poll_at IS NULL AND last_error IS NULL AND status = 'paused'"),
        1,
        "the inbox job never read it"
    );

    let c = app.client();
    c.get("/login").await;
    let r = c
        .post(
            "/login",
            &[("email", demo::DEMO_EMAIL), ("password", &password)],
        )
        .await;
    assert_eq!(r.status, 303);
    for (kind, words) in [
        ("reply", "Reply from"),
        ("auto_reply", "Automatic reply from"),
        ("bounce", "Bounced"),
    ] {
        let lead = crate::common::uuid_of(
            &mut app.conn(),
            &format!("SELECT lead_id AS id FROM inbound_messages WHERE kind = '{kind}' LIMIT 1"),
        );
        let page = c.get(&format!("/leads/{lead}")).await;
        assert_eq!(page.status, 200);
        let marker = format!("data-kind=\"{}\"", kind.replace('_', "-"));
        assert!(
            page.body.contains(&marker) && page.body.contains(words),
            "{kind} on the lead's timeline"
        );
    }
    let mailboxes = c.get("/settings/mailboxes").await;
    assert!(mailboxes.body.contains(demo::DEMO_MAILBOX));
    assert!(mailboxes.body.contains("Demo mailbox: no server"));
    let id = crate::common::uuid_of(&mut app.conn(), "SELECT id FROM mailboxes");
    let r = c
        .post(&format!("/settings/mailboxes/{id}/resume"), &[])
        .await;
    assert_eq!(r.status, 422, "the demo mailbox cannot be resumed");
    assert_eq!(
        q("SELECT count(*) FROM mailbox_states WHERE status = 'paused'"),
        1
    );
}
