//! `consume_at` / `guard_count_limit` against the effective plan: every plan and
//! status, unlimited, time-zone period boundaries, and 50-way races.

use std::sync::{Arc, Barrier};

use diesel::prelude::*;
use lead_dashboard::db::meters::snapshot;
use lead_dashboard::db::usage::{consume_at, guard_count_limit, UsageKind};
use lead_dashboard::db::DbError;
use lead_dashboard::db::Tenant;
use lead_dashboard::domain::plans::LimitKind;
use lead_dashboard::domain::subscription::{day_start, month_start};

use super::*;

/// (plan, status, days past due, expected leads/month, expected messages/day)
type Case = (
    &'static str,
    &'static str,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

const CASES: &[Case] = &[
    ("FREE", "TRIAL", None, Some(50), Some(10)),
    ("STARTER", "TRIAL", None, Some(500), Some(100)),
    ("PROFESSIONAL", "ACTIVE", None, Some(5000), Some(500)),
    ("STARTER", "PAST_DUE", Some(3), Some(500), Some(100)),
    ("STARTER", "PAST_DUE", Some(8), Some(50), Some(10)),
    ("PROFESSIONAL", "CANCELED", None, Some(50), Some(10)),
    ("ENTERPRISE", "EXPIRED", None, Some(50), Some(10)),
    ("ENTERPRISE", "ACTIVE", None, None, None),
    ("ENTERPRISE", "PAST_DUE", Some(6), None, None),
    ("ENTERPRISE", "TRIAL", None, None, None),
];

/// Puts the counter one below `limit` (or very high when unlimited), then
/// checks that one more passes and the next is refused (or passes when unlimited).
fn check_periodic(
    conn: &mut PgConnection,
    org: &Org,
    kind: UsageKind,
    limit: Option<i64>,
    now: DateTime<Utc>,
) {
    let tz = chrono_tz::UTC;
    let (name, period, start) = match kind {
        UsageKind::LeadCreated => ("lead_created", "month", month_start(tz, now)),
        _ => ("message_sent", "day", day_start(tz, now)),
    };
    let tenant = org.tenant(conn);
    set_counter(
        conn,
        org.id,
        name,
        period,
        start,
        limit.unwrap_or(1_000_000_000) - 1,
    );
    assert!(
        consume_one(conn, &tenant, kind, now),
        "{kind:?} below {limit:?}"
    );
    let records = scalar(conn, "SELECT count(*) FROM usage_records");
    let next = consume_one(conn, &tenant, kind, now);
    assert_eq!(next, limit.is_none(), "{kind:?} at {limit:?}");
    let expected_records = records + i64::from(limit.is_none());
    assert_eq!(
        scalar(conn, "SELECT count(*) FROM usage_records"),
        expected_records
    );
    let expected = limit.map_or(1_000_000_001, |l| l);
    assert_eq!(counter(conn, org.id, name, period, start), expected);
}

#[test]
fn limits_follow_the_effective_plan_for_every_status() {
    let db = db();
    let mut conn = db.conn();
    // Mid-month, and at both sides of a month's turn (where a period
    // computed from another instant than the app's would miss the counter).
    let instants = [fixed_now()].into_iter().chain(boundary_instants());
    for (j, now) in instants.enumerate() {
        for (i, (plan, status, due, leads, messages)) in CASES.iter().enumerate() {
            let org = make_org_at(&mut conn, &format!("Case{j}x{i}"), now);
            set_subscription_at(&mut conn, org.id, plan, status, *due, now);
            check_periodic(&mut conn, &org, UsageKind::LeadCreated, *leads, now);
            check_periodic(&mut conn, &org, UsageKind::MessageSent, *messages, now);
            let tenant = org.tenant(&mut conn);
            let snap = snapshot(&mut conn, &tenant, now).unwrap();
            let meter = |k| snap.meters.iter().find(|m| m.kind == k).unwrap().limit;
            let at = format!("{plan} {status} at {now}");
            assert_eq!(meter(LimitKind::LeadsPerMonth), *leads, "{at}");
            assert_eq!(meter(LimitKind::MessagesPerDay), *messages, "{at}");
        }
    }
}

fn insert_templates(conn: &mut PgConnection, org: &Org, n: usize) {
    for i in 0..n {
        exec(conn, &format!(
            "INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) VALUES ('{0}', '{0}', gen_random_uuid(), 'T{i}', 's', 'b')",
            org.id
        ));
    }
}

#[test]
fn count_limits_follow_the_effective_plan_and_ignore_global_rows() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Tess");
    let tenant = org.tenant(&mut conn);
    let guard = |conn: &mut PgConnection, kind| {
        conn.transaction(|conn| guard_count_limit(conn, &tenant, kind, fixed_now()))
    };
    // FREE: 3 templates, 1 sequence, 1 user; the three global templates do not count.
    insert_templates(&mut conn, &org, 2);
    assert!(guard(&mut conn, LimitKind::Templates).is_ok());
    insert_templates(&mut conn, &org, 1);
    assert!(matches!(
        guard(&mut conn, LimitKind::Templates),
        Err(DbError::LimitReached(_))
    ));
    assert!(matches!(
        guard(&mut conn, LimitKind::Users),
        Err(DbError::LimitReached(_))
    ));
    // An expired subscription of a big plan is FREE too.
    set_subscription(&mut conn, org.id, "ENTERPRISE", "EXPIRED", None);
    assert!(matches!(
        guard(&mut conn, LimitKind::Templates),
        Err(DbError::LimitReached(_))
    ));
    set_subscription(&mut conn, org.id, "STARTER", "ACTIVE", None);
    assert!(guard(&mut conn, LimitKind::Templates).is_ok());
    assert!(guard(&mut conn, LimitKind::Users).is_ok());
    set_subscription(&mut conn, org.id, "ENTERPRISE", "ACTIVE", None);
    insert_templates(&mut conn, &org, 200);
    assert!(
        guard(&mut conn, LimitKind::Templates).is_ok(),
        "unlimited never blocks"
    );
}

#[test]
fn a_refused_consumption_leaves_no_trace() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Rita");
    let now = fixed_now();
    let month = month_start(chrono_tz::UTC, now);
    set_counter(&mut conn, org.id, "lead_created", "month", month, 50);
    let tenant = org.tenant(&mut conn);
    let err = conn
        .transaction(|c| consume_at(c, &tenant, UsageKind::LeadCreated, None, now))
        .unwrap_err();
    let DbError::LimitReached(message) = err else {
        panic!("expected LimitReached")
    };
    assert!(message.contains("Free plan allows 50"), "{message}");
    assert_eq!(
        counter(&mut conn, org.id, "lead_created", "month", month),
        50
    );
    let today = day_start(chrono_tz::UTC, now);
    assert_eq!(counter(&mut conn, org.id, "lead_created", "day", today), 0);
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM usage_records"), 0);
    // An allowed one writes counter, daily counter and record with user and resource.
    set_counter(&mut conn, org.id, "lead_created", "month", month, 10);
    let resource = uuid::Uuid::now_v7();
    conn.transaction(|c| consume_at(c, &tenant, UsageKind::LeadCreated, Some(resource), now))
        .unwrap();
    assert_eq!(
        counter(&mut conn, org.id, "lead_created", "month", month),
        11
    );
    assert_eq!(counter(&mut conn, org.id, "lead_created", "day", today), 1);
    assert_eq!(
        scalar(&mut conn, &format!(
            "SELECT count(*) FROM usage_records WHERE kind = 'lead_created' AND resource_id = '{resource}' AND user_id = '{}'",
            org.owner
        )),
        1
    );
}

#[test]
fn auckland_periods_turn_at_local_midnight() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Aroha");
    set_time_zone(&mut conn, org.id, "Pacific/Auckland");
    let tenant = org.tenant(&mut conn);
    // NZDT (UTC+13): local 2026-01-01 00:00 is 2025-12-31 11:00 UTC.
    let before = utc("2025-12-31T10:59:59Z");
    let after = utc("2025-12-31T11:00:00Z");
    set_counter(
        &mut conn,
        org.id,
        "lead_created",
        "month",
        date(2025, 12, 1),
        49,
    );
    assert!(consume_one(
        &mut conn,
        &tenant,
        UsageKind::LeadCreated,
        before
    ));
    assert!(
        !consume_one(&mut conn, &tenant, UsageKind::LeadCreated, before),
        "December is full"
    );
    assert!(
        consume_one(&mut conn, &tenant, UsageKind::LeadCreated, after),
        "January is new"
    );
    assert_eq!(
        counter(
            &mut conn,
            org.id,
            "lead_created",
            "month",
            date(2025, 12, 1)
        ),
        50
    );
    assert_eq!(
        counter(&mut conn, org.id, "lead_created", "month", date(2026, 1, 1)),
        1
    );
    assert_eq!(
        counter(&mut conn, org.id, "lead_created", "day", date(2025, 12, 31)),
        1
    );
    assert_eq!(
        counter(&mut conn, org.id, "lead_created", "day", date(2026, 1, 1)),
        1
    );
    // Messages: the same instant is already tomorrow in Auckland (UTC still says 31 Dec).
    set_counter(
        &mut conn,
        org.id,
        "message_sent",
        "day",
        date(2025, 12, 31),
        10,
    );
    assert!(!consume_one(
        &mut conn,
        &tenant,
        UsageKind::MessageSent,
        before
    ));
    assert!(consume_one(
        &mut conn,
        &tenant,
        UsageKind::MessageSent,
        after
    ));
    assert_eq!(
        counter(&mut conn, org.id, "message_sent", "day", date(2026, 1, 1)),
        1
    );
    // The meters read the counters of the local period.
    let at = |conn: &mut PgConnection, now| {
        let s = snapshot(conn, &tenant, now).unwrap();
        let used = |k| s.meters.iter().find(|m| m.kind == k).unwrap().used;
        (
            used(LimitKind::LeadsPerMonth),
            used(LimitKind::MessagesPerDay),
        )
    };
    assert_eq!(at(&mut conn, before), (50, 10));
    assert_eq!(at(&mut conn, after), (1, 1));
}

#[test]
fn los_angeles_periods_turn_at_local_midnight() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Lucia");
    set_time_zone(&mut conn, org.id, "America/Los_Angeles");
    let tenant = org.tenant(&mut conn);
    // PST (UTC-8): local 2026-03-01 00:00 is 2026-03-01 08:00 UTC.
    let before = utc("2026-03-01T07:59:59Z");
    let after = utc("2026-03-01T08:00:00Z");
    set_counter(
        &mut conn,
        org.id,
        "lead_created",
        "month",
        date(2026, 2, 1),
        50,
    );
    assert!(
        !consume_one(&mut conn, &tenant, UsageKind::LeadCreated, before),
        "still February"
    );
    assert!(
        consume_one(&mut conn, &tenant, UsageKind::LeadCreated, after),
        "March"
    );
    assert_eq!(
        counter(&mut conn, org.id, "lead_created", "month", date(2026, 3, 1)),
        1
    );
    assert_eq!(
        counter(&mut conn, org.id, "lead_created", "day", date(2026, 3, 1)),
        1
    );
    // PDT (UTC-7): local 2026-07-15 00:00 is 07:00 UTC.
    let late = utc("2026-07-15T06:59:59Z");
    let early = utc("2026-07-15T07:00:00Z");
    set_counter(
        &mut conn,
        org.id,
        "message_sent",
        "day",
        date(2026, 7, 14),
        9,
    );
    assert!(consume_one(
        &mut conn,
        &tenant,
        UsageKind::MessageSent,
        late
    ));
    assert!(
        !consume_one(&mut conn, &tenant, UsageKind::MessageSent, late),
        "14 July is full"
    );
    assert!(
        consume_one(&mut conn, &tenant, UsageKind::MessageSent, early),
        "15 July is new"
    );
    assert_eq!(
        counter(&mut conn, org.id, "message_sent", "day", date(2026, 7, 14)),
        10
    );
    assert_eq!(
        counter(&mut conn, org.id, "message_sent", "day", date(2026, 7, 15)),
        1
    );
    let records = scalar(&mut conn, &format!(
        "SELECT count(*) FROM usage_records WHERE organization_id = '{}' AND occurred_at IN ('{late}', '{early}')",
        org.id
    ));
    assert_eq!(records, 2, "records keep the exact instant");
}

/// 50 threads, each with its own connection and transaction, consume at once
/// (all at `fixed_now`); returns how many succeeded.
fn race(db: &crate::common::TestDb, org: &Org, kind: UsageKind, threads: usize) -> usize {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (barrier, url, org) = (barrier.clone(), db.url.clone(), *org);
            std::thread::spawn(move || {
                let mut conn = connect_with_retry(&url);
                let tenant = Tenant::for_member(&mut conn, org.id, org.owner).unwrap();
                barrier.wait();
                conn.transaction(|c| {
                    let res = consume_at(c, &tenant, kind, None, fixed_now());
                    // Hold the transaction open a moment so the others pile up on it.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    res
                })
                .is_ok()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|ok| *ok)
        .count()
}

/// The test server is shared: wait for a free connection slot if needed.
fn connect_with_retry(url: &str) -> PgConnection {
    for _ in 0..300 {
        if let Ok(conn) = PgConnection::establish(url) {
            return conn;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no database connection")
}

#[test]
fn fifty_concurrent_leads_with_three_left_create_exactly_three() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Racer");
    let month = month_start(chrono_tz::UTC, fixed_now());
    set_counter(&mut conn, org.id, "lead_created", "month", month, 47);
    assert_eq!(race(&db, &org, UsageKind::LeadCreated, 50), 3);
    assert_eq!(
        counter(&mut conn, org.id, "lead_created", "month", month),
        50
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM usage_records WHERE kind = 'lead_created'"
        ),
        3
    );
}

#[test]
fn fifty_concurrent_messages_with_three_left_send_exactly_three() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Sender");
    set_subscription(&mut conn, org.id, "STARTER", "ACTIVE", None);
    let today = day_start(chrono_tz::UTC, fixed_now());
    set_counter(&mut conn, org.id, "message_sent", "day", today, 97);
    assert_eq!(race(&db, &org, UsageKind::MessageSent, 50), 3);
    assert_eq!(
        counter(&mut conn, org.id, "message_sent", "day", today),
        100
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM usage_records WHERE kind = 'message_sent'"
        ),
        3
    );
}

#[test]
fn concurrent_first_uses_of_a_period_meet_in_one_counter_row() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Fresh");
    // No counter row yet: 50 racing inserts must all land in one row, 10 allowed (FREE/day).
    assert_eq!(race(&db, &org, UsageKind::MessageSent, 50), 10);
    let today = day_start(chrono_tz::UTC, fixed_now());
    assert_eq!(counter(&mut conn, org.id, "message_sent", "day", today), 10);
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM usage_counters WHERE kind = 'message_sent'"
        ),
        1
    );
}
