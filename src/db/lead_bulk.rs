//! Bulk actions on leads: resolving a selection (ids picked on the page, or
//! every lead matching the list's filter, chosen on the server), applying a
//! change to many leads in set-based statements, and the background jobs
//! that apply a large selection in batches with visible progress.
//!
//! A selection of up to `INLINE_MAX` leads changes in the request, in one
//! transaction with one audit entry. A larger one is frozen into a job row
//! (its lead ids as they matched when asked for); the job applies it in
//! batches of `BATCH`, each batch its own transaction, and writes the one
//! audit entry when it finishes.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::{not, sql, Eq, Filter};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Integer, Nullable, Text, Uuid as SqlUuid};
use serde_json::json;
use uuid::Uuid;

use crate::db::error::{DbError, DbResult};
use crate::db::job_claim::{self, JobTable};
use crate::db::leads::{self, Lead, LeadFilter};
use crate::db::schema::{lead_bulk_jobs, leads as leads_t};
use crate::db::{audit, enrollments, sequences, stops, team, webhooks, Tenant};
use crate::domain::lead_bulk::BulkChange;
use crate::domain::leads::{LeadStatus, MAX_TAGS};
use crate::ids::{LeadId, OrgId, UserId};

/// The most leads a bulk change applies to within the request.
pub const INLINE_MAX: usize = 1_000;
/// Leads per batch (and per transaction) of a bulk job.
pub const BATCH: i32 = 1_000;
/// A running job whose lease is this old is taken over by another worker.
const STALE_AFTER_MINUTES: i64 = 10;

/// Which leads a bulk action applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Ids ticked on the page (ids of other organizations are skipped).
    Picked(Vec<LeadId>),
    /// Every lead matching the filter, as the server finds them now.
    Matching(LeadFilter),
}

/// The tenant's lead ids the selection names, newest first.
pub fn resolve(
    conn: &mut PgConnection,
    tenant: &Tenant,
    selection: &Selection,
) -> QueryResult<Vec<LeadId>> {
    match selection {
        Selection::Picked(ids) => leads::existing_ids(conn, tenant, ids),
        Selection::Matching(filter) => leads::matching_ids(conn, tenant, filter),
    }
}

/// Applies `change` to the tenant's leads among `ids`; returns how many
/// changed (a lead that already has the status, tag or owner is not
/// counted). Writes webhook events; the caller writes the audit entry.
pub fn apply(
    conn: &mut PgConnection,
    tenant: &Tenant,
    change: &BulkChange,
    ids: &[LeadId],
    now: DateTime<Utc>,
) -> DbResult<usize> {
    Ok(match change {
        BulkChange::SetStatus(status) => set_status(conn, tenant, ids, *status, now)?,
        BulkChange::AddTag(tag) => change_tag(conn, tenant, ids, tag, TagChange::Add, now)?,
        BulkChange::RemoveTag(tag) => change_tag(conn, tenant, ids, tag, TagChange::Remove, now)?,
        BulkChange::SetOwner(owner) => set_owner(conn, tenant, ids, *owner, now)?,
        BulkChange::Enrol(seq) => {
            let seq = sequences::find(conn, tenant, *seq)?;
            enrollments::enrol(conn, tenant, &seq, ids, now)?.0
        }
        BulkChange::Delete => delete(conn, tenant, ids, now)?,
    })
}

/// The one audit entry of a bulk change: what, over how many leads.
pub fn record(
    conn: &mut PgConnection,
    tenant: &Tenant,
    change: &BulkChange,
    selected: usize,
    changed: usize,
) -> QueryResult<()> {
    let mut after = json!({ "selected": selected, "changed": changed, "action": change.code() });
    if !change.tag().is_empty() {
        after["tag"] = json!(change.tag());
    }
    let target = format!("{selected} lead{}", if selected == 1 { "" } else { "s" });
    audit::record(
        conn,
        tenant,
        change.audit_action(),
        &target,
        None,
        Some(after),
    )
}

/// Sets the status of the leads that have another one; stops their
/// sequences when the new status stops them (as a single edit does).
fn set_status(
    conn: &mut PgConnection,
    tenant: &Tenant,
    ids: &[LeadId],
    status: LeadStatus,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let before: HashMap<LeadId, LeadStatus> = scoped_bulk_leads(tenant)
        .filter(leads_t::id.eq_any(ids))
        .filter(leads_t::status.ne(status))
        .select((leads_t::id, leads_t::status))
        .for_update()
        .load::<(LeadId, LeadStatus)>(conn)?
        .into_iter()
        .collect();
    let moving: Vec<LeadId> = before.keys().copied().collect();
    let updated: Vec<Lead> =
        diesel::update(scoped_bulk_leads(tenant).filter(leads_t::id.eq_any(&moving)))
            .set((leads_t::status.eq(status), leads_t::updated_at.eq(now)))
            .returning(Lead::as_returning())
            .get_results(conn)?;
    stops::after_status_change_of(conn, tenant, &moving, status, now)?;
    let changed: Vec<(Lead, LeadStatus)> = updated
        .into_iter()
        .map(|lead| {
            let was = before.get(&lead.id).copied().unwrap_or(status);
            (lead, was)
        })
        .collect();
    webhooks::leads_updated(conn, tenant, &changed, now)?;
    Ok(changed.len())
}

/// Which way a bulk tag change goes.
#[derive(Debug, Clone, Copy)]
enum TagChange {
    Add,
    Remove,
}

/// Adds `tag` to the leads that lack it and have room for another tag, or
/// removes it from the leads that have it.
fn change_tag(
    conn: &mut PgConnection,
    tenant: &Tenant,
    ids: &[LeadId],
    tag: &str,
    how: TagChange,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let has_tag = leads_t::tags.contains(vec![tag.to_string()]);
    let (function, applies): (
        &str,
        Box<dyn BoxableExpression<leads_t::table, Pg, SqlType = Bool>>,
    ) = match how {
        TagChange::Add => {
            let room = sql::<Bool>("cardinality(tags) < ").bind::<Integer, _>(MAX_TAGS as i32);
            ("array_append", Box::new(not(has_tag).and(room)))
        }
        TagChange::Remove => ("array_remove", Box::new(has_tag)),
    };
    let tags = sql::<Array<Nullable<Text>>>(&format!("{function}(tags, "))
        .bind::<Text, _>(tag.to_string())
        .sql(")");
    let updated: Vec<Lead> = diesel::update(
        scoped_bulk_leads(tenant)
            .filter(leads_t::id.eq_any(ids))
            .filter(applies),
    )
    .set((leads_t::tags.eq(tags), leads_t::updated_at.eq(now)))
    .returning(Lead::as_returning())
    .get_results(conn)?;
    unchanged_status(conn, tenant, updated, now)
}

/// Gives the leads to `owner` (a member of the organization, checked here)
/// or to nobody.
fn set_owner(
    conn: &mut PgConnection,
    tenant: &Tenant,
    ids: &[LeadId],
    owner: Option<UserId>,
    now: DateTime<Utc>,
) -> DbResult<usize> {
    if let Some(user) = owner {
        if !team::is_member(conn, tenant, user)? {
            return Err(DbError::Invalid(
                "Choose a member of this organization as the owner.".into(),
            ));
        }
    }
    let updated: Vec<Lead> = diesel::update(
        scoped_bulk_leads(tenant)
            .filter(leads_t::id.eq_any(ids))
            .filter(leads_t::owner_user_id.is_distinct_from(owner)),
    )
    .set((
        leads_t::owner_user_id.eq(owner),
        leads_t::updated_at.eq(now),
    ))
    .returning(Lead::as_returning())
    .get_results(conn)?;
    Ok(unchanged_status(conn, tenant, updated, now)?)
}

/// `lead.updated` for leads whose status did not change; returns how many.
fn unchanged_status(
    conn: &mut PgConnection,
    tenant: &Tenant,
    updated: Vec<Lead>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let changed: Vec<(Lead, LeadStatus)> = updated
        .into_iter()
        .map(|lead| {
            let status = lead.fields.status;
            (lead, status)
        })
        .collect();
    webhooks::leads_updated(conn, tenant, &changed, now)?;
    Ok(changed.len())
}

/// Deletes the leads (their messages and enrolments go with them, as for
/// a single delete).
fn delete(
    conn: &mut PgConnection,
    tenant: &Tenant,
    ids: &[LeadId],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let gone: Vec<Lead> = diesel::delete(scoped_bulk_leads(tenant).filter(leads_t::id.eq_any(ids)))
        .returning(Lead::as_returning())
        .get_results(conn)?;
    webhooks::leads_deleted(conn, tenant, &gone, now)?;
    Ok(gone.len())
}

/// A bulk job as its progress page shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead_bulk_jobs, check_for_backend(diesel::pg::Pg))]
pub struct Job {
    pub id: Uuid,
    pub action: String,
    pub tag: String,
    pub total: i32,
    pub done: i32,
    pub changed: i32,
    pub status: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "done" | "failed")
    }
}

#[derive(Insertable)]
#[diesel(table_name = lead_bulk_jobs)]
struct NewJob<'a> {
    organization_id: OrgId,
    id: Uuid,
    requested_by: Option<UserId>,
    action: String,
    tag: &'a str,
    lead_ids: &'a [LeadId],
    total: i32,
    created_at: DateTime<Utc>,
}

/// Queues `change` over `ids` for the background job; returns the job id.
pub fn queue(
    conn: &mut PgConnection,
    tenant: &Tenant,
    change: &BulkChange,
    ids: &[LeadId],
    now: DateTime<Utc>,
) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::insert_into(lead_bulk_jobs::table)
        .values(NewJob {
            organization_id: tenant.org_id(),
            id,
            requested_by: tenant.user_id(),
            action: change.code(),
            tag: change.tag(),
            lead_ids: ids,
            total: ids.len() as i32,
            created_at: now,
        })
        .execute(conn)?;
    Ok(id)
}

/// One of the tenant's bulk jobs; NotFound for another organization's.
pub fn find_job(conn: &mut PgConnection, tenant: &Tenant, id: Uuid) -> QueryResult<Job> {
    scoped_lead_bulk_jobs(tenant)
        .filter(lead_bulk_jobs::id.eq(id))
        .select(Job::as_select())
        .first(conn)
}

/// A job a worker has claimed.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub organization_id: OrgId,
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub requested_by: Option<UserId>,
    #[diesel(sql_type = Text)]
    pub action: String,
    #[diesel(sql_type = Text)]
    pub tag: String,
}

/// The bulk jobs table as the shared claim reads it.
const JOBS: JobTable = JobTable {
    table: "lead_bulk_jobs",
    returning: &["organization_id", "id", "requested_by", "action", "tag"],
    stale_after: Duration::minutes(STALE_AFTER_MINUTES),
};

/// Housekeeping for every organization (a job): marks the oldest queued
/// (or stale running) bulk job running and returns it.
pub fn claim(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Option<Claimed>> {
    job_claim::claim(conn, &JOBS, now)
}

/// Applies `change` to the job's next batch and records the progress, in
/// the caller's transaction; returns how many leads the batch held (0 when
/// the job has none left). The job row stays locked until the transaction
/// ends, so two workers on one job (one took over a stale claim) never
/// apply the same batch twice.
pub fn run_batch(
    conn: &mut PgConnection,
    tenant: &Tenant,
    job: Uuid,
    change: &BulkChange,
    now: DateTime<Utc>,
) -> DbResult<usize> {
    let next = sql::<Array<SqlUuid>>(&format!("lead_ids[done + 1 : done + {BATCH}]"));
    let ids: Vec<LeadId> = scoped_lead_bulk_jobs(tenant)
        .filter(lead_bulk_jobs::id.eq(job))
        .select(next)
        .for_update()
        .first(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    let changed = apply(conn, tenant, change, &ids, now)?;
    diesel::update(scoped_lead_bulk_jobs(tenant).filter(lead_bulk_jobs::id.eq(job)))
        .set((
            lead_bulk_jobs::done.eq(lead_bulk_jobs::done + ids.len() as i32),
            lead_bulk_jobs::changed.eq(lead_bulk_jobs::changed + changed as i32),
        ))
        .execute(conn)?;
    Ok(ids.len())
}

/// Marks the job done and writes its one audit entry.
pub fn finish(
    conn: &mut PgConnection,
    tenant: &Tenant,
    job: Uuid,
    change: &BulkChange,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let (total, changed): (i32, i32) =
        diesel::update(scoped_lead_bulk_jobs(tenant).filter(lead_bulk_jobs::id.eq(job)))
            .set((
                lead_bulk_jobs::status.eq("done"),
                lead_bulk_jobs::finished_at.eq(now),
            ))
            .returning((lead_bulk_jobs::total, lead_bulk_jobs::changed))
            .get_result(conn)?;
    record(conn, tenant, change, total as usize, changed as usize)
}

/// Marks the job failed with a reason the progress page shows.
pub fn fail(
    conn: &mut PgConnection,
    tenant: &Tenant,
    job: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(scoped_lead_bulk_jobs(tenant).filter(lead_bulk_jobs::id.eq(job)))
        .set((
            lead_bulk_jobs::status.eq("failed"),
            lead_bulk_jobs::error.eq(reason),
            lead_bulk_jobs::finished_at.eq(now),
        ))
        .execute(conn)
}

/// Every `leads` query of a bulk change starts here.
fn scoped_bulk_leads(
    tenant: &Tenant,
) -> Filter<leads_t::table, Eq<leads_t::organization_id, OrgId>> {
    leads_t::table.filter(leads_t::organization_id.eq(tenant.org_id()))
}

/// Every `lead_bulk_jobs` query of a tenant starts here.
fn scoped_lead_bulk_jobs(
    tenant: &Tenant,
) -> Filter<lead_bulk_jobs::table, Eq<lead_bulk_jobs::organization_id, OrgId>> {
    lead_bulk_jobs::table.filter(lead_bulk_jobs::organization_id.eq(tenant.org_id()))
}
