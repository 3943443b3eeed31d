//! Plans, subscription lifecycle, usage meters and limits: accounting at the
//! database level (periods, time zones, races), the lifecycle job, and the
//! HTTP routes (role matrix, tenancy, HTMX and plain forms).

mod accounting;
mod lifecycle;
mod notices;
mod overrides;
mod pages;
mod routes;
mod seed;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text, Uuid as SqlUuid};
use lead_dashboard::db::usage::{consume_at, UsageKind};
use lead_dashboard::db::DbError;
use lead_dashboard::db::{accounts, orgs, Tenant};
use lead_dashboard::ids::{OrgId, UserId};

use crate::common::{TestApp, TestDb};

/// An organization made directly in the database (no HTTP), with its owner.
#[derive(Debug, Clone, Copy)]
pub struct Org {
    pub id: OrgId,
    pub owner: UserId,
}

impl Org {
    pub fn tenant(&self, conn: &mut PgConnection) -> Tenant {
        Tenant::for_member(conn, self.id, self.owner).unwrap()
    }
}

/// The instant the database-level tests run at unless they pick another:
/// mid-month and mid-day, so no period turns inside a test by accident.
pub fn fixed_now() -> DateTime<Utc> {
    utc("2026-06-15T12:00:00Z")
}

/// Instants next to period boundaries, within a trial begun at `fixed_now`:
/// six minutes into a month (UTC) and the last minute of a month.
pub fn boundary_instants() -> [DateTime<Utc>; 2] {
    [utc("2026-07-01T00:06:00Z"), utc("2026-06-30T23:59:00Z")]
}

/// A user `name` (email `<name>@example.com`) owning "<name>'s Organization",
/// created at `fixed_now`.
pub fn make_org(conn: &mut PgConnection, name: &str) -> Org {
    make_org_at(conn, name, fixed_now())
}

/// `make_org` with the organization (and its trial) created at `at`.
pub fn make_org_at(conn: &mut PgConnection, name: &str, at: DateTime<Utc>) -> Org {
    let email = format!("{}@example.com", name.to_lowercase());
    let owner = accounts::insert_user(conn, name, &email, "not-a-real-hash")
        .unwrap()
        .unwrap();
    let id = orgs::create(conn, owner, &orgs::default_name(name), at).unwrap();
    Org { id, owner }
}

/// Adds a new user `name` to `org` with `role`.
pub fn add_user(conn: &mut PgConnection, org: &Org, name: &str, role: &str) -> UserId {
    let email = format!("{}@example.com", name.to_lowercase());
    let user = accounts::insert_user(conn, name, &email, "not-a-real-hash")
        .unwrap()
        .unwrap();
    exec(
        conn,
        &format!(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ('{}', '{}', '{role}')",
            org.id, user
        ),
    );
    user
}

pub fn exec(conn: &mut PgConnection, sql: &str) {
    diesel::sql_query(sql).execute(conn).unwrap();
}

/// Sets plan and status; `past_due_days` before `fixed_now` for PAST_DUE.
pub fn set_subscription(
    conn: &mut PgConnection,
    org: OrgId,
    plan: &str,
    status: &str,
    past_due_days: Option<i64>,
) {
    set_subscription_at(conn, org, plan, status, past_due_days, fixed_now())
}

/// `set_subscription` with PAST_DUE since `past_due_days` before `at`.
pub fn set_subscription_at(
    conn: &mut PgConnection,
    org: OrgId,
    plan: &str,
    status: &str,
    past_due_days: Option<i64>,
    at: DateTime<Utc>,
) {
    let since = past_due_days
        .map(|d| format!("{} - interval '{d} days'", crate::common::ts(at)))
        .unwrap_or_else(|| "NULL".into());
    exec(
        conn,
        &format!(
            "UPDATE subscriptions SET plan = '{plan}', status = '{status}', past_due_since = {since} WHERE organization_id = '{org}'"
        ),
    );
}

pub fn set_time_zone(conn: &mut PgConnection, org: OrgId, tz: &str) {
    exec(
        conn,
        &format!("UPDATE organizations SET time_zone = '{tz}' WHERE id = '{org}'"),
    );
}

/// Sets a usage counter row to `count`.
pub fn set_counter(
    conn: &mut PgConnection,
    org: OrgId,
    kind: &str,
    period: &str,
    start: NaiveDate,
    count: i64,
) {
    diesel::sql_query(
        "INSERT INTO usage_counters (organization_id, kind, period, period_start, count) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (organization_id, kind, period, period_start) DO UPDATE SET count = EXCLUDED.count",
    )
    .bind::<SqlUuid, _>(org.uuid())
    .bind::<Text, _>(kind)
    .bind::<Text, _>(period)
    .bind::<Date, _>(start)
    .bind::<BigInt, _>(count)
    .execute(conn)
    .unwrap();
}

/// A counter's value (0 when the row does not exist).
pub fn counter(
    conn: &mut PgConnection,
    org: OrgId,
    kind: &str,
    period: &str,
    start: NaiveDate,
) -> i64 {
    scalar(
        conn,
        &format!(
            "SELECT coalesce((SELECT count FROM usage_counters WHERE organization_id = '{org}' AND kind = '{kind}' AND period = '{period}' AND period_start = '{start}'), 0)"
        ),
    )
}

/// A bigint-valued SQL expression.
pub fn scalar(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
        .get_result::<N>(conn)
        .unwrap()
        .n
}

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// One consumption in its own transaction; true when it was allowed.
pub fn consume_one(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: UsageKind,
    now: DateTime<Utc>,
) -> bool {
    let res = conn.transaction(|conn| consume_at(conn, tenant, kind, None, now));
    match res {
        Ok(_) => true,
        Err(DbError::LimitReached(_)) => false,
        Err(e) => panic!("unexpected error: {e:?}"),
    }
}

/// A fresh test database with migrations applied.
pub fn db() -> TestDb {
    TestDb::new()
}

/// A client signed in as a new user `name` who is a `role` of the
/// organization `slug` and has switched to it.
pub async fn member_of(app: &TestApp, slug: &str, name: &str, role: &str) -> crate::common::Client {
    let email = format!("{}@example.com", name.to_lowercase());
    let c = app.signup(name, &email).await;
    app.add_member(slug, &email, role);
    let org = crate::common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM organizations WHERE slug = '{slug}'"),
    );
    let r = c
        .post("/orgs/switch", &[("org_id", &org.to_string())])
        .await;
    assert_eq!(r.status, 303, "switch to {slug}");
    c.get("/dashboard").await;
    c
}
