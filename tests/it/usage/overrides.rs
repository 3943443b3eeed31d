//! Negotiated limits through the command line: they apply at once, expire at
//! the end of the given local day, are audited, and bad input changes nothing.

use chrono::{Duration, Utc};
use clap::Parser;
use lead_dashboard::cli::{run_org, Cli, Command};
use lead_dashboard::db::usage::{effective_limits, org_and_subscription, UsageKind};
use lead_dashboard::domain::plans::LimitKind;
use lead_dashboard::domain::subscription::month_start;

use super::*;

/// Runs `lead-dashboard org …` as the binary would; the printed text or the error.
fn org_cmd(conn: &mut PgConnection, args: &[&str], now: DateTime<Utc>) -> Result<String, String> {
    let argv = ["lead-dashboard", "org"].iter().chain(args).copied();
    let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    let Some(Command::Org(cmd)) = cli.command else {
        panic!("not an org command")
    };
    run_org(conn, &cmd, now)
}

fn leads_limit(conn: &mut PgConnection, org: &Org, now: DateTime<Utc>) -> Option<i64> {
    let tenant = org.tenant(conn);
    let (_, sub) = org_and_subscription(conn, &tenant).unwrap();
    effective_limits(conn, &tenant, &sub, now)
        .unwrap()
        .limits
        .get(LimitKind::LeadsPerMonth)
}

#[test]
fn overrides_apply_and_expire() {
    let db = db();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Olga");
    set_time_zone(&mut conn, org.id, "Pacific/Auckland");
    let slug = "olga-s-organization";
    let now = fixed_now();
    let out = org_cmd(&mut conn, &["set-limit", slug, "leads_per_month", "2"], now).unwrap();
    assert!(out.contains("leads_per_month = 2"), "{out}");
    let tenant = org.tenant(&mut conn);
    assert!(consume_one(&mut conn, &tenant, UsageKind::LeadCreated, now));
    assert!(consume_one(&mut conn, &tenant, UsageKind::LeadCreated, now));
    assert!(
        !consume_one(&mut conn, &tenant, UsageKind::LeadCreated, now),
        "override of 2 holds"
    );
    // Unlimited replaces it; the plan's 50 would have stopped this.
    org_cmd(
        &mut conn,
        &["set-limit", slug, "leads_per_month", "unlimited"],
        now,
    )
    .unwrap();
    let month = month_start(chrono_tz::Pacific::Auckland, now);
    set_counter(&mut conn, org.id, "lead_created", "month", month, 500);
    assert!(consume_one(&mut conn, &tenant, UsageKind::LeadCreated, now));
    // With an end date: in force through that local day, the plan's limit after.
    let tz = chrono_tz::Pacific::Auckland;
    let tomorrow = (now.with_timezone(&tz).date_naive() + Duration::days(1)).to_string();
    org_cmd(
        &mut conn,
        &[
            "set-limit",
            slug,
            "leads_per_month",
            "7",
            "--until",
            &tomorrow,
        ],
        now,
    )
    .unwrap();
    assert_eq!(leads_limit(&mut conn, &org, now), Some(7));
    assert_eq!(
        leads_limit(&mut conn, &org, now + Duration::hours(23)),
        Some(7)
    );
    assert_eq!(
        leads_limit(
            &mut conn,
            &org,
            now + Duration::days(2) + Duration::hours(1)
        ),
        Some(50)
    );
    let show = org_cmd(&mut conn, &["show", slug], now).unwrap();
    assert!(
        show.contains("leads_per_month") && show.contains("override until"),
        "{show}"
    );
    assert!(show.contains("Free · Trial"), "{show}");
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM audit_events WHERE action = 'limit.overridden' AND actor_label = 'system' AND target = 'leads_per_month'"),
        3
    );
    let out = org_cmd(&mut conn, &["clear-limit", slug, "leads_per_month"], now).unwrap();
    assert!(out.contains("back to the plan"), "{out}");
    assert_eq!(leads_limit(&mut conn, &org, now), Some(50));
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM audit_events WHERE action = 'limit.override_removed'"
        ),
        1
    );
}

#[test]
fn bad_override_input_changes_nothing() {
    let db = db();
    let mut conn = db.conn();
    make_org(&mut conn, "Bea");
    let slug = "bea-s-organization";
    let now = fixed_now();
    let cases: &[(&[&str], &str)] = &[
        (&["set-limit", slug, "leads", "5"], "unknown limit"),
        (&["set-limit", slug, "users", "-1"], "invalid value"),
        (&["set-limit", slug, "users", "lots"], "invalid value"),
        (
            &["set-limit", "no-such-org", "users", "5"],
            "no organization",
        ),
        (
            &["set-limit", slug, "users", "5", "--until", "2001-01-01"],
            "in the past",
        ),
        (
            &["set-limit", slug, "users", "5", "--until", "31/12/2030"],
            "invalid date",
        ),
    ];
    for (args, expected) in cases {
        let err = org_cmd(&mut conn, args, now).unwrap_err();
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM limit_overrides"), 0);
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM audit_events"), 0);
}
