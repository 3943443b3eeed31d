//! Rows read ids and enums straight into their types. A value the code does
//! not know — written by hand, by an old release, or by a broken migration —
//! fails the query with a clear error instead of quietly becoming some
//! default (a corrupt role must never read as a lesser or greater one).

use diesel::prelude::*;
use lead_dashboard::db::{leads, team, usage};
use lead_dashboard::domain::leads::{LeadFields, LeadSource, LeadStatus};
use lead_dashboard::domain::plans::Plan;
use lead_dashboard::domain::roles::Role;

use crate::common::TestDb;
use crate::usage::{fixed_now, make_org};

fn exec(conn: &mut PgConnection, sql: &str) {
    diesel::sql_query(sql).execute(conn).unwrap();
}

/// The messages of a failed load and of its causes, to check they name the value.
fn failure<T: std::fmt::Debug>(result: Result<T, impl std::error::Error>) -> String {
    let err = result.expect_err("an unknown stored value must fail the query");
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn grace(status: LeadStatus) -> LeadFields {
    LeadFields {
        first_name: "Grace".into(),
        last_name: "Hopper".into(),
        email: "grace@example.com".into(),
        company: String::new(),
        title: String::new(),
        phone: String::new(),
        status,
        tags: Vec::new(),
        notes: String::new(),
        time_zone: String::new(),
    }
}

#[test]
fn typed_values_round_trip_through_the_database() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Ada");
    let tenant = org.tenant(&mut conn);
    let members = team::members(&mut conn, &tenant).unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].member.user_id, org.owner);
    assert_eq!(members[0].member.organization_id, org.id);
    assert_eq!(members[0].role(), Role::Owner);
    let (_, sub) = usage::org_and_subscription(&mut conn, &tenant).unwrap();
    assert_eq!(sub.plan, Plan::Free);
    let lead = leads::create(
        &mut conn,
        &tenant,
        &grace(LeadStatus::Qualified),
        LeadSource::Page,
        fixed_now(),
    )
    .unwrap()
    .unwrap();
    let found = leads::find(&mut conn, &tenant, lead.id).unwrap();
    assert_eq!(found.id, lead.id);
    assert_eq!(found.fields.status, LeadStatus::Qualified);
}

#[test]
fn an_unknown_role_in_the_database_is_an_error_not_a_downgrade() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Ada");
    let tenant = org.tenant(&mut conn);
    exec(
        &mut conn,
        "ALTER TABLE organization_members DROP CONSTRAINT organization_members_role_check",
    );
    exec(
        &mut conn,
        "UPDATE organization_members SET role = 'SUPERUSER'",
    );
    let message = failure(team::members(&mut conn, &tenant));
    assert!(message.contains("unknown role \"SUPERUSER\""), "{message}");
    let message = failure(team::my_role(&mut conn, &tenant));
    assert!(message.contains("SUPERUSER"), "{message}");
}

#[test]
fn an_unknown_plan_time_zone_or_lead_status_in_the_database_is_an_error() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let org = make_org(&mut conn, "Ada");
    let tenant = org.tenant(&mut conn);
    let lead = leads::create(
        &mut conn,
        &tenant,
        &grace(LeadStatus::New),
        LeadSource::Page,
        fixed_now(),
    )
    .unwrap()
    .unwrap();

    exec(
        &mut conn,
        "ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_plan_check",
    );
    exec(&mut conn, "UPDATE subscriptions SET plan = 'GOLD'");
    let message = failure(usage::org_and_subscription(&mut conn, &tenant));
    assert!(message.contains("unknown plan \"GOLD\""), "{message}");

    exec(
        &mut conn,
        "ALTER TABLE leads DROP CONSTRAINT leads_status_check",
    );
    exec(&mut conn, "UPDATE leads SET status = 'won'");
    let message = failure(leads::find(&mut conn, &tenant, lead.id));
    assert!(message.contains("unknown lead status \"won\""), "{message}");
}
