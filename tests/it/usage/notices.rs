//! Crossing 80% and 100% of a limit gives each owner and admin one notice,
//! however many requests cross it, and never members or viewers.

use diesel::prelude::*;
use lead_dashboard::db::usage::{guard_count_limit, UsageKind};
use lead_dashboard::domain::plans::LimitKind;
use lead_dashboard::domain::subscription::month_start;

use super::*;

fn notices_of(conn: &mut PgConnection, user: UserId) -> i64 {
    scalar(
        conn,
        &format!("SELECT count(*) FROM notices WHERE user_id = '{user}'"),
    )
}

#[test]
fn thresholds_notify_owners_and_admins_once() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Nora");
    let admin = add_user(&mut conn, &org, "Adam", "ADMIN");
    let member = add_user(&mut conn, &org, "Mia", "MEMBER");
    let viewer = add_user(&mut conn, &org, "Vic", "VIEWER");
    let now = fixed_now();
    let month = month_start(chrono_tz::UTC, now);
    let key = month.format("%Y-%m").to_string();
    let tenant = org.tenant(&mut conn);
    set_counter(&mut conn, org.id, "lead_created", "month", month, 38);
    assert!(consume_one(&mut conn, &tenant, UsageKind::LeadCreated, now)); // 39: 78%
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM notices"), 0);
    assert!(consume_one(&mut conn, &tenant, UsageKind::LeadCreated, now)); // 40: 80%
    assert!(consume_one(&mut conn, &tenant, UsageKind::LeadCreated, now)); // 41
    let warn = format!("leads_per_month:{key}:80:50");
    assert_eq!(
        scalar(&mut conn, &format!("SELECT count(*) FROM notices WHERE dedupe_key = '{warn}' AND kind = 'limit_warning'")),
        2
    );
    assert_eq!(
        (
            notices_of(&mut conn, org.owner),
            notices_of(&mut conn, admin)
        ),
        (1, 1)
    );
    assert_eq!(
        (notices_of(&mut conn, member), notices_of(&mut conn, viewer)),
        (0, 0)
    );
    // Going back below and crossing again in the same period does not repeat it.
    set_counter(&mut conn, org.id, "lead_created", "month", month, 30);
    for _ in 0..10 {
        assert!(consume_one(&mut conn, &tenant, UsageKind::LeadCreated, now));
    }
    assert_eq!(notices_of(&mut conn, org.owner), 1);
    set_counter(&mut conn, org.id, "lead_created", "month", month, 49);
    assert!(consume_one(&mut conn, &tenant, UsageKind::LeadCreated, now)); // 50: 100%
    assert!(!consume_one(
        &mut conn,
        &tenant,
        UsageKind::LeadCreated,
        now
    ));
    let full = format!("leads_per_month:{key}:100:50");
    assert_eq!(
        scalar(&mut conn, &format!("SELECT count(*) FROM notices WHERE dedupe_key = '{full}' AND kind = 'limit_reached'")),
        2
    );
    let message: String = diesel::dsl::sql::<diesel::sql_types::Text>(&format!(
        "SELECT message FROM notices WHERE dedupe_key = '{full}' LIMIT 1"
    ))
    .get_result(&mut conn)
    .unwrap();
    assert!(
        message.contains("all 50 new leads this month on the Free plan"),
        "{message}"
    );
}

#[test]
fn a_new_limit_is_a_new_threshold() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Uma");
    let now = fixed_now();
    let today = lead_dashboard::domain::subscription::day_start(chrono_tz::UTC, now);
    let tenant = org.tenant(&mut conn);
    set_counter(&mut conn, org.id, "message_sent", "day", today, 7);
    assert!(consume_one(&mut conn, &tenant, UsageKind::MessageSent, now)); // 8 of 10
    set_subscription(&mut conn, org.id, "STARTER", "ACTIVE", None);
    set_counter(&mut conn, org.id, "message_sent", "day", today, 79);
    assert!(consume_one(&mut conn, &tenant, UsageKind::MessageSent, now)); // 80 of 100
    let keys = scalar(&mut conn, "SELECT count(DISTINCT dedupe_key) FROM notices WHERE dedupe_key LIKE 'messages_per_day:%:80:%'");
    assert_eq!(keys, 2, "80% of 10 and 80% of 100 are two notices");
}

#[test]
fn count_limited_creations_notify_on_reaching_the_limit() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Cora");
    let tenant = org.tenant(&mut conn);
    exec(&mut conn, &format!(
        "INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{0}', '{0}', gen_random_uuid(), 'First')",
        org.id
    ));
    set_subscription(&mut conn, org.id, "STARTER", "ACTIVE", None); // 5 sequences
    for n in 2..=5 {
        conn.transaction(|c| guard_count_limit(c, &tenant, LimitKind::Sequences, fixed_now()))
            .unwrap();
        exec(&mut conn, &format!(
            "INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{0}', '{0}', gen_random_uuid(), 'S{n}')",
            org.id
        ));
    }
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM notices WHERE dedupe_key IN ('sequences:all:80:5', 'sequences:all:100:5')"),
        2
    );
    // A refused creation rolls back with its transaction and adds nothing.
    assert!(conn
        .transaction(|c| guard_count_limit(c, &tenant, LimitKind::Sequences, fixed_now()))
        .is_err());
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM notices"), 2);
}

/// Makes `email`'s organization cross 80% of its leads, as its owner.
fn cross_80(app: &crate::common::TestApp, slug: &str, email: &str) {
    let mut conn = app.conn();
    let org = OrgId(crate::common::uuid_of(
        &mut conn,
        &format!("SELECT id FROM organizations WHERE slug = '{slug}'"),
    ));
    let user = UserId(crate::common::uuid_of(
        &mut conn,
        &format!("SELECT id FROM users WHERE email = '{email}'"),
    ));
    let now = app.now();
    set_counter(
        &mut conn,
        org,
        "lead_created",
        "month",
        month_start(chrono_tz::UTC, now),
        39,
    );
    let tenant = lead_dashboard::db::Tenant::for_member(&mut conn, org, user).unwrap();
    assert!(consume_one(&mut conn, &tenant, UsageKind::LeadCreated, now));
}

fn notice_id(app: &crate::common::TestApp, email: &str) -> uuid::Uuid {
    crate::common::uuid_of(
        &mut app.conn(),
        &format!(
            "SELECT n.id FROM notices n JOIN users u ON u.id = n.user_id WHERE u.email = '{email}'"
        ),
    )
}

fn unread(app: &crate::common::TestApp, email: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM notices n JOIN users u ON u.id = n.user_id WHERE u.email = '{email}' AND n.read_at IS NULL"
    ))
}

#[actix_web::test]
async fn notices_are_per_user_and_marking_them_is_scoped() {
    let app = crate::common::TestApp::new().await;
    let slug = "olive-s-organization";
    let olive = app.signup("Olive", "olive@example.com").await;
    let ada = member_of(&app, slug, "Ada", "ADMIN").await;
    let max = member_of(&app, slug, "Max", "MEMBER").await;
    let zed = app.signup("Zed", "zed@example.com").await;
    cross_80(&app, slug, "olive@example.com");
    cross_80(&app, "zed-s-organization", "zed@example.com");
    let page = olive.get("/notices").await;
    assert!(page.body.contains("Approaching a plan limit") && page.body.contains("40 of 50"));
    assert!(page.body.contains(r#"<span class="bell-count">1</span>"#));
    let page = max.get("/notices").await;
    assert!(page.body.contains("No notices yet") && !page.body.contains("bell-count"));
    // Another user's notice, another organization's, or no notice at all: 404.
    let olives = notice_id(&app, "olive@example.com");
    let path = format!("/notices/{olives}/read");
    for c in [&ada, &max, &zed] {
        assert_eq!(c.post(&path, &[]).await.status, 404);
        assert_eq!(c.post_htmx(&path, &[]).await.status, 404);
    }
    for bad in [
        "/notices/not-a-uuid/read",
        &format!("/notices/{}/read", uuid::Uuid::nil()),
    ] {
        assert_eq!(olive.post(bad, &[]).await.status, 404);
    }
    assert_eq!(unread(&app, "olive@example.com"), 1);
    // The owner marks hers read (HTMX): the row and the bell come back.
    let r = olive.post_htmx(&path, &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("<li") && !r.body.contains("is-unread"));
    assert!(
        r.body.contains(r#"id="bell""#)
            && r.body.contains(r#"hx-swap-oob="true""#)
            && !r.body.contains("bell-count")
    );
    assert_eq!(unread(&app, "olive@example.com"), 0);
    assert_eq!(
        (
            unread(&app, "ada@example.com"),
            unread(&app, "zed@example.com")
        ),
        (1, 1)
    );
    // Mark all (plain form): only Ada's own.
    let r = ada.post("/notices/read", &[]).await;
    assert_eq!((r.status, r.location()), (303, Some("/notices")));
    assert_eq!(
        (
            unread(&app, "ada@example.com"),
            unread(&app, "zed@example.com")
        ),
        (0, 1)
    );
    let r = zed.post_htmx("/notices/read", &[]).await;
    assert!(r.body.contains(r#"id="notice-list""#) && r.body.contains("hx-swap-oob"));
    assert_eq!(unread(&app, "zed@example.com"), 0);
    // Members and viewers may open the page and mark (nothing of) theirs.
    assert_eq!(max.post("/notices/read", &[]).await.status, 303);
}
