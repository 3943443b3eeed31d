//! Benchmark seeding, and the property the benchmark measures: meters read
//! the per-period counters, never the usage records.

use chrono::{TimeZone, Utc};
use lead_dashboard::db::meters::{daily_history, snapshot};
use lead_dashboard::db::seed::{seed, Seeded};
use lead_dashboard::domain::plans::LimitKind;

use super::*;

#[test]
fn seeded_counters_match_the_records_and_meters_never_read_records() {
    let db = db();
    let mut conn = db.conn();
    // Mid-month, so "leads this month" holds whatever day the test runs.
    let now = Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap();
    let seeded = seed(&mut conn, 3, 20, 5_000, now).unwrap();
    assert!(seeded.email.starts_with("bench-") && seeded.password.len() == 16);
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM organizations"), 3);
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM leads"), 60);
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM usage_records"),
        5_000
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT sum(count) FROM usage_counters WHERE period = 'day'"
        ),
        5_000
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT sum(count) FROM usage_counters WHERE period = 'month'"
        ),
        2_500,
        "months count leads only"
    );
    let tenant = seeded_tenant(&mut conn, &seeded);
    let read = |conn: &mut PgConnection| {
        let s = snapshot(conn, &tenant, now).unwrap();
        let h = daily_history(conn, &tenant, chrono_tz::UTC, now, 30).unwrap();
        (s.meters, h)
    };
    let before = read(&mut conn);
    let leads = before
        .0
        .iter()
        .find(|m| m.kind == LimitKind::LeadsPerMonth)
        .unwrap();
    assert!(
        leads.used > 0 && leads.limit.is_none(),
        "the measured organization is on Enterprise"
    );
    exec(&mut conn, "DELETE FROM usage_records");
    assert_eq!(
        read(&mut conn),
        before,
        "meters and chart come from the counters"
    );
}

/// The seeded organization, acted on by its owner.
fn seeded_tenant(conn: &mut PgConnection, seeded: &Seeded) -> Tenant {
    let org = OrgId(crate::common::uuid_of(
        conn,
        &format!(
            "SELECT id FROM organizations WHERE slug = '{}'",
            seeded.org_slug
        ),
    ));
    let owner = UserId(crate::common::uuid_of(
        conn,
        &format!("SELECT id FROM users WHERE email = '{}'", seeded.email),
    ));
    Tenant::for_member(conn, org, owner).unwrap()
}

/// Six minutes into July, "leads this month" is July's few minutes, not
/// June's month; a minute before midnight it is June's. The seed and the
/// meters both take `now`, so this holds whenever the test runs.
#[test]
fn seeded_meters_follow_the_month_of_now_at_its_turn() {
    let db = db();
    let mut conn = db.conn();
    let now = utc("2026-07-01T00:06:00Z");
    let seeded = seed(&mut conn, 1, 0, 2_000, now).unwrap();
    let tenant = seeded_tenant(&mut conn, &seeded);
    let leads_used = |conn: &mut PgConnection, at| {
        snapshot(conn, &tenant, at)
            .unwrap()
            .meters
            .iter()
            .find(|m| m.kind == LimitKind::LeadsPerMonth)
            .unwrap()
            .used
    };
    let leads_between = |conn: &mut PgConnection, from: &str, to: &str| {
        scalar(conn, &format!(
            "SELECT count(*) FROM usage_records WHERE kind = 'lead_created' AND occurred_at >= '{from}' AND occurred_at < '{to}'"
        ))
    };
    let july = leads_between(&mut conn, "2026-07-01T00:00:00Z", "2026-08-01T00:00:00Z");
    let june = leads_between(&mut conn, "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z");
    assert!(june > 50 && july < june, "June {june}, July {july}");
    assert_eq!(leads_used(&mut conn, now), july);
    assert_eq!(leads_used(&mut conn, utc("2026-06-30T23:59:00Z")), june);
}
