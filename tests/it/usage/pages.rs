//! Pages read in one statement (`db::pages`) show exactly what the
//! per-query readers show: meters, limits with overrides, the chart's days,
//! the organization switcher and the unread badge — on an organization that
//! has some of everything, in a time zone far from UTC.

use chrono::Duration;
use lead_dashboard::db::meters::{daily_history, snapshot};
use lead_dashboard::db::{notices, pages};
use lead_dashboard::domain::subscription::day_start;

use super::*;

fn membership_keys(list: &[lead_dashboard::db::orgs::Membership]) -> Vec<String> {
    list.iter()
        .map(|m| {
            format!(
                "{} {} {} {:?} {:?}",
                m.org_id, m.name, m.slug, m.role, m.plan
            )
        })
        .collect()
}

#[test]
fn the_usage_page_statement_matches_the_per_query_readers() {
    let db = db();
    let mut conn = db.conn();
    let now = fixed_now();
    let org = make_org(&mut conn, "Paula");
    set_time_zone(&mut conn, org.id, "America/Los_Angeles");
    set_subscription(&mut conn, org.id, "STARTER", "ACTIVE", None);
    // The owner also belongs to an organization named to sort first.
    let other = make_org(&mut conn, "Aaron");
    exec(
        &mut conn,
        &format!(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ('{}', '{}', 'VIEWER')",
            other.id, org.owner
        ),
    );
    add_user(&mut conn, &org, "Quinn", "MEMBER");
    // Invitations: one open, one expired, one revoked (only the first counts).
    for (n, expires, revoked) in [
        (1, "+ interval '3 days'", "NULL"),
        (2, "- interval '1 day'", "NULL"),
        (3, "+ interval '3 days'", "now()"),
    ] {
        exec(
            &mut conn,
            &format!(
                "INSERT INTO invitations (organization_id, id, email, role, token_hash, expires_at, revoked_at)
                 VALUES ('{}', gen_random_uuid(), 'invitee{n}@example.com', 'MEMBER', '\\x0{n}'::bytea,
                         {} {expires}, {revoked})",
                org.id,
                crate::common::ts(now)
            ),
        );
    }
    for table in [
        "message_templates (organization_id, owner_key, id, name, subject, body)",
        "sequences (organization_id, owner_key, id, name)",
    ] {
        let values = if table.starts_with("message") {
            "'T', 's', 'b'"
        } else {
            "'S'"
        };
        exec(
            &mut conn,
            &format!(
                "INSERT INTO {table} VALUES ('{0}', '{0}', gen_random_uuid(), {values})",
                org.id
            ),
        );
    }
    // Overrides: one in force, one ended.
    exec(
        &mut conn,
        &format!(
            "INSERT INTO limit_overrides (organization_id, limit_kind, value, ends_at) VALUES
             ('{0}', 'leads_per_month', 5000, {1} + interval '10 days'),
             ('{0}', 'templates', NULL, {1} - interval '1 day')",
            org.id,
            crate::common::ts(now)
        ),
    );
    // Counters: this local month and day, yesterday, and a day before the chart.
    let today = day_start(chrono_tz::America::Los_Angeles, now);
    set_counter(
        &mut conn,
        org.id,
        "lead_created",
        "month",
        date(2026, 6, 1),
        42,
    );
    set_counter(
        &mut conn,
        org.id,
        "lead_created",
        "month",
        date(2026, 5, 1),
        99,
    );
    set_counter(&mut conn, org.id, "message_sent", "day", today, 7);
    set_counter(&mut conn, org.id, "api_call", "day", today, 11);
    set_counter(
        &mut conn,
        org.id,
        "lead_created",
        "day",
        today - Duration::days(1),
        3,
    );
    set_counter(
        &mut conn,
        org.id,
        "message_sent",
        "day",
        today - Duration::days(29),
        4,
    );
    set_counter(
        &mut conn,
        org.id,
        "message_sent",
        "day",
        today - Duration::days(30),
        1000,
    );
    // Notices: one unread, one read, one for someone else.
    exec(
        &mut conn,
        &format!(
            "INSERT INTO notices (organization_id, id, user_id, kind, message, dedupe_key, read_at) VALUES
             ('{0}', gen_random_uuid(), '{1}', 'k', 'm', 'a', NULL),
             ('{0}', gen_random_uuid(), '{1}', 'k', 'm', 'b', now()),
             ('{0}', gen_random_uuid(), '{2}', 'k', 'm', 'c', NULL)",
            org.id, org.owner, other.owner
        ),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ('{}', '{}', 'MEMBER')",
            org.id, other.owner
        ),
    );

    let tenant = org.tenant(&mut conn);
    let want = snapshot(&mut conn, &tenant, now).unwrap();
    let tz = want.organization.tz();
    let want_history = daily_history(&mut conn, &tenant, tz, now, 30).unwrap();
    let want_orgs = lead_dashboard::db::orgs::memberships(&mut conn, org.owner).unwrap();
    let want_unread = notices::unread_count(&mut conn, &tenant).unwrap();
    assert_eq!(want_orgs.len(), 2);
    assert_eq!(want_unread, 1);
    assert!(want.effective.overrides.len() == 1, "one override in force");

    let got = pages::usage_page(
        &mut conn,
        &tenant,
        want.organization.clone(),
        want.subscription.clone(),
        now,
        30,
    )
    .unwrap();
    assert_eq!(got.snapshot.meters, want.meters);
    assert_eq!(got.snapshot.api_calls_today, want.api_calls_today);
    assert_eq!(got.snapshot.effective.plan, want.effective.plan);
    assert_eq!(got.snapshot.effective.limits, want.effective.limits);
    assert_eq!(got.snapshot.effective.overrides, want.effective.overrides);
    assert_eq!(got.history, want_history);
    assert_eq!(
        membership_keys(&got.shell.orgs),
        membership_keys(&want_orgs)
    );
    assert_eq!(got.shell.unread_notices, want_unread);
    // The figures are the ones set up, not two empty readings that agree.
    let used: Vec<i64> = got.snapshot.meters.iter().map(|m| m.used).collect();
    assert_eq!(
        used,
        vec![42, 7, 4, 1, 1],
        "leads, messages, users (3 members + 1 invitation), templates, sequences"
    );
    assert_eq!(got.snapshot.api_calls_today, 11);
    assert_eq!(got.history.len(), 30);
    assert_eq!(got.history[0].messages, 4);
    assert_eq!(got.history[28].leads, 3);

    let shell = pages::shell_data(&mut conn, org.owner, Some(&tenant)).unwrap();
    assert_eq!(membership_keys(&shell.orgs), membership_keys(&want_orgs));
    assert_eq!(shell.unread_notices, 1);
    let no_org = pages::shell_data(&mut conn, org.owner, None).unwrap();
    assert_eq!(membership_keys(&no_org.orgs), membership_keys(&want_orgs));
    assert_eq!(no_org.unread_notices, 0);

    let dash = pages::dashboard(&mut conn, &tenant).unwrap();
    let want_overview = lead_dashboard::db::orgs::overview(&mut conn, &tenant).unwrap();
    assert_eq!(format!("{:?}", dash.overview), format!("{want_overview:?}"));
    assert_eq!(
        (dash.overview.members, dash.overview.has_template),
        (3, true)
    );
    assert!(dash.overview.has_sequence && dash.overview.has_team);
    assert_eq!(
        membership_keys(&dash.shell.orgs),
        membership_keys(&want_orgs)
    );
    assert_eq!(dash.shell.unread_notices, 1);
    // A new organization: nothing done yet, the same on both sides.
    let fresh = make_org(&mut conn, "Zed");
    let fresh_tenant = fresh.tenant(&mut conn);
    let dash = pages::dashboard(&mut conn, &fresh_tenant).unwrap();
    let want_overview = lead_dashboard::db::orgs::overview(&mut conn, &fresh_tenant).unwrap();
    assert_eq!(format!("{:?}", dash.overview), format!("{want_overview:?}"));
    assert!(!dash.overview.has_template && !dash.overview.has_sequence && !dash.overview.has_team);
    assert_eq!(dash.shell.orgs.len(), 1);
}
