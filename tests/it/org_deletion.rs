//! Organization deletion (docs/product.md, "Data rights"): an owner schedules it a week ahead with
//! the password and the organization's name; cancelling loses nothing; when
//! the date has passed the job leaves no row of the organization in any
//! tenant table (found by walking the catalogue) except its invoices.

use chrono::{Duration, TimeZone, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use lead_dashboard::config::Config;
use lead_dashboard::db::SystemAccess;
use lead_dashboard::jobs::org_deletion::run;
use uuid::Uuid;

use crate::common::{TestApp, PASSWORD};
use crate::row_security::{fill_organization, org_column, tenant_tables};

const ORG: &str = "Ann's Organization";

fn org_id(app: &TestApp, slug: &str) -> Uuid {
    crate::common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id AS id FROM organizations WHERE slug = '{slug}'"),
    )
}

/// Every tenant table with a row count and a digest of the organization's rows.
fn dump(app: &TestApp, org: Uuid, skip: &[&str]) -> Vec<(String, i64, String)> {
    #[derive(QueryableByName)]
    struct Digest {
        #[diesel(sql_type = BigInt)]
        n: i64,
        #[diesel(sql_type = Text)]
        digest: String,
    }
    let mut conn = app.conn();
    tenant_tables(&mut conn)
        .into_iter()
        .filter(|t| !skip.contains(&t.name.as_str()))
        .map(|t| {
            let (table, col) = (&t.name, org_column(&t.name));
            let d: Digest = diesel::sql_query(format!(
                "SELECT count(*) AS n, coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS digest \
                 FROM {table} x WHERE {col} = '{org}'"
            ))
            .get_result(&mut conn)
            .unwrap();
            (t.name.clone(), d.n, d.digest)
        })
        .collect()
}

fn erase(app: &TestApp) -> usize {
    let mut conn = app.conn();
    let config = Config::for_tests(&app.db.url);
    run(
        &mut conn,
        &SystemAccess::grant_at_startup(),
        &config,
        app.now(),
    )
    .unwrap()
}

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

#[actix_rt::test]
async fn owner_schedules_with_password_and_name_others_are_refused_and_cancel_loses_nothing() {
    let app = TestApp::pinned(start()).await;
    let owner = app.signup("Ann", "ann@example.com").await;
    let slug = "ann-s-organization";
    let org = org_id(&app, slug);
    for (email, role) in [("bob@example.com", "ADMIN"), ("cy@example.com", "MEMBER")] {
        app.signup("X", email).await;
        app.add_member(slug, email, role);
    }
    let admin = app.login("bob@example.com").await;
    admin
        .post("/orgs/switch", &[("org_id", &org.to_string())])
        .await;
    let scheduled = || {
        app.count(&format!("SELECT count(*) FROM organizations WHERE id = '{org}' AND deletion_scheduled_at IS NOT NULL"))
    };
    let before = dump(&app, org, &[]);

    let r = admin
        .post(
            "/settings/delete",
            &[("password", PASSWORD), ("confirm_name", ORG)],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = owner
        .post(
            "/settings/delete",
            &[("password", "wrong one"), ("confirm_name", ORG)],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("This is not your current password."));
    let r = owner
        .post(
            "/settings/delete",
            &[("password", PASSWORD), ("confirm_name", "Ann")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Type the organization&#39;s name exactly")
            || r.body.contains("Type the organization's name exactly"),
        "{}",
        r.body
    );
    assert_eq!(scheduled(), 0);
    assert_eq!(dump(&app, org, &[]), before, "refusals changed nothing");

    assert!(owner
        .get("/settings")
        .await
        .body
        .contains("Delete organization"));
    let r = owner
        .post(
            "/settings/delete",
            &[("password", PASSWORD), ("confirm_name", ORG)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(scheduled(), 1);
    let due = app.count(&format!(
        "SELECT extract(epoch FROM deletion_scheduled_at) FROM organizations WHERE id = '{org}'"
    ));
    assert_eq!(due, (start() + Duration::days(7)).timestamp());
    assert_eq!(app.count(&format!("SELECT count(*) FROM subscriptions WHERE organization_id = '{org}' AND status = 'CANCELED'")), 1);
    for to in ["ann@example.com", "bob@example.com", "cy@example.com"] {
        let n = app.count(&format!("SELECT count(*) FROM mail_outbox WHERE to_email = '{to}' AND subject LIKE '%will be deleted on 8 December 2026'"));
        assert_eq!(n, 1, "mail to {to}");
    }
    assert_eq!(app.count(&format!("SELECT count(*) FROM audit_events WHERE organization_id = '{org}' AND action = 'organization.deletion_scheduled'")), 1);

    let page = owner.get("/dashboard").await.body;
    assert!(
        page.contains("This organization will be deleted on 8 Dec 2026."),
        "{page}"
    );
    assert!(page.contains("Cancel deletion"));
    let page = admin.get("/leads").await.body;
    assert!(page.contains("This organization will be deleted on 8 Dec 2026."));
    assert!(
        !page.contains("Cancel deletion"),
        "the button is for owners only"
    );
    let r = admin.post("/settings/delete/cancel", &[]).await;
    assert_eq!(r.status, 403);

    let scheduled_dump = dump(&app, org, &["audit_events", "organizations"]);
    let r = owner.post("/settings/delete/cancel", &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(scheduled(), 0);
    assert_eq!(
        dump(&app, org, &["audit_events", "organizations"]),
        scheduled_dump,
        "cancel lost nothing"
    );
    assert_eq!(app.count(&format!("SELECT count(*) FROM audit_events WHERE organization_id = '{org}' AND action = 'organization.deletion_cancelled'")), 1);
    assert!(!owner
        .get("/dashboard")
        .await
        .body
        .contains("will be deleted"));

    // Past the date nothing is erased until the job runs, and nothing is cancelled then.
    app.clock().set(start() + Duration::days(8));
    assert_eq!(erase(&app), 0, "a cancelled deletion is not carried out");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM organizations WHERE id = '{org}'"
        )),
        1
    );
}

#[actix_rt::test]
async fn the_job_erases_every_row_but_the_invoices_and_nothing_else() {
    let app = TestApp::pinned(start()).await;
    let (gone, kept) = (Uuid::new_v4(), Uuid::new_v4());
    fill_organization(&mut app.conn(), gone, 1);
    fill_organization(&mut app.conn(), kept, 2);
    let owner = app.signup("Ann", "ann@example.com").await;
    app.add_member("org-1", "ann@example.com", "OWNER");
    let r = owner
        .post("/orgs/switch", &[("org_id", &gone.to_string())])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = owner
        .post(
            "/settings/delete",
            &[("password", PASSWORD), ("confirm_name", "Org 1")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let kept_before = dump(&app, kept, &[]);
    let users_before = app.count("SELECT count(*) FROM users");

    app.clock()
        .set(start() + Duration::days(7) - Duration::seconds(1));
    assert_eq!(erase(&app), 0, "not before the date");
    app.clock().set(start() + Duration::days(7));
    assert!(erase(&app) > 0);

    for (table, n, _) in dump(&app, gone, &[]) {
        let expected = i64::from(table == "invoices" || table == "invoice_lines");
        assert_eq!(
            n, expected,
            "rows of the erased organization left in {table}"
        );
    }
    assert_eq!(
        dump(&app, kept, &[]),
        kept_before,
        "another organization untouched"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users"),
        users_before,
        "accounts stay"
    );
    assert_eq!(erase(&app), 0, "nothing left to do");

    // The members keep their accounts and their own organization.
    let again = app.login("ann@example.com").await;
    let r = again.get("/dashboard").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(ORG));
    // The erased organization cannot be chosen again.
    let r = again
        .post("/orgs/switch", &[("org_id", &gone.to_string())])
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[actix_rt::test]
async fn from_its_deletion_date_an_organization_reads_but_changes_nothing() {
    let app = TestApp::pinned(start()).await;
    let owner = app.signup("Ann", "ann@example.com").await;
    let slug = "ann-s-organization";
    let org = org_id(&app, slug);
    crate::team::support::set_plan(&app, slug, "PROFESSIONAL");
    owner
        .post(
            "/leads",
            &[("first_name", "Lea"), ("email", "lea@x.example")],
        )
        .await;
    assert_eq!(app.count("SELECT count(*) FROM leads"), 1);
    let key = crate::api::support::create_key(&owner, "Sync", "read_write").await;
    let r = owner
        .post(
            "/settings/delete",
            &[("password", PASSWORD), ("confirm_name", ORG)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Before the date, changes still go through.
    owner
        .post(
            "/leads",
            &[("first_name", "Max"), ("email", "max@x.example")],
        )
        .await;
    assert_eq!(app.count("SELECT count(*) FROM leads"), 2);

    // The date comes (a minute ago); the erasure job has not run yet.
    crate::team::support::exec(
        &app,
        &format!(
            "UPDATE organizations SET deletion_scheduled_at = '{}' WHERE id = '{org}'",
            (start() - Duration::minutes(1)).to_rfc3339()
        ),
    );
    // The API's call counter and the key's last use may move; nothing else.
    let skip = ["api_keys", "usage_records", "usage_counters"];
    let before = dump(&app, org, &skip);
    let r = owner
        .post(
            "/leads",
            &[("first_name", "Zoe"), ("email", "zoe@x.example")],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("being deleted"), "{}", r.body);
    assert!(!r.body.contains("SELECT"));
    let auth = format!("Bearer {key}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let body = br#"{"first_name":"Zoe","email":"zoe@x.example"}"#.to_vec();
    let api = crate::api::support::raw(&app, "POST", "/api/v1/leads", &headers, body).await;
    assert_eq!(api.status, 409);
    assert_eq!(dump(&app, org, &skip), before);
    // Reading still works.
    let page = owner.get("/leads").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("lea@x.example"));
}
