//! Whole pages in one statement. A page used to read its data in a dozen
//! small queries over two pool checkouts (its own and the shell's: the
//! organization switcher and the unread-notice badge); each query is a round
//! trip to PostgreSQL, and under load the round trips, not the queries, were
//! the cost. Here a page's data — the shell's included — comes from ONE
//! statement of scalar subqueries and lateral aggregates, kept prepared per
//! connection (a static SQL text with a static query id: diesel's statement
//! cache keys it by type), so the page costs one round trip after the
//! session's. The pieces are decoded by the same functions the per-query
//! readers use (`usage::effective_from`, `meters::history_from`), so the
//! page shows exactly what they would.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Date, Nullable, Text, Timestamptz, Uuid as SqlUuid};

use crate::db::meters::{self, DayUsage, Meter, UsageSnapshot, METER_ORDER};
use crate::db::models::{Organization, Subscription};
use crate::db::orgs::{Membership, Overview};
use crate::db::usage;
use crate::db::Tenant;
use crate::domain::plans::{LimitKind, Plan};
use crate::domain::roles::Role;
use crate::domain::subscription::{day_start, month_start};
use crate::ids::{OrgId, SequenceId, UserId};

/// What every signed-in page's shell reads: the user's organizations (by
/// name, as `orgs::memberships`) and their unread notices in the current one
/// (as `notices::unread_count`).
#[derive(Debug, Clone)]
pub struct ShellData {
    pub orgs: Vec<Membership>,
    pub unread_notices: i64,
}

/// The usage page: meters, plan and limits, the chart's days, and the shell.
#[derive(Debug, Clone)]
pub struct UsagePageData {
    pub snapshot: UsageSnapshot,
    pub history: Vec<DayUsage>,
    pub shell: ShellData,
}

/// Reads the usage page of `tenant` at `now` in one statement. `organization`
/// and `subscription` are the request's own (loaded with its session, a
/// moment ago): the organization's time zone picks the periods.
pub fn usage_page(
    conn: &mut PgConnection,
    tenant: &Tenant,
    organization: Organization,
    subscription: Subscription,
    now: DateTime<Utc>,
    history_days: u32,
) -> QueryResult<UsagePageData> {
    let tz = organization.tz();
    let today = day_start(tz, now);
    let first = meters::history_start(today, history_days);
    let row: UsageRow =
        scoped_usage_statement(tenant, now, month_start(tz, now), today, first).get_result(conn)?;

    let effective = usage::effective_from(
        &subscription,
        now,
        row.override_kinds
            .into_iter()
            .zip(row.override_values)
            .zip(row.override_ends)
            .map(|((kind, value), ends_at)| (kind, value, ends_at)),
    );
    let used = |kind: LimitKind| match kind {
        LimitKind::LeadsPerMonth => row.leads_this_month.unwrap_or(0),
        LimitKind::MessagesPerDay => row.messages_today.unwrap_or(0),
        LimitKind::Users => row.users,
        LimitKind::Templates => row.templates,
        LimitKind::Sequences => row.sequences,
    };
    let meters = METER_ORDER
        .into_iter()
        .map(|kind| Meter {
            kind,
            used: used(kind),
            limit: effective.limits.get(kind),
        })
        .collect();
    let history = meters::history_from(
        first,
        today,
        row.day_kinds
            .into_iter()
            .zip(row.day_dates)
            .zip(row.day_counts)
            .map(|((kind, date), count)| (kind, date, count)),
    );
    Ok(UsagePageData {
        snapshot: UsageSnapshot {
            organization,
            subscription,
            effective,
            meters,
            api_calls_today: row.api_calls_today.unwrap_or(0),
        },
        history,
        shell: row.shell,
    })
}

/// The usage page's statement for one tenant (its organization and user).
fn scoped_usage_statement(
    tenant: &Tenant,
    now: DateTime<Utc>,
    month: NaiveDate,
    today: NaiveDate,
    first: NaiveDate,
) -> UsageStatement {
    UsageStatement {
        org: tenant.org_id(),
        // Without an acting user (never the case for a page) nobody's
        // memberships or notices match the nil id.
        user: tenant.user_id().unwrap_or(UserId(uuid::Uuid::nil())),
        now,
        month,
        today,
        first,
    }
}

/// One row: the usage page's figures. Lists come as parallel arrays (typed
/// by PostgreSQL, decoded by diesel) rather than JSON.
#[derive(Queryable)]
struct UsageRow {
    leads_this_month: Option<i64>,
    messages_today: Option<i64>,
    api_calls_today: Option<i64>,
    users: i64,
    templates: i64,
    sequences: i64,
    override_kinds: Vec<String>,
    override_values: Vec<Option<i64>>,
    override_ends: Vec<Option<DateTime<Utc>>>,
    day_kinds: Vec<String>,
    day_dates: Vec<NaiveDate>,
    day_counts: Vec<i64>,
    shell: ShellData,
}

type UsageRowSql = (
    Nullable<BigInt>,
    Nullable<BigInt>,
    Nullable<BigInt>,
    BigInt,
    BigInt,
    BigInt,
    Array<Text>,
    Array<Nullable<BigInt>>,
    Array<Nullable<Timestamptz>>,
    Array<Text>,
    Array<Date>,
    Array<BigInt>,
    ShellColumns,
);

/// The binds, in the order of `$1`…`$6` in `USAGE_SQL`.
struct UsageStatement {
    org: OrgId,
    user: UserId,
    now: DateTime<Utc>,
    month: NaiveDate,
    today: NaiveDate,
    first: NaiveDate,
}

/// Makes `$name` (a struct of binds) a prepared statement of `$sql` with
/// rows of `$row`: the binds first, typed, in a clause that selects nothing
/// (`binds`), in the order given; the SQL then refers to them as `$1`, `$2`,
/// …. One SQL text for every value, so diesel keeps it prepared per
/// connection.
macro_rules! page_statement {
    ($name:ident, $row:ty, $sql:expr, $first:ident: $first_ty:ty $(, $field:ident: $ty:ty)* $(,)?) => {
        impl QueryId for $name {
            type QueryId = $name;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl Query for $name {
            type SqlType = $row;
        }

        impl QueryFragment<Pg> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                out.push_sql("WITH binds AS NOT MATERIALIZED (SELECT ");
                out.push_bind_param::<$first_ty, _>(&self.$first)?;
                $(
                    out.push_sql(", ");
                    out.push_bind_param::<$ty, _>(&self.$field)?;
                )*
                out.push_sql(")");
                out.push_sql($sql);
                Ok(())
            }
        }

        impl RunQueryDsl<PgConnection> for $name {}
    };
}

/// The user's (`$2`) organizations as parallel arrays, ordered by name then
/// id: `orgs::memberships` as one lateral aggregate.
macro_rules! memberships_sql {
    () => {
        "SELECT coalesce(array_agg(g.id ORDER BY g.name, g.id), '{}') AS ids,
          coalesce(array_agg(g.name ORDER BY g.name, g.id), '{}') AS names,
          coalesce(array_agg(g.slug ORDER BY g.name, g.id), '{}') AS slugs,
          coalesce(array_agg(m.role ORDER BY g.name, g.id), '{}') AS roles,
          coalesce(array_agg(s.plan ORDER BY g.name, g.id), '{}') AS plans
     FROM organization_members m
     JOIN organizations g ON g.id = m.organization_id
     JOIN subscriptions s ON s.organization_id = m.organization_id
    WHERE m.user_id = $2"
    };
}

/// Parts shared by the page statements, each with the binds it uses:
/// `$1` organization, `$2` user, `$3` now, `$4` first day of the local month.
/// Leads created this month: its counter row, by primary key.
macro_rules! leads_this_month_sql {
    () => {
        "(SELECT c.count FROM usage_counters c WHERE c.organization_id = $1
     AND c.kind = 'lead_created' AND c.period = 'month' AND c.period_start = $4)"
    };
}

/// Seats taken: members plus invitations still open (`usage::used`, `Users`).
macro_rules! seats_sql {
    () => {
        "(SELECT count(*) FROM organization_members m WHERE m.organization_id = $1)
    + (SELECT count(*) FROM invitations i WHERE i.organization_id = $1
         AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $3)"
    };
}

/// The user's unread notices here (`notices::unread_count`).
macro_rules! unread_notices_sql {
    () => {
        "(SELECT count(*) FROM notices n WHERE n.organization_id = $1
     AND n.user_id = $2 AND n.read_at IS NULL)"
    };
}

/// The limit overrides in force, as parallel arrays `ov.kinds`, `ov.vals`,
/// `ov.ends` (`usage::effective_limits`).
macro_rules! overrides_sql {
    () => {
        "(SELECT coalesce(array_agg(o.limit_kind), '{}') AS kinds,
          coalesce(array_agg(o.value), '{}') AS vals,
          coalesce(array_agg(o.ends_at), '{}') AS ends
     FROM limit_overrides o WHERE o.organization_id = $1
      AND (o.ends_at IS NULL OR o.ends_at > $3)) ov"
    };
}

/// `$1` organization, `$2` user, `$3` now, `$4` first day of the local month,
/// `$5` local today, `$6` first day of the chart. Every subquery filters by
/// organization (and the wall's policies hold as for any query); the
/// memberships admit the user's own rows in other organizations, as
/// `orgs::memberships` does. Each is the per-query reader's query, verbatim
/// in meaning: counters by primary key, counts by organization, the chart's
/// daily counters, the overrides in force.
const USAGE_SQL: &str = concat!(
    "
SELECT
  ",
    leads_this_month_sql!(),
    ",
  (SELECT c.count FROM usage_counters c WHERE c.organization_id = $1
     AND c.kind = 'message_sent' AND c.period = 'day' AND c.period_start = $5),
  (SELECT c.count FROM usage_counters c WHERE c.organization_id = $1
     AND c.kind = 'api_call' AND c.period = 'day' AND c.period_start = $5),
  ",
    seats_sql!(),
    ",
  (SELECT count(*) FROM message_templates t WHERE t.organization_id = $1),
  (SELECT count(*) FROM sequences s WHERE s.organization_id = $1),
  ov.kinds, ov.vals, ov.ends,
  d.kinds, d.dates, d.counts,
  ms.ids, ms.names, ms.slugs, ms.roles, ms.plans,
  ",
    unread_notices_sql!(),
    "
FROM
  ",
    overrides_sql!(),
    ",
  (SELECT coalesce(array_agg(c.kind), '{}') AS kinds,
          coalesce(array_agg(c.period_start), '{}') AS dates,
          coalesce(array_agg(c.count), '{}') AS counts
     FROM usage_counters c WHERE c.organization_id = $1
      AND c.kind IN ('lead_created', 'message_sent', 'api_call')
      AND c.period = 'day' AND c.period_start BETWEEN $6 AND $5) d,
  (",
    memberships_sql!(),
    ") ms"
);

page_statement!(UsageStatement, UsageRowSql, USAGE_SQL,
    org: SqlUuid, user: SqlUuid, now: Timestamptz, month: Date, today: Date, first: Date);

/// The shell's data alone, in one statement (pages that have not been
/// folded into one statement of their own yet). Without a current
/// organization the nil id matches no notice: 0 unread.
pub fn shell_data(
    conn: &mut PgConnection,
    user: UserId,
    tenant: Option<&Tenant>,
) -> QueryResult<ShellData> {
    scoped_shell_statement(user, tenant).get_result(conn)
}

fn scoped_shell_statement(user: UserId, tenant: Option<&Tenant>) -> OrgUserStatement<ShellSql> {
    OrgUserStatement::new(
        tenant.map_or(OrgId(uuid::Uuid::nil()), |t| t.org_id()),
        user,
    )
}

/// `$1` organization, `$2` user.
const SHELL_SQL: &str = concat!(
    "
SELECT ms.ids, ms.names, ms.slugs, ms.roles, ms.plans,
  ",
    unread_notices_sql!(),
    "
FROM (",
    memberships_sql!(),
    ") ms"
);

/// A statement whose binds are an organization (`$1`) and a user (`$2`);
/// `S` names its SQL text and row type. Each `S` is its own type, so
/// diesel's statement cache (keyed by type) keeps each text prepared.
struct OrgUserStatement<S> {
    org: OrgId,
    user: UserId,
    sql: std::marker::PhantomData<S>,
}

impl<S> OrgUserStatement<S> {
    fn new(org: OrgId, user: UserId) -> Self {
        OrgUserStatement {
            org,
            user,
            sql: std::marker::PhantomData,
        }
    }
}

/// The SQL text and row type of an `OrgUserStatement`.
trait OrgUserSql: 'static {
    const SQL: &'static str;
    type Row;
}

struct ShellSql;
impl OrgUserSql for ShellSql {
    const SQL: &'static str = SHELL_SQL;
    type Row = ShellColumns;
}

struct DashboardSql;
impl OrgUserSql for DashboardSql {
    const SQL: &'static str = DASHBOARD_SQL;
    type Row = (BigInt, BigInt, Bool, Bool, Bool, ShellColumns);
}

impl<S: OrgUserSql> QueryId for OrgUserStatement<S> {
    type QueryId = S;
    // One SQL text for every value: diesel keeps it prepared per connection.
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S: OrgUserSql> Query for OrgUserStatement<S> {
    type SqlType = S::Row;
}

impl<S: OrgUserSql> QueryFragment<Pg> for OrgUserStatement<S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH binds AS NOT MATERIALIZED (SELECT ");
        out.push_bind_param::<SqlUuid, _>(&self.org)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.user)?;
        out.push_sql(")");
        out.push_sql(S::SQL);
        Ok(())
    }
}

impl<S: OrgUserSql> RunQueryDsl<PgConnection> for OrgUserStatement<S> {}

/// The shell's columns, last in every page statement: the user's
/// organizations as parallel arrays (`memberships_sql!`) and the unread
/// notices here.
type ShellColumns = (
    Array<SqlUuid>,
    Array<Text>,
    Array<Text>,
    Array<Text>,
    Array<Text>,
    BigInt,
);

impl Queryable<ShellColumns, Pg> for ShellData {
    type Row = (
        Vec<OrgId>,
        Vec<String>,
        Vec<String>,
        Vec<Role>,
        Vec<Plan>,
        i64,
    );

    fn build(row: Self::Row) -> diesel::deserialize::Result<Self> {
        let (ids, names, slugs, roles, plans, unread_notices) = row;
        let orgs = ids
            .into_iter()
            .zip(names)
            .zip(slugs)
            .zip(roles)
            .zip(plans)
            .map(|((((org_id, name), slug), role), plan)| Membership {
                org_id,
                name,
                slug,
                role,
                plan,
            })
            .collect();
        Ok(ShellData {
            orgs,
            unread_notices,
        })
    }
}

/// The dashboard: its overview (as `orgs::overview`) and the shell.
#[derive(Debug, Clone)]
pub struct DashboardData {
    pub overview: Overview,
    pub shell: ShellData,
}

/// Reads the dashboard of `tenant` in one statement.
pub fn dashboard(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<DashboardData> {
    let row: DashboardRow = scoped_dashboard_statement(tenant).get_result(conn)?;
    Ok(DashboardData {
        overview: Overview {
            members: row.members,
            leads: row.leads,
            has_template: row.has_template,
            has_sequence: row.has_sequence,
            has_team: row.members > 1 || row.invited,
        },
        shell: row.shell,
    })
}

fn scoped_dashboard_statement(tenant: &Tenant) -> OrgUserStatement<DashboardSql> {
    OrgUserStatement::new(
        tenant.org_id(),
        tenant.user_id().unwrap_or(UserId(uuid::Uuid::nil())),
    )
}

#[derive(Queryable)]
struct DashboardRow {
    members: i64,
    leads: i64,
    has_template: bool,
    has_sequence: bool,
    invited: bool,
    shell: ShellData,
}

/// `$1` organization (also the owner key of its own templates and
/// sequences), `$2` user.
const DASHBOARD_SQL: &str = concat!(
    "
SELECT
  (SELECT count(*) FROM organization_members m WHERE m.organization_id = $1),
  (SELECT count(*) FROM leads l WHERE l.organization_id = $1),
  EXISTS (SELECT 1 FROM message_templates t WHERE t.owner_key = $1),
  EXISTS (SELECT 1 FROM sequences s WHERE s.owner_key = $1)
    OR EXISTS (SELECT 1 FROM sequence_enrollments e WHERE e.organization_id = $1),
  EXISTS (SELECT 1 FROM invitations i WHERE i.organization_id = $1),
  ms.ids, ms.names, ms.slugs, ms.roles, ms.plans,
  ",
    unread_notices_sql!(),
    "
FROM (",
    memberships_sql!(),
    ") ms"
);

/// What the lead list and the team page read beside their own rows, with
/// the shell, in one statement: the limits in force, the counts they are
/// judged against, the member and sequence pickers and the reader's role.
#[derive(Debug, Clone)]
pub struct WorkspaceSide {
    pub effective: usage::EffectiveLimits,
    /// Leads created this local month (`usage::used`, `LeadsPerMonth`).
    pub leads_this_month: i64,
    /// Members plus pending invitations (`usage::used`, `Users`).
    pub seats_used: i64,
    /// The reader's role here (`team::my_role`); None when not a member.
    pub my_role: Option<Role>,
    /// Members' ids and names, by name (`team::names`).
    pub member_names: Vec<(UserId, String)>,
    /// Visible sequences, own first (`sequences::options`).
    pub sequence_options: Vec<(SequenceId, String)>,
    pub shell: ShellData,
}

/// Reads the `WorkspaceSide` of `tenant` at `now`. `organization` and
/// `subscription` are the request's own (loaded with its session).
pub fn workspace_side(
    conn: &mut PgConnection,
    tenant: &Tenant,
    organization: &Organization,
    subscription: &Subscription,
    now: DateTime<Utc>,
) -> QueryResult<WorkspaceSide> {
    let statement = SideStatement {
        org: tenant.org_id(),
        user: tenant.user_id().unwrap_or(UserId(uuid::Uuid::nil())),
        now,
        month: month_start(organization.tz(), now),
    };
    let row: SideRow = statement.get_result(conn)?;
    let overrides = row
        .override_kinds
        .into_iter()
        .zip(row.override_values)
        .zip(row.override_ends)
        .map(|((kind, value), ends_at)| (kind, value, ends_at));
    Ok(WorkspaceSide {
        effective: usage::effective_from(subscription, now, overrides),
        leads_this_month: row.leads_this_month.unwrap_or(0),
        seats_used: row.seats_used,
        my_role: row.my_role,
        member_names: row.member_ids.into_iter().zip(row.member_names).collect(),
        sequence_options: row
            .sequence_ids
            .into_iter()
            .zip(row.sequence_names)
            .collect(),
        shell: row.shell,
    })
}

#[derive(Queryable)]
struct SideRow {
    leads_this_month: Option<i64>,
    seats_used: i64,
    my_role: Option<Role>,
    override_kinds: Vec<String>,
    override_values: Vec<Option<i64>>,
    override_ends: Vec<Option<DateTime<Utc>>>,
    member_ids: Vec<UserId>,
    member_names: Vec<String>,
    sequence_ids: Vec<SequenceId>,
    sequence_names: Vec<String>,
    shell: ShellData,
}

type SideRowSql = (
    Nullable<BigInt>,
    BigInt,
    Nullable<Text>,
    Array<Text>,
    Array<Nullable<BigInt>>,
    Array<Nullable<Timestamptz>>,
    Array<SqlUuid>,
    Array<Text>,
    Array<SqlUuid>,
    Array<Text>,
    ShellColumns,
);

/// The binds, in the order of `$1`…`$4` in `SIDE_SQL`.
struct SideStatement {
    org: OrgId,
    user: UserId,
    now: DateTime<Utc>,
    month: NaiveDate,
}

/// `$1` organization (also the owner key of its own sequences), `$2` user,
/// `$3` now, `$4` first day of the local month. Each part is the per-query
/// reader's query in meaning, as in `USAGE_SQL`; global sequences have the
/// nil owner key (`ids::GLOBAL_OWNER`) and sort after the organization's own.
const SIDE_SQL: &str = concat!(
    "
SELECT
  ",
    leads_this_month_sql!(),
    ",
  ",
    seats_sql!(),
    ",
  (SELECT m.role FROM organization_members m WHERE m.organization_id = $1
     AND m.user_id = $2),
  ov.kinds, ov.vals, ov.ends,
  mn.ids, mn.names,
  sq.ids, sq.names,
  ms.ids, ms.names, ms.slugs, ms.roles, ms.plans,
  ",
    unread_notices_sql!(),
    "
FROM
  ",
    overrides_sql!(),
    ",
  (SELECT coalesce(array_agg(u.id ORDER BY u.name, u.id), '{}') AS ids,
          coalesce(array_agg(u.name ORDER BY u.name, u.id), '{}') AS names
     FROM organization_members m JOIN users u ON u.id = m.user_id
    WHERE m.organization_id = $1) mn,
  (SELECT coalesce(array_agg(s.id ORDER BY s.owner_key = '00000000-0000-0000-0000-000000000000',
                                           s.name, s.id), '{}') AS ids,
          coalesce(array_agg(s.name ORDER BY s.owner_key = '00000000-0000-0000-0000-000000000000',
                                             s.name, s.id), '{}') AS names
     FROM sequences s
    WHERE s.owner_key IN ($1, '00000000-0000-0000-0000-000000000000')) sq,
  (",
    memberships_sql!(),
    ") ms"
);

page_statement!(SideStatement, SideRowSql, SIDE_SQL,
    org: SqlUuid, user: SqlUuid, now: Timestamptz, month: Date);
