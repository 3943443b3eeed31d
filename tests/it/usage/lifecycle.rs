//! The lifecycle job: trial end, scheduled downgrade at period end, grace
//! expiry, cancellation and renewal — each applied exactly once, with one
//! "system" audit event, even when two runners race on two connections.

use std::sync::{Arc, Barrier};

use chrono::Duration;
use lead_dashboard::config::Config;
use lead_dashboard::db::SystemAccess;
use lead_dashboard::jobs::lifecycle::run_at;

use super::*;

/// Two runners, each on its own connection, start at the same moment; the
/// number of transitions both applied together.
fn race_job(db: &crate::common::TestDb, now: DateTime<Utc>) -> usize {
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (barrier, url) = (barrier.clone(), db.url.clone());
            std::thread::spawn(move || {
                let mut conn = PgConnection::establish(&url).unwrap();
                let config = Config::for_tests(&url);
                barrier.wait();
                run_at(&mut conn, &SystemAccess::grant_at_startup(), &config, now).unwrap()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

fn status_count(conn: &mut PgConnection, plan: &str, status: &str) -> i64 {
    scalar(
        conn,
        &format!(
            "SELECT count(*) FROM subscriptions WHERE plan = '{plan}' AND status = '{status}'"
        ),
    )
}

fn audits(conn: &mut PgConnection, action: &str) -> i64 {
    scalar(conn, &format!(
        "SELECT count(*) FROM audit_events WHERE action = '{action}' AND actor_label = 'system' AND actor_user_id IS NULL"
    ))
}

/// `sql` with the database's `now()` replaced by the tests' fixed instant,
/// so fixtures and job runs agree on the time whenever the test runs.
fn at_fixed_now(sql: &str) -> String {
    sql.replace("now()", &crate::common::ts(fixed_now()))
}

/// `n` organizations whose subscriptions are set by `sql` (a SET clause;
/// `now()` in it means `fixed_now`).
fn orgs_with(conn: &mut PgConnection, prefix: &str, n: usize, set: &str) {
    let set = at_fixed_now(set);
    for i in 0..n {
        let org = make_org(conn, &format!("{prefix}{i}"));
        exec(
            conn,
            &format!(
                "UPDATE subscriptions SET {set} WHERE organization_id = '{}'",
                org.id
            ),
        );
    }
}

#[test]
fn trial_end_moves_each_subscription_exactly_once() {
    let db = db();
    let mut conn = db.conn();
    let ended = "trial_ends_at = now() - interval '1 minute'";
    orgs_with(&mut conn, "Free", 10, ended);
    orgs_with(&mut conn, "Paid", 10, &format!("{ended}, plan = 'STARTER'"));
    orgs_with(
        &mut conn,
        "Card",
        10,
        &format!("{ended}, plan = 'PROFESSIONAL', has_payment_method = true"),
    );
    orgs_with(
        &mut conn,
        "Later",
        5,
        "trial_ends_at = now() + interval '1 hour'",
    );
    let now = fixed_now();
    assert_eq!(race_job(&db, now), 30);
    assert_eq!(status_count(&mut conn, "FREE", "ACTIVE"), 10);
    assert_eq!(status_count(&mut conn, "STARTER", "EXPIRED"), 10);
    assert_eq!(status_count(&mut conn, "PROFESSIONAL", "ACTIVE"), 10);
    assert_eq!(status_count(&mut conn, "FREE", "TRIAL"), 5, "not yet due");
    assert_eq!(audits(&mut conn, "subscription.trial_ended"), 30);
    // Paid plans with a card pay their first period, which starts at the trial end.
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM invoices WHERE status = 'paid' AND total_cents = 14900"
        ),
        10
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM subscriptions WHERE plan = 'PROFESSIONAL' AND current_period_start = trial_ends_at AND current_period_end = trial_ends_at + interval '1 month'"),
        10
    );
    assert_eq!(race_job(&db, now), 0, "nothing is applied twice");
    assert_eq!(audits(&mut conn, "subscription.trial_ended"), 30);
}

#[test]
fn a_scheduled_downgrade_applies_at_period_end_exactly_once() {
    let db = db();
    let mut conn = db.conn();
    let set = "status = 'ACTIVE', plan = 'PROFESSIONAL', scheduled_plan = 'STARTER', has_payment_method = true, \
               trial_ends_at = NULL, current_period_start = now() - interval '1 month', current_period_end = now() - interval '1 second'";
    orgs_with(&mut conn, "Down", 20, set);
    orgs_with(
        &mut conn,
        "Mid",
        3,
        &set.replace("- interval '1 second'", "+ interval '3 days'"),
    );
    let now = fixed_now();
    assert_eq!(race_job(&db, now), 20);
    assert_eq!(status_count(&mut conn, "STARTER", "ACTIVE"), 20);
    assert_eq!(
        status_count(&mut conn, "PROFESSIONAL", "ACTIVE"),
        3,
        "period not over yet"
    );
    assert_eq!(scalar(&mut conn, &at_fixed_now("SELECT count(*) FROM subscriptions WHERE plan = 'STARTER' AND scheduled_plan IS NULL AND current_period_end > now()")), 20);
    assert_eq!(audits(&mut conn, "subscription.downgraded"), 20);
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM invoices WHERE total_cents = 4900"
        ),
        20,
        "the new period is paid at the new price"
    );
    assert_eq!(race_job(&db, now), 0);
}

#[test]
fn grace_expiry_and_cancellation_end_subscriptions_once() {
    let db = db();
    let mut conn = db.conn();
    let running = "trial_ends_at = NULL, current_period_end = now() + interval '20 days'";
    orgs_with(&mut conn, "Late", 8, &format!("{running}, plan = 'STARTER', status = 'PAST_DUE', past_due_since = now() - interval '7 days 1 minute'"));
    orgs_with(&mut conn, "Grace", 4, &format!("{running}, plan = 'STARTER', status = 'PAST_DUE', past_due_since = now() - interval '6 days'"));
    orgs_with(&mut conn, "Quit", 6, "trial_ends_at = NULL, plan = 'PROFESSIONAL', status = 'ACTIVE', cancel_at_period_end = true, current_period_end = now() - interval '1 minute'");
    let now = fixed_now();
    assert_eq!(race_job(&db, now), 14);
    assert_eq!(status_count(&mut conn, "STARTER", "EXPIRED"), 8);
    assert_eq!(
        status_count(&mut conn, "STARTER", "PAST_DUE"),
        4,
        "still in grace"
    );
    assert_eq!(status_count(&mut conn, "PROFESSIONAL", "CANCELED"), 6);
    assert_eq!(audits(&mut conn, "subscription.grace_expired"), 8);
    assert_eq!(audits(&mut conn, "subscription.canceled"), 6);
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM invoices"),
        0,
        "nothing charged"
    );
    assert_eq!(race_job(&db, now), 0);
    // Later, the rest of the grace runs out.
    assert_eq!(race_job(&db, now + Duration::days(2)), 4);
    assert_eq!(status_count(&mut conn, "STARTER", "EXPIRED"), 12);
}

#[test]
fn renewals_roll_the_period_and_catch_up_missed_ones() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Rolf");
    exec(&mut conn, &format!(
        "UPDATE subscriptions SET trial_ends_at = NULL, plan = 'STARTER', status = 'ACTIVE', has_payment_method = true, \
         current_period_start = '2026-01-15T10:00:00Z', current_period_end = '2026-02-15T10:00:00Z' WHERE organization_id = '{}'",
        org.id
    ));
    // Three periods have ended by 20 April: Feb–Mar, Mar–Apr, Apr–May are started.
    assert_eq!(race_job(&db, utc("2026-04-20T00:00:00Z")), 3);
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM subscriptions WHERE current_period_start = '2026-04-15T10:00:00Z' AND current_period_end = '2026-05-15T10:00:00Z'"),
        1
    );
    assert_eq!(audits(&mut conn, "subscription.renewed"), 3);
    let numbers = scalar(&mut conn, "SELECT count(*) FROM invoices WHERE number IN ('ROL-2026-0001', 'ROL-2026-0002', 'ROL-2026-0003')");
    assert_eq!(numbers, 3, "invoice numbers run without gaps");
    // Without a payment method a renewal fails and the subscription falls past due.
    exec(
        &mut conn,
        "UPDATE subscriptions SET has_payment_method = false",
    );
    assert_eq!(race_job(&db, utc("2026-05-16T00:00:00Z")), 1);
    assert_eq!(status_count(&mut conn, "STARTER", "PAST_DUE"), 1);
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM subscriptions WHERE past_due_since = '2026-05-16T00:00:00Z'"
        ),
        1
    );
}
