//! The demo organization looks used on first sign-in: 30 days of leads,
//! messages (a few failed), replies, a sequence at work, a teammate and a
//! pending invitation, with usage counters that agree with the rows; and
//! `lead-dashboard demo` builds it again from scratch.

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
        get(&f, "sent") + get(&f, "failed")
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
