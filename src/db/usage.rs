//! Usage accounting and plan limits. `consume_at` is the one way to perform a
//! counted action: inside the caller's transaction it checks the effective
//! limit, bumps the per-period counter with a conditional upsert (race-free:
//! no check-then-insert) and writes the usage record. `guard_count_limit`
//! serialises creations limited by a row count (members, templates,
//! sequences) on the organization's subscription row. Crossing 80% or 100% of
//! a limit gives owners and admins one notice (deduplicated per period and limit).
//! Meters read counters and row counts only: their cost does not grow with history.

use crate::webhooks::events::{usage_limit_reached, EventType};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::Eq;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::db::error::{DbError, DbResult};
use crate::db::models::{Organization, Subscription};
use crate::db::notices;
use crate::db::overrides::scoped_limit_overrides;
use crate::db::schema::{
    invitations, limit_overrides, message_templates, organization_members, organizations,
    sequences, subscriptions, usage_counters, usage_records,
};
use crate::db::Tenant;
use crate::domain::plans::{
    format_limit, threshold_crossed, Limit, LimitKind, Limits, Plan, UsageLevel,
};
use crate::domain::settings::TimeZone;
use crate::domain::subscription::{day_start, month_start};
use crate::ids::{OrgId, UserId};

/// Kinds of counted actions (docs/product.md, "Limits"), as stored in `usage_records.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageKind {
    LeadCreated,
    MessageSent,
    ApiCall,
}

impl UsageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageKind::LeadCreated => "lead_created",
            UsageKind::MessageSent => "message_sent",
            UsageKind::ApiCall => "api_call",
        }
    }

    /// The plan limit this kind counts against, if any.
    pub fn limit_kind(self) -> Option<LimitKind> {
        match self {
            UsageKind::LeadCreated => Some(LimitKind::LeadsPerMonth),
            UsageKind::MessageSent => Some(LimitKind::MessagesPerDay),
            UsageKind::ApiCall => None,
        }
    }
}

/// The plan and limits in force for an organization right now: the
/// effective plan's limits with unexpired per-organization overrides applied.
#[derive(Debug, Clone)]
pub struct EffectiveLimits {
    pub plan: Plan,
    pub limits: Limits,
    /// The negotiated overrides in force, with their end (if any).
    pub overrides: Vec<ActiveOverride>,
}

/// A per-organization limit in force instead of the plan's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveOverride {
    pub kind: LimitKind,
    pub value: Limit,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Loads organization and subscription of a tenant (one query).
pub fn org_and_subscription(
    conn: &mut PgConnection,
    tenant: &Tenant,
) -> QueryResult<(Organization, Subscription)> {
    organizations::table
        .inner_join(subscriptions::table)
        .filter(organizations::id.eq(tenant.org_id()))
        .select((Organization::as_select(), Subscription::as_select()))
        .first(conn)
}

/// Effective plan limits plus active overrides.
pub fn effective_limits(
    conn: &mut PgConnection,
    tenant: &Tenant,
    sub: &Subscription,
    now: DateTime<Utc>,
) -> QueryResult<EffectiveLimits> {
    let rows: Vec<(String, Option<i64>, Option<DateTime<Utc>>)> = scoped_limit_overrides(tenant)
        .filter(
            limit_overrides::ends_at
                .is_null()
                .or(limit_overrides::ends_at.gt(now)),
        )
        .select((
            limit_overrides::limit_kind,
            limit_overrides::value,
            limit_overrides::ends_at,
        ))
        .load(conn)?;
    Ok(effective_from(sub, now, rows))
}

/// Effective plan limits from the override rows in force (kind, value,
/// end), however they were read; kinds this build does not know are skipped.
pub(crate) fn effective_from(
    sub: &Subscription,
    now: DateTime<Utc>,
    rows: impl IntoIterator<Item = (String, Option<i64>, Option<DateTime<Utc>>)>,
) -> EffectiveLimits {
    let plan = sub.effective_plan(now);
    let mut limits = plan.spec().limits;
    let mut overrides = Vec::new();
    for (kind, value, ends_at) in rows {
        if let Ok(kind) = kind.parse::<LimitKind>() {
            limits.set(kind, value);
            overrides.push(ActiveOverride {
                kind,
                value,
                ends_at,
            });
        }
    }
    EffectiveLimits {
        plan,
        limits,
        overrides,
    }
}

/// The period a counter row covers: (period, first local date).
pub(crate) fn period_of(
    kind: UsageKind,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> (&'static str, NaiveDate) {
    match kind {
        UsageKind::LeadCreated => ("month", month_start(tz, now)),
        UsageKind::MessageSent | UsageKind::ApiCall => ("day", day_start(tz, now)),
    }
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Adds one to a counter unless it has reached `limit`; returns the new
/// count, or `None` when the limit stopped it. Race-free: the row update is
/// conditional, and concurrent first inserts meet in ON CONFLICT.
fn bump_counter(
    conn: &mut PgConnection,
    org: OrgId,
    kind: UsageKind,
    period: (&str, NaiveDate),
    limit: Limit,
) -> QueryResult<Option<i64>> {
    if limit.is_some_and(|l| l <= 0) {
        return Ok(None);
    }
    diesel::sql_query(
        "INSERT INTO usage_counters (organization_id, kind, period, period_start, count)
         VALUES ($1, $2, $3, $4, 1)
         ON CONFLICT (organization_id, kind, period, period_start)
         DO UPDATE SET count = usage_counters.count + 1
         WHERE $5::bigint IS NULL OR usage_counters.count < $5::bigint
         RETURNING count",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Text, _>(kind.as_str())
    .bind::<Text, _>(period.0)
    .bind::<Date, _>(period.1)
    .bind::<Nullable<BigInt>, _>(limit)
    .get_result::<CountRow>(conn)
    .optional()
    .map(|row| row.map(|r| r.count))
}

/// What a successful `consume_at` counted.
#[derive(Debug, Clone, Copy)]
pub struct Consumed {
    /// The period's count after this action.
    pub count: i64,
    pub limit: Limit,
}

/// Performs the accounting of one counted action inside the caller's
/// transaction: limit check + counter + usage record, or `LimitReached` with
/// nothing written (the caller's transaction then rolls back its own work).
/// `now` picks the organization's local day and month (and the effective
/// plan). The count that reaches 80% or 100% of the limit also writes the
/// notice.
pub fn consume_at(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: UsageKind,
    resource: Option<Uuid>,
    now: DateTime<Utc>,
) -> DbResult<Consumed> {
    let org = tenant.org_id();
    let (organization, sub) = org_and_subscription(conn, tenant)?;
    let tz = organization.tz();
    let effective = effective_limits(conn, tenant, &sub, now)?;
    let limit = kind.limit_kind().and_then(|k| effective.limits.get(k));
    let period = period_of(kind, tz, now);
    let count = bump_counter(conn, org, kind, period, limit)?
        .ok_or_else(|| limit_reached(kind.limit_kind(), effective.plan, limit))?;
    if kind == UsageKind::LeadCreated {
        // Daily lead counts feed the usage chart; they carry no limit.
        bump_counter(conn, org, kind, ("day", day_start(tz, now)), None)?;
    }
    diesel::insert_into(usage_records::table)
        .values(NewUsageRecord::of(tenant, kind, resource, now))
        .execute(conn)?;
    if let Some(limit_kind) = kind.limit_kind() {
        let crossing = Crossing {
            kind: limit_kind,
            plan: effective.plan,
            before: count - 1,
            after: count,
            limit,
        };
        notify_crossing(conn, tenant, &crossing, &period_key(period), now)?;
    }
    Ok(Consumed { count, limit })
}

/// "2026-11" for a month counter, "2026-11-26" for a day counter.
fn period_key((period, start): (&str, NaiveDate)) -> String {
    if period == "month" {
        start.format("%Y-%m").to_string()
    } else {
        start.format("%Y-%m-%d").to_string()
    }
}

/// One step of use of a limit, from `before` to `after`.
struct Crossing {
    kind: LimitKind,
    plan: Plan,
    before: i64,
    after: i64,
    limit: Limit,
}

/// Writes the 80% / 100% notice when this step crosses a threshold. The key
/// (e.g. `leads_per_month:2026-11:80:50`) names limit, period, threshold and
/// limit value: one notice per crossing, and a new one after the limit changes.
fn notify_crossing(
    conn: &mut PgConnection,
    tenant: &Tenant,
    c: &Crossing,
    period: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let (Some(level), Some(limit)) = (threshold_crossed(c.before, c.after, c.limit), c.limit)
    else {
        return Ok(());
    };
    let (notice_kind, pct, message) = match level {
        UsageLevel::Ok => return Ok(()),
        UsageLevel::Warning => ("limit_warning", 80, warning_text(c, limit)),
        UsageLevel::Full => ("limit_reached", 100, full_text(c, limit)),
    };
    let key = format!("{}:{period}:{pct}:{limit}", c.kind.as_str());
    notices::notify_admins(conn, tenant, notice_kind, &message, &key, now)?;
    if level == UsageLevel::Full {
        crate::db::webhooks::emit(conn, tenant, EventType::UsageLimitReached, now, |_| {
            let (kind, plan) = (c.kind.as_str(), c.plan.as_str());
            Ok(vec![usage_limit_reached(
                kind, plan, c.after, limit, period,
            )])
        })?;
    }
    Ok(())
}

fn noun(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::LeadsPerMonth => "new leads this month",
        LimitKind::MessagesPerDay => "messages today",
        LimitKind::Users => "member seats (members and pending invitations)",
        LimitKind::Templates => "templates",
        LimitKind::Sequences => "sequences",
    }
}

fn warning_text(c: &Crossing, limit: i64) -> String {
    format!(
        "You have used {} of {} {} on the {} plan. Upgrade before you reach the limit.",
        format_limit(Some(c.after)),
        format_limit(Some(limit)),
        noun(c.kind),
        c.plan.name()
    )
}

fn full_text(c: &Crossing, limit: i64) -> String {
    let what_now = match c.kind {
        LimitKind::LeadsPerMonth => "New leads are refused until next month.",
        LimitKind::MessagesPerDay => "Sending pauses until midnight.",
        _ => "Nothing more can be added.",
    };
    format!(
        "You have used all {} {} on the {} plan. {what_now} Upgrade your plan to add more.",
        format_limit(Some(limit)),
        noun(c.kind),
        c.plan.name()
    )
}

/// The "limit reached" error with a message that says what to do.
pub fn limit_reached(kind: Option<LimitKind>, plan: Plan, limit: Limit) -> DbError {
    let what = kind.map(LimitKind::label).unwrap_or("Usage");
    crate::observe::limit_hit(kind.map_or("usage", LimitKind::as_str));
    DbError::LimitReached(format!(
        "{what}: your {} plan allows {}, and that is used up. Upgrade your plan to add more.",
        plan.name(),
        format_limit(limit)
    ))
}

/// For creations limited by a row count (members incl. pending invitations,
/// own templates, own sequences): locks the organization's subscription row
/// for the rest of the transaction, then refuses with `LimitReached` when one
/// more would exceed the effective limit. Every creator of such rows calls
/// this first, so concurrent creations are serialised and cannot overshoot.
/// Call it right before the insert: when the new row reaches 80% or 100% of
/// the limit, the notice is written in the same transaction.
pub fn guard_count_limit(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: LimitKind,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let org = tenant.org_id();
    let sub: Subscription = subscriptions::table
        .find(org)
        .select(Subscription::as_select())
        .for_update()
        .first(conn)?;
    let effective = effective_limits(conn, tenant, &sub, now)?;
    let limit = effective.limits.get(kind);
    let used = used(conn, tenant, kind, now)?;
    if !crate::domain::plans::allows_one_more(used, limit) {
        return Err(limit_reached(Some(kind), effective.plan, limit));
    }
    let crossing = Crossing {
        kind,
        plan: effective.plan,
        before: used,
        after: used + 1,
        limit,
    };
    notify_crossing(conn, tenant, &crossing, "all", now)?;
    Ok(())
}

/// Current use of one limit: counters for the periodic limits (constant
/// cost however long the history), row counts for the others.
pub fn used(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: LimitKind,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    let tz = match kind {
        LimitKind::LeadsPerMonth | LimitKind::MessagesPerDay => {
            let zone: TimeZone = organizations::table
                .find(tenant.org_id())
                .select(organizations::time_zone)
                .first(conn)?;
            zone.tz()
        }
        _ => chrono_tz::UTC,
    };
    used_in(conn, tenant, tz, kind, now)
}

/// `used` for an organization whose time zone is already known.
pub(crate) fn used_in(
    conn: &mut PgConnection,
    tenant: &Tenant,
    tz: chrono_tz::Tz,
    kind: LimitKind,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    let o = tenant.org_id();
    match kind {
        LimitKind::LeadsPerMonth | LimitKind::MessagesPerDay => {
            let usage = if kind == LimitKind::LeadsPerMonth {
                UsageKind::LeadCreated
            } else {
                UsageKind::MessageSent
            };
            let (period, start) = period_of(usage, tz, now);
            let count: Option<i64> = usage_counters::table
                .find((o, usage.as_str(), period, start))
                .select(usage_counters::count)
                .first(conn)
                .optional()?;
            Ok(count.unwrap_or(0))
        }
        LimitKind::Users => {
            let members: i64 = organization_members::table
                .filter(scoped_organization_members_rows(tenant))
                .count()
                .get_result(conn)?;
            let pending: i64 = invitations::table
                .filter(scoped_invitations_rows(tenant))
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::revoked_at.is_null())
                .filter(invitations::expires_at.gt(now))
                .count()
                .get_result(conn)?;
            Ok(members + pending)
        }
        LimitKind::Templates => message_templates::table
            .filter(scoped_message_templates_rows(tenant))
            .count()
            .get_result(conn),
        LimitKind::Sequences => sequences::table
            .filter(scoped_sequences_rows(tenant))
            .count()
            .get_result(conn),
    }
}

/// docs/product.md, "Limits" `can_add_lead` & co.: true when one more fits the effective limit
/// right now (for showing or hiding buttons; creation itself still goes
/// through `consume_at` / `guard_count_limit`).
pub fn can_add(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: LimitKind,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let (organization, sub) = org_and_subscription(conn, tenant)?;
    let limit = effective_limits(conn, tenant, &sub, now)?.limits.get(kind);
    let used = used_in(conn, tenant, organization.tz(), kind, now)?;
    Ok(crate::domain::plans::allows_one_more(used, limit))
}

/// Like `consume_at` for up to `resources.len()` actions at once (CSV imports):
/// takes as many as the limit leaves — locking the period's counter row, so
/// concurrent callers cannot overshoot — writes one record per granted
/// resource, and returns how many were granted (the first ones).
pub fn consume_up_to(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: UsageKind,
    resources: &[Uuid],
    now: DateTime<Utc>,
) -> DbResult<usize> {
    let org = tenant.org_id();
    let (organization, sub) = org_and_subscription(conn, tenant)?;
    let tz = organization.tz();
    let effective = effective_limits(conn, tenant, &sub, now)?;
    let limit = kind.limit_kind().and_then(|k| effective.limits.get(k));
    let (period, start) = period_of(kind, tz, now);
    diesel::insert_into(usage_counters::table)
        .values(NewCounter::of(tenant, kind, (period, start), 0))
        .on_conflict_do_nothing()
        .execute(conn)?;
    let key = (org, kind.as_str(), period, start);
    let used: i64 = usage_counters::table
        .find(key)
        .select(usage_counters::count)
        .for_update()
        .first(conn)?;
    let room = limit.map_or(resources.len() as i64, |l| (l - used).max(0));
    let granted = resources.len().min(room as usize);
    if granted == 0 {
        return Ok(0);
    }
    diesel::update(usage_counters::table.find(key))
        .set(usage_counters::count.eq(usage_counters::count + granted as i64))
        .execute(conn)?;
    if let Some(limit_kind) = kind.limit_kind() {
        let crossing = Crossing {
            kind: limit_kind,
            plan: effective.plan,
            before: used,
            after: used + granted as i64,
            limit,
        };
        notify_crossing(conn, tenant, &crossing, &period_key((period, start)), now)?;
    }
    if kind == UsageKind::LeadCreated {
        let day = ("day", day_start(tz, now));
        diesel::insert_into(usage_counters::table)
            .values(NewCounter::of(tenant, kind, day, granted as i64))
            .on_conflict((
                usage_counters::organization_id,
                usage_counters::kind,
                usage_counters::period,
                usage_counters::period_start,
            ))
            .do_update()
            .set(usage_counters::count.eq(usage_counters::count + granted as i64))
            .execute(conn)?;
    }
    for chunk in resources[..granted].chunks(5000) {
        let records: Vec<_> = chunk
            .iter()
            .map(|r| NewUsageRecord::of(tenant, kind, Some(*r), now))
            .collect();
        diesel::insert_into(usage_records::table)
            .values(records)
            .execute(conn)?;
    }
    Ok(granted)
}

/// A usage record: the tenant's organization, the acting user.
#[derive(Insertable)]
#[diesel(table_name = usage_records)]
struct NewUsageRecord {
    organization_id: OrgId,
    kind: &'static str,
    user_id: Option<UserId>,
    resource_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
}

impl NewUsageRecord {
    fn of(
        tenant: &Tenant,
        kind: UsageKind,
        resource: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> NewUsageRecord {
        NewUsageRecord {
            organization_id: tenant.org_id(),
            kind: kind.as_str(),
            user_id: tenant.user_id(),
            resource_id: resource,
            occurred_at: now,
        }
    }
}

/// A usage counter of the tenant's organization for one period.
#[derive(Insertable)]
#[diesel(table_name = usage_counters)]
struct NewCounter {
    organization_id: OrgId,
    kind: &'static str,
    period: &'static str,
    period_start: NaiveDate,
    count: i64,
}

impl NewCounter {
    fn of(
        tenant: &Tenant,
        kind: UsageKind,
        period: (&'static str, NaiveDate),
        count: i64,
    ) -> NewCounter {
        NewCounter {
            organization_id: tenant.org_id(),
            kind: kind.as_str(),
            period: period.0,
            period_start: period.1,
            count,
        }
    }
}

/// The condition every `invitations` row of a tenant meets.
fn scoped_invitations_rows(tenant: &Tenant) -> Eq<invitations::organization_id, OrgId> {
    invitations::organization_id.eq(tenant.org_id())
}

/// The condition every `message_templates` row of a tenant meets.
fn scoped_message_templates_rows(tenant: &Tenant) -> Eq<message_templates::organization_id, OrgId> {
    message_templates::organization_id.eq(tenant.org_id())
}

/// The condition every `organization_members` row of a tenant meets.
fn scoped_organization_members_rows(
    tenant: &Tenant,
) -> Eq<organization_members::organization_id, OrgId> {
    organization_members::organization_id.eq(tenant.org_id())
}

/// The condition every `sequences` row of a tenant meets.
fn scoped_sequences_rows(tenant: &Tenant) -> Eq<sequences::organization_id, OrgId> {
    sequences::organization_id.eq(tenant.org_id())
}
