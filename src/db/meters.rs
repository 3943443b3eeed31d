//! What the usage page reads: the five meters of an organization (from the
//! per-period counters and row counts, so their cost does not grow with the
//! usage history) and the daily history for the chart (from the daily counters).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;

use crate::db::models::{Organization, Subscription};
use crate::db::schema::usage_counters;
use crate::db::usage::{
    effective_limits, org_and_subscription, used_in, EffectiveLimits, UsageKind,
};
use crate::db::Tenant;
use crate::domain::plans::{Limit, LimitKind};
use crate::domain::subscription::day_start;
use crate::ids::OrgId;

/// One meter: how much of a limit is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    pub kind: LimitKind,
    pub used: i64,
    pub limit: Limit,
}

/// The order of the meters on the page (docs/product.md, "Limits" lists them so).
pub const METER_ORDER: [LimitKind; 5] = [
    LimitKind::LeadsPerMonth,
    LimitKind::MessagesPerDay,
    LimitKind::Users,
    LimitKind::Templates,
    LimitKind::Sequences,
];

/// Everything the usage page shows about plan and limits, read at `now`.
#[derive(Debug, Clone)]
pub struct UsageSnapshot {
    pub organization: Organization,
    pub subscription: Subscription,
    pub effective: EffectiveLimits,
    /// In `METER_ORDER`.
    pub meters: Vec<Meter>,
    /// API calls today (no limit; the API has a per-minute rate instead).
    pub api_calls_today: i64,
}

/// Plan, effective limits and the five meters of the tenant's organization.
pub fn snapshot(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> QueryResult<UsageSnapshot> {
    let (organization, subscription) = org_and_subscription(conn, tenant)?;
    let effective = effective_limits(conn, tenant, &subscription, now)?;
    let tz = organization.tz();
    let meters = METER_ORDER
        .into_iter()
        .map(|kind| {
            Ok(Meter {
                kind,
                used: used_in(conn, tenant, tz, kind, now)?,
                limit: effective.limits.get(kind),
            })
        })
        .collect::<QueryResult<Vec<_>>>()?;
    let api_calls_today = api_calls_today(conn, tenant, tz, now)?;
    Ok(UsageSnapshot {
        organization,
        subscription,
        effective,
        meters,
        api_calls_today,
    })
}

/// Leads created and messages sent on one local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayUsage {
    pub date: NaiveDate,
    pub leads: i64,
    pub messages: i64,
    pub api_calls: i64,
}

/// The last `days` local days up to today (oldest first, days without use
/// included as zeros), read from the daily counters.
pub fn daily_history(
    conn: &mut PgConnection,
    tenant: &Tenant,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    days: u32,
) -> QueryResult<Vec<DayUsage>> {
    let today = day_start(tz, now);
    let first = history_start(today, days);
    let rows: Vec<(String, NaiveDate, i64)> = scoped_usage_counters(tenant)
        .filter(usage_counters::kind.eq_any([
            UsageKind::LeadCreated.as_str(),
            UsageKind::MessageSent.as_str(),
            UsageKind::ApiCall.as_str(),
        ]))
        .filter(usage_counters::period.eq("day"))
        .filter(usage_counters::period_start.between(first, today))
        .select((
            usage_counters::kind,
            usage_counters::period_start,
            usage_counters::count,
        ))
        .load(conn)?;
    Ok(history_from(first, today, rows))
}

/// The first local day of a history of `days` days up to `today`.
pub(crate) fn history_start(today: NaiveDate, days: u32) -> NaiveDate {
    today - chrono::Days::new(u64::from(days.saturating_sub(1)))
}

/// The days from `first` to `today` (zeros included) from daily counter
/// rows (kind, day, count), however they were read.
pub(crate) fn history_from(
    first: NaiveDate,
    today: NaiveDate,
    rows: impl IntoIterator<Item = (String, NaiveDate, i64)>,
) -> Vec<DayUsage> {
    let mut out: Vec<DayUsage> = first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|date| DayUsage {
            date,
            leads: 0,
            messages: 0,
            api_calls: 0,
        })
        .collect();
    for (kind, date, count) in rows {
        let Some(day) = out.iter_mut().find(|d| d.date == date) else {
            continue;
        };
        if kind == UsageKind::LeadCreated.as_str() {
            day.leads = count;
        } else if kind == UsageKind::ApiCall.as_str() {
            day.api_calls = count;
        } else {
            day.messages = count;
        }
    }
    out
}

/// API calls on the organization's local day of `now` (the `api_call`
/// meter, docs/product.md, "API"); it has no limit, only the per-minute rate limit.
pub fn api_calls_today(
    conn: &mut PgConnection,
    tenant: &Tenant,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    let count: Option<i64> = scoped_usage_counters(tenant)
        .filter(usage_counters::kind.eq(UsageKind::ApiCall.as_str()))
        .filter(usage_counters::period.eq("day"))
        .filter(usage_counters::period_start.eq(day_start(tz, now)))
        .select(usage_counters::count)
        .first(conn)
        .optional()?;
    Ok(count.unwrap_or(0))
}

/// Every `usage_counters` query of a tenant starts here.
fn scoped_usage_counters(
    tenant: &Tenant,
) -> Filter<usage_counters::table, Eq<usage_counters::organization_id, OrgId>> {
    usage_counters::table.filter(scoped_usage_counters_rows(tenant))
}

/// The condition every `usage_counters` row of a tenant meets (for joined queries).
fn scoped_usage_counters_rows(tenant: &Tenant) -> Eq<usage_counters::organization_id, OrgId> {
    usage_counters::organization_id.eq(tenant.org_id())
}
