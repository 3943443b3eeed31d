//! What `/analytics` reads: the organization's `analytics_daily` rows of a
//! date range (kept by the triggers of migration `760000_analytics` in the
//! transaction of each event, so a read costs the same however much history
//! there is), and the names the tables show for template, sequence and
//! member ids. Also the status history of a lead (`lead_status_changes`).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{analytics_daily, lead_status_changes, message_templates, sequences};
use crate::db::{team, Tenant};
use crate::domain::analytics::DailyCount;
use crate::ids::{LeadId, OrgId, GLOBAL_OWNER};

/// The per-day counts of `[from, to]` (local days), in day order.
pub fn daily_counts(
    conn: &mut PgConnection,
    tenant: &Tenant,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<DailyCount>> {
    let rows: Vec<(NaiveDate, String, String, i64)> = scoped_analytics_daily(tenant)
        .filter(analytics_daily::day.between(from, to))
        .select((
            analytics_daily::day,
            analytics_daily::metric,
            analytics_daily::dim,
            analytics_daily::count,
        ))
        .order((analytics_daily::day, analytics_daily::metric))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(day, metric, dim, count)| DailyCount {
            day,
            metric,
            dim,
            count,
        })
        .collect())
}

/// Display names for the ids the counts mention: templates and sequences
/// (the organization's and the global ones) and members. Ids of deleted
/// rows are missing; the page names them as deleted.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub templates: HashMap<String, String>,
    pub sequences: HashMap<String, String>,
    pub members: HashMap<String, String>,
}

pub fn names(
    conn: &mut PgConnection,
    tenant: &Tenant,
    template_ids: &[String],
    sequence_ids: &[String],
) -> QueryResult<Names> {
    let parse =
        |ids: &[String]| -> Vec<Uuid> { ids.iter().filter_map(|s| s.parse().ok()).collect() };
    let owners = vec![tenant.owner_key(), GLOBAL_OWNER];
    let templates: Vec<(Uuid, String)> = message_templates::table
        .filter(message_templates::owner_key.eq_any(owners.clone()))
        .filter(message_templates::id.eq_any(parse(template_ids)))
        .select((message_templates::id, message_templates::name))
        .load(conn)?;
    let sequences: Vec<(Uuid, String)> = sequences::table
        .filter(sequences::owner_key.eq_any(owners))
        .filter(sequences::id.eq_any(parse(sequence_ids)))
        .select((sequences::id, sequences::name))
        .load(conn)?;
    let members = team::names(conn, tenant)?;
    Ok(Names {
        templates: templates
            .into_iter()
            .map(|(id, n)| (id.to_string(), n))
            .collect(),
        sequences: sequences
            .into_iter()
            .map(|(id, n)| (id.to_string(), n))
            .collect(),
        members: members
            .into_iter()
            .map(|(id, n)| (id.to_string(), n))
            .collect(),
    })
}

/// One recorded status change of a lead.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct StatusChange {
    pub changed_by: Option<Uuid>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_at: DateTime<Utc>,
}

/// A lead's status history, oldest first (its creation is the change from
/// no status).
pub fn status_history(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: LeadId,
) -> QueryResult<Vec<StatusChange>> {
    scoped_lead_status_changes(tenant)
        .filter(lead_status_changes::lead_id.eq(lead))
        .select((
            lead_status_changes::changed_by,
            lead_status_changes::from_status,
            lead_status_changes::to_status,
            lead_status_changes::changed_at,
        ))
        .order(lead_status_changes::changed_at.asc())
        .load(conn)
}

fn scoped_analytics_daily(
    tenant: &Tenant,
) -> Filter<analytics_daily::table, Eq<analytics_daily::organization_id, OrgId>> {
    analytics_daily::table.filter(analytics_daily::organization_id.eq(tenant.org_id()))
}

fn scoped_lead_status_changes(
    tenant: &Tenant,
) -> Filter<lead_status_changes::table, Eq<lead_status_changes::organization_id, OrgId>> {
    lead_status_changes::table.filter(lead_status_changes::organization_id.eq(tenant.org_id()))
}
