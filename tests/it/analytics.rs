//! Advanced analytics (issue 17): every metric against hand-computed numbers
//! of a fixture whose events straddle a day boundary of Pacific/Auckland
//! (where the UTC day differs), the daily counters against a full recount
//! from raw rows after random creates, status changes, sends, failures and
//! deletes, status history written for page changes with the acting user,
//! gating (a plan without the feature gets no numbers) and the tenant wall.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text};
use lead_dashboard::db::analytics;
use lead_dashboard::db::SystemAccess;
use lead_dashboard::domain::analytics::{build, DateRange, RangeKind};
use lead_dashboard::ids::OrgId;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use uuid::Uuid;

use crate::common::{uuid_of, TestApp, TestDb};
use crate::workspace_support::{org_id, owner, OWNER_SLUG};

/// Runs several statements (fixtures).
fn exec(app: &TestApp, sql: &str) {
    diesel::connection::SimpleConnection::batch_execute(&mut app.conn(), sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Puts the owner's organization on STARTER (no trial) in Pacific/Auckland.
fn starter_in_auckland(app: &TestApp) -> Uuid {
    let org = org_id(app, OWNER_SLUG);
    exec(
        app,
        &format!(
            "UPDATE subscriptions SET plan = 'STARTER', status = 'ACTIVE', trial_ends_at = NULL WHERE organization_id = '{org}';
             UPDATE organizations SET time_zone = 'Pacific/Auckland' WHERE id = '{org}'"
        ),
    );
    org
}

/// The fixture, in UTC (Auckland is UTC+13 in November). Local days:
/// lead 1 created 17 Nov 23:30 (UTC 17th), lead 2 18 Nov 00:30 (UTC 17th!),
/// lead 3 19 Nov 01:00 (UTC 18th), lead 4 10 Nov (the period before).
/// Template 1 sent to lead 1 (17th, in an enrolment of sequence S) and
/// lead 2 (18th); template 2 failed for lead 3 (19th). Lead 1: Contacted on
/// the 18th, Replied on the 19th (00:00 local, UTC 18th) — a reply for
/// template 1, sequence S and its enroller; its enrolment stops after step
/// 1. Lead 2: Lost on the 19th.
fn fixture(app: &TestApp, org: Uuid, owner_id: Uuid) -> (Uuid, Uuid, Uuid) {
    let (t1, t2, seq) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (l1, l2, l3, l4, e1) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    exec(app, &format!(
        "INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) VALUES
           ('{org}', '{org}', '{t1}', 'Warm intro', 'S', 'B'), ('{org}', '{org}', '{t2}', 'Follow-up', 'S', 'B');
         INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{org}', '{org}', '{seq}', 'Onboarding');
         INSERT INTO leads (organization_id, id, first_name, email, source, owner_user_id, created_at, updated_at) VALUES
           ('{org}', '{l1}', 'L1', 'l1@x.example', 'page', '{owner_id}', '2026-11-17T10:30:00Z', '2026-11-17T10:30:00Z'),
           ('{org}', '{l2}', 'L2', 'l2@x.example', 'csv', NULL, '2026-11-17T11:30:00Z', '2026-11-17T11:30:00Z'),
           ('{org}', '{l3}', 'L3', 'l3@x.example', 'api', NULL, '2026-11-18T12:00:00Z', '2026-11-18T12:00:00Z'),
           ('{org}', '{l4}', 'L4', 'l4@x.example', 'page', NULL, '2026-11-10T00:00:00Z', '2026-11-10T00:00:00Z');
         INSERT INTO sequence_enrollments (organization_id, id, lead_id, sequence_owner_key, sequence_id, enrolled_by, created_at, updated_at)
           VALUES ('{org}', '{e1}', '{l1}', '{org}', '{seq}', '{owner_id}', '2026-11-17T10:40:00Z', '2026-11-17T10:40:00Z');
         INSERT INTO messages (organization_id, id, lead_id, template_owner_key, template_id, enrollment_id, step_position,
                               to_email, subject, body, sender_user_id, created_at) VALUES
           ('{org}', gen_random_uuid(), '{l1}', '{org}', '{t1}', '{e1}', 1, 'l1@x.example', 'S', 'B', '{owner_id}', '2026-11-17T10:45:00Z'),
           ('{org}', gen_random_uuid(), '{l2}', '{org}', '{t1}', NULL, NULL, 'l2@x.example', 'S', 'B', NULL, '2026-11-17T11:45:00Z'),
           ('{org}', gen_random_uuid(), '{l3}', '{org}', '{t2}', NULL, NULL, 'l3@x.example', 'S', 'B', NULL, '2026-11-18T12:05:00Z');
         UPDATE messages SET status = 'sent', sent_at = created_at WHERE lead_id IN ('{l1}', '{l2}');
         UPDATE messages SET status = 'failed', error = 'refused' WHERE lead_id = '{l3}';
         UPDATE leads SET status = 'contacted', updated_at = '2026-11-18T09:00:00Z' WHERE id = '{l1}';
         UPDATE leads SET status = 'replied', updated_at = '2026-11-18T11:00:00Z' WHERE id = '{l1}';
         UPDATE sequence_enrollments SET status = 'stopped', next_step = 2, paused_reason = 'Stopped: the lead replied.',
                updated_at = '2026-11-18T11:00:00Z' WHERE id = '{e1}';
         UPDATE leads SET status = 'lost', updated_at = '2026-11-19T00:00:00Z' WHERE id = '{l2}';"
    ));
    (t1, t2, seq)
}

#[actix_web::test]
async fn every_metric_matches_the_hand_computed_fixture_in_auckland_days() {
    let app = TestApp::pinned(utc("2026-11-20T00:00:00Z")).await;
    let c = owner(&app).await;
    let org = starter_in_auckland(&app);
    let owner_id = uuid_of(
        &mut app.conn(),
        "SELECT id FROM users WHERE email = 'owen@example.com'",
    );
    let (t1, t2, seq) = fixture(&app, org, owner_id);

    // Local today is 20 Nov (13:00 in Auckland): the last 7 days are 14–20 Nov.
    let range =
        DateRange::resolve(RangeKind::Last7, None, None, day("2026-11-20")).expect("a preset");
    let tenant = SystemAccess::grant_at_startup().tenant(OrgId(org));
    let rows =
        analytics::daily_counts(&mut app.conn(), &tenant, range.previous().from, range.to).unwrap();
    let (report, previous) = build(range, &rows);

    let leads: BTreeMap<NaiveDate, [i64; 3]> =
        report.leads.iter().map(|d| (d.date, d.by_source)).collect();
    assert_eq!(leads[&day("2026-11-17")], [1, 0, 0], "lead 1: page, 17th");
    assert_eq!(
        leads[&day("2026-11-18")],
        [0, 1, 0],
        "lead 2: CSV, 18th local (17th UTC)"
    );
    assert_eq!(
        leads[&day("2026-11-19")],
        [0, 0, 1],
        "lead 3: API, 19th local"
    );
    assert_eq!(leads.values().flatten().sum::<i64>(), 3);
    assert_eq!((report.totals.leads, previous.leads), (3, 1));

    // New 3, Contacted 1, Replied 1, Qualified 0, Lost 1.
    assert_eq!(report.reached, [3, 1, 1, 0, 1]);

    let msgs: BTreeMap<NaiveDate, (i64, i64)> = report
        .messages
        .iter()
        .map(|d| (d.date, (d.sent, d.failed)))
        .collect();
    assert_eq!(msgs[&day("2026-11-17")], (1, 0));
    assert_eq!(msgs[&day("2026-11-18")], (1, 0));
    assert_eq!(msgs[&day("2026-11-19")], (0, 1));
    assert_eq!((report.totals.sent, report.totals.failed), (2, 1));
    assert_eq!(report.totals.replied, 1);

    assert_eq!(report.templates.len(), 1, "only sends count per template");
    let t = &report.templates[0];
    assert_eq!(
        (t.id.as_str(), t.sent, t.replied),
        (t1.to_string().as_str(), 2, 1)
    );
    assert_eq!(t.reply_rate(), Some(50.0));
    assert!(!report.templates.iter().any(|t| t.id == t2.to_string()));

    assert_eq!(report.sequences.len(), 1);
    let s = &report.sequences[0];
    assert_eq!(s.id, seq.to_string());
    assert_eq!((s.enrolled, s.completed, s.replied), (1, 0, 1));
    assert_eq!(
        s.stopped,
        [1, 0, 0, 0, 0, 0],
        "stopped because the lead replied"
    );
    assert_eq!(s.dropoff.get(&1), Some(&1), "dropped off after step 1");

    assert_eq!(report.members.len(), 1);
    let m = &report.members[0];
    assert_eq!(
        (m.id.as_str(), m.leads, m.sent, m.replies),
        (owner_id.to_string().as_str(), 1, 1, 1)
    );

    // The status history: creation, then each change, in order.
    let lead1 = uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM leads WHERE organization_id = '{org}' AND email = 'l1@x.example'"),
    );
    let history =
        analytics::status_history(&mut app.conn(), &tenant, lead_dashboard::ids::LeadId(lead1))
            .unwrap();
    let steps: Vec<(Option<&str>, &str)> = history
        .iter()
        .map(|h| (h.from_status.as_deref(), h.to_status.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (None, "new"),
            (Some("new"), "contacted"),
            (Some("contacted"), "replied")
        ]
    );

    // The page and a CSV show the same numbers.
    let r = c.get("/analytics?range=7d").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Warm intro") && r.body.contains("50.0%"));
    assert!(r.body.contains("Onboarding"));
    assert!(r.body.contains("Thu 19 Nov 2026"));
    let r = c.get("/analytics/export?table=leads&range=7d").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("2026-11-18,0,1,0,1"), "{}", r.body);
    assert!(r.body.contains("2026-11-17,1,0,0,1"), "{}", r.body);
    let r = c.get("/analytics/export?table=templates&range=7d").await;
    assert!(r.body.contains("Warm intro,2,1,50.0"), "{}", r.body);
    // HTMX gets the report alone.
    let r = c.get_htmx("/analytics?range=30d").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"analytics-report\"") && !r.body.contains("<html"));
    // A custom range over 13 months is refused next to the form.
    let r = c
        .get("/analytics?range=custom&from=2025-01-01&to=2026-11-20")
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("at most 13 months"));
    app.stop().await;
}

#[actix_web::test]
async fn a_status_change_on_the_page_is_recorded_with_who_made_it() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    starter_in_auckland(&app);
    let form = |status: &'static str| {
        vec![
            ("first_name", "Anna"),
            ("last_name", "Berger"),
            ("email", "anna@northwind.example"),
            ("status", status),
        ]
    };
    let r = c.post("/leads", &form("new")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let lead = uuid_of(&mut app.conn(), "SELECT id FROM leads");
    let r = c.post(&format!("/leads/{lead}"), &form("contacted")).await;
    assert!(r.status == 303 || r.status == 200, "{}", r.body);
    // Saving without a status change writes no change.
    c.post(&format!("/leads/{lead}"), &form("contacted")).await;
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE source = 'page'"),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM lead_status_changes c JOIN users u ON u.id = c.changed_by
             WHERE u.email = 'owen@example.com' AND c.from_status = 'new' AND c.to_status = 'contacted'"
        ),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM lead_status_changes"), 2);
    assert_eq!(
        app.count(
            "SELECT coalesce(sum(count), 0) FROM analytics_daily WHERE metric = 'status_reached'"
        ),
        2
    );
    app.stop().await;
}

#[actix_web::test]
async fn free_plans_get_an_example_and_no_numbers_and_other_orgs_never_count() {
    let app = TestApp::pinned(utc("2026-11-20T00:00:00Z")).await;
    let c = owner(&app).await;
    let org = org_id(&app, OWNER_SLUG);
    // Another organization, with the fixture's events.
    let other = app.signup("Olga", "olga@example.com").await;
    app.verify_email("olga@example.com");
    let other_org = uuid_of(
        &mut app.conn(),
        "SELECT id FROM organizations WHERE slug = 'olga-s-organization'",
    );
    exec(&app, &format!("UPDATE subscriptions SET plan = 'STARTER', status = 'ACTIVE', trial_ends_at = NULL WHERE organization_id = '{other_org}'"));
    let olga = uuid_of(
        &mut app.conn(),
        "SELECT id FROM users WHERE email = 'olga@example.com'",
    );
    fixture(&app, other_org, olga);
    let r = other.get("/analytics?range=7d").await;
    assert!(r.body.contains("Warm intro"), "the other org sees its own");

    // FREE, trial over: the example and the upgrade link, no figures.
    exec(&app, &format!("UPDATE subscriptions SET plan = 'FREE', status = 'ACTIVE', trial_ends_at = '2026-11-01T00:00:00Z' WHERE organization_id = '{org}'"));
    let r = c.get("/analytics").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Compare plans and upgrade"));
    assert!(r.body.contains("analytics-example"));
    assert!(!r.body.contains("analytics-report") && !r.body.contains("Leads created"));
    let r = c.get("/analytics/export?table=leads").await;
    assert_eq!(r.status, 403);

    // STARTER: the page shows zeros, never the other organization's numbers.
    exec(
        &app,
        &format!("UPDATE subscriptions SET plan = 'STARTER' WHERE organization_id = '{org}'"),
    );
    let r = c.get("/analytics?range=7d").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("analytics-report"));
    assert!(!r.body.contains("Warm intro") && !r.body.contains("Onboarding"));
    let r = c.get("/analytics/export?table=leads&range=7d").await;
    assert!(
        r.body.lines().skip(1).all(|l| l.ends_with(",0,0,0,0")),
        "{}",
        r.body
    );
    // The rows exist, behind the wall: the request role sees only its own.
    assert!(
        app.count(&format!(
            "SELECT count(*) FROM analytics_daily WHERE organization_id = '{other_org}'"
        )) > 0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM analytics_daily WHERE organization_id = '{org}'"
        )),
        0
    );
    app.stop().await;
}

// ── Counters against a recount ────────────────────────────────────────────

#[derive(Debug, Clone)]
enum Op {
    Create { source: usize, owned: bool },
    Status { lead: usize, status: usize },
    Send { lead: usize, template: usize },
    Fail { lead: usize, template: usize },
    Delete { lead: usize },
}

fn op() -> impl Strategy<Value = (Op, u32)> {
    let op = prop_oneof![
        3 => (0..3usize, any::<bool>()).prop_map(|(source, owned)| Op::Create { source, owned }),
        4 => (0..8usize, 0..5usize).prop_map(|(lead, status)| Op::Status { lead, status }),
        3 => (0..8usize, 0..3usize).prop_map(|(lead, template)| Op::Send { lead, template }),
        1 => (0..8usize, 0..3usize).prop_map(|(lead, template)| Op::Fail { lead, template }),
        1 => (0..8usize).prop_map(|lead| Op::Delete { lead }),
    ];
    // Minutes to the next event: up to two days, so events cross local and
    // UTC midnights and the 14-day reply window.
    (op, 1..2880u32)
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Counted {
    #[diesel(sql_type = Text)]
    metric: String,
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = Text)]
    dim: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// The counts recomputed from raw rows by their definitions
/// (docs/analytics.md), with deleted leads' rows (kept in `gone_*` by the
/// test) still counted: counts are history.
const RECOUNT: &str = "
WITH l AS (SELECT * FROM leads WHERE organization_id = $1 UNION ALL SELECT * FROM gone_leads WHERE organization_id = $1),
     m AS (SELECT * FROM messages WHERE organization_id = $1 UNION ALL SELECT * FROM gone_messages WHERE organization_id = $1),
     c AS (SELECT * FROM lead_status_changes WHERE organization_id = $1 UNION ALL SELECT * FROM gone_changes WHERE organization_id = $1),
     first_reached AS (SELECT lead_id, to_status, min(changed_at) AS at FROM c GROUP BY 1, 2),
     local AS (SELECT 'Pacific/Auckland'::text AS tz),
     counted AS (
       SELECT 'lead_created' AS metric, (created_at AT TIME ZONE (SELECT tz FROM local))::date AS day, source AS dim FROM l
       UNION ALL SELECT 'member_leads', (created_at AT TIME ZONE (SELECT tz FROM local))::date, owner_user_id::text FROM l WHERE owner_user_id IS NOT NULL
       UNION ALL SELECT 'status_reached', (at AT TIME ZONE (SELECT tz FROM local))::date, to_status FROM first_reached
       UNION ALL SELECT 'message_sent', (sent_at AT TIME ZONE (SELECT tz FROM local))::date, '' FROM m WHERE status = 'sent'
       UNION ALL SELECT 'template_sent', (sent_at AT TIME ZONE (SELECT tz FROM local))::date, template_id::text FROM m WHERE status = 'sent' AND template_id IS NOT NULL
       UNION ALL SELECT 'member_sent', (sent_at AT TIME ZONE (SELECT tz FROM local))::date, sender_user_id::text FROM m WHERE status = 'sent' AND sender_user_id IS NOT NULL
       UNION ALL SELECT 'message_failed', (created_at AT TIME ZONE (SELECT tz FROM local))::date, '' FROM m WHERE status = 'failed'
       UNION ALL SELECT DISTINCT ON (f.lead_id, m.template_id) 'template_replied', (f.at AT TIME ZONE (SELECT tz FROM local))::date, m.template_id::text
         FROM first_reached f JOIN m ON m.lead_id = f.lead_id AND m.status = 'sent' AND m.template_id IS NOT NULL
              AND m.sent_at > f.at - interval '14 days' AND m.sent_at <= f.at
         WHERE f.to_status = 'replied'
     )
SELECT metric, day, dim, count(*)::bigint AS count FROM counted GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

const TEMPLATES: [&str; 2] = [
    "00000000-0000-0000-0000-0000000000c1",
    "00000000-0000-0000-0000-0000000000c2",
];
const STATUSES: [&str; 5] = ["new", "contacted", "replied", "qualified", "lost"];

fn run_ops(conn: &mut PgConnection, org: Uuid, user: Uuid, ops: &[(Op, u32)]) {
    let sql = |conn: &mut PgConnection, s: String| {
        diesel::sql_query(&s)
            .execute(conn)
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    };
    let mut at = utc("2026-11-01T00:00:00Z");
    let mut leads: Vec<Uuid> = Vec::new();
    for (n, (op, minutes)) in ops.iter().enumerate() {
        at += Duration::minutes(i64::from(*minutes));
        let ts = at.to_rfc3339();
        let pick = |i: &usize| leads.get(i % leads.len().max(1)).copied();
        match op {
            Op::Create { source, owned } => {
                let id = Uuid::new_v4();
                let owner = if *owned {
                    format!("'{user}'")
                } else {
                    "NULL".into()
                };
                let source = ["page", "csv", "api"][*source];
                sql(conn, format!(
                    "INSERT INTO leads (organization_id, id, first_name, email, source, owner_user_id, created_at, updated_at)
                     VALUES ('{org}', '{id}', 'L', 'l{n}@x.example', '{source}', {owner}, '{ts}', '{ts}')"
                ));
                leads.push(id);
            }
            Op::Status { lead, status } => {
                if let Some(l) = pick(lead) {
                    sql(conn, format!(
                        "UPDATE leads SET status = '{}', updated_at = '{ts}' WHERE organization_id = '{org}' AND id = '{l}'",
                        STATUSES[*status]
                    ));
                }
            }
            Op::Send { lead, template } | Op::Fail { lead, template } => {
                if let Some(l) = pick(lead) {
                    let tpl = TEMPLATES
                        .get(*template)
                        .map_or("NULL, NULL".to_string(), |t| format!("'{org}', '{t}'"));
                    let id = Uuid::new_v4();
                    sql(conn, format!(
                        "INSERT INTO messages (organization_id, id, lead_id, template_owner_key, template_id, to_email, subject, body, sender_user_id, created_at)
                         VALUES ('{org}', '{id}', '{l}', {tpl}, 'x@x.example', 'S', 'B', '{user}', '{ts}')"
                    ));
                    let done = if matches!(op, Op::Send { .. }) {
                        format!("status = 'sent', sent_at = '{ts}'")
                    } else {
                        "status = 'failed', error = 'refused'".to_string()
                    };
                    sql(conn, format!("UPDATE messages SET {done} WHERE organization_id = '{org}' AND id = '{id}'"));
                }
            }
            Op::Delete { lead } => {
                if let Some(l) = pick(lead) {
                    let w = format!("organization_id = '{org}' AND lead_id = '{l}'");
                    // Kept aside first: the recount still counts them.
                    sql(conn, format!("INSERT INTO gone_leads SELECT * FROM leads WHERE organization_id = '{org}' AND id = '{l}'"));
                    sql(
                        conn,
                        format!("INSERT INTO gone_messages SELECT * FROM messages WHERE {w}"),
                    );
                    sql(
                        conn,
                        format!(
                            "INSERT INTO gone_changes SELECT * FROM lead_status_changes WHERE {w}"
                        ),
                    );
                    sql(
                        conn,
                        format!("DELETE FROM leads WHERE organization_id = '{org}' AND id = '{l}'"),
                    );
                    leads.retain(|x| *x != l);
                }
            }
        }
    }
}

#[test]
fn daily_counters_equal_a_recount_from_raw_rows() {
    let db = TestDb::new();
    let mut conn = db.conn();
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        "CREATE TABLE gone_leads AS SELECT * FROM leads WITH NO DATA;
         CREATE TABLE gone_messages AS SELECT * FROM messages WITH NO DATA;
         CREATE TABLE gone_changes AS SELECT * FROM lead_status_changes WITH NO DATA;",
    )
    .unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    // The runner takes a `Fn`: the connection and case number live in cells.
    let conn = std::cell::RefCell::new(conn);
    let case = std::cell::Cell::new(0u32);
    runner
        .run(&proptest::collection::vec(op(), 1..60), |ops| {
            case.set(case.get() + 1);
            let case = case.get();
            let conn = &mut *conn.borrow_mut();
            let (org, user) = (Uuid::new_v4(), Uuid::new_v4());
            diesel::connection::SimpleConnection::batch_execute(conn, &format!(
                "INSERT INTO users (id, email, name, password_hash) VALUES ('{user}', 'u{case}@x.example', 'U', 'x');
                 INSERT INTO organizations (id, name, slug, time_zone) VALUES ('{org}', 'O', 'o-{case}', 'Pacific/Auckland');
                 INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) VALUES
                   ('{org}', '{org}', '{}', 'A', 'S', 'B'), ('{org}', '{org}', '{}', 'B', 'S', 'B');",
                TEMPLATES[0], TEMPLATES[1]
            ))
            .unwrap();
            run_ops(conn, org, user, &ops);
            let kept: Vec<Counted> = diesel::sql_query(
                "SELECT metric, day, dim, count FROM analytics_daily WHERE organization_id = $1 AND count > 0
                 ORDER BY 1, 2, 3",
            )
            .bind::<diesel::sql_types::Uuid, _>(org)
            .load(conn)
            .unwrap();
            let recount: Vec<Counted> = diesel::sql_query(RECOUNT)
                .bind::<diesel::sql_types::Uuid, _>(org)
                .load(conn)
                .unwrap();
            prop_assert_eq!(kept, recount);
            // Each case has its own organization; this one is done.
            diesel::connection::SimpleConnection::batch_execute(
                conn,
                &format!("DELETE FROM organizations WHERE id = '{org}'"),
            )
            .unwrap();
            Ok(())
        })
        .unwrap();
}
