//! Ending a lead's sequence enrolments because of what happened to the lead
//! (it unsubscribed, its address is suppressed, it replied or was marked
//! lost in a sequence that stops on reply). The reason is stored on the
//! enrolment (`paused_reason`, which a stopped enrolment may carry too) and
//! shown on the lead page. Member actions and the worker's stepping stay in
//! `enrollments`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::enrollments::Enrollment;
use crate::db::leads::Lead;
use crate::db::schema::{sequence_enrollments, sequences};
use crate::db::Tenant;
use crate::domain::leads::LeadStatus;
use crate::ids::{EnrollmentId, LeadId};

/// Reasons the lead page shows on a stopped enrolment.
pub const UNSUBSCRIBED: &str = "Stopped: the lead unsubscribed.";
pub const SUPPRESSED: &str = "Stopped: this address is on the suppression list.";
pub const REPLIED: &str = "Stopped: the lead replied.";
pub const LOST: &str = "Stopped: the lead was marked lost.";
pub const BOUNCED: &str = "Stopped: mail to this address bounced.";

/// Why a lead with `status` leaves sequences that stop on reply, if it does.
pub fn status_reason(status: LeadStatus) -> Option<&'static str> {
    match status {
        LeadStatus::Replied => Some(REPLIED),
        LeadStatus::Lost => Some(LOST),
        _ => None,
    }
}

/// After `lead` was saved: when its status is Replied or Lost, stops its
/// running enrolments in sequences that stop on reply; returns how many.
pub fn after_status_change(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: &Lead,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    after_status_change_of(conn, tenant, &[lead.id], lead.fields.status, now)
}

/// `after_status_change` for many leads that were all given `status` (a
/// bulk status change): one statement, whatever the number of leads.
pub fn after_status_change_of(
    conn: &mut PgConnection,
    tenant: &Tenant,
    leads: &[LeadId],
    status: LeadStatus,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let Some(reason) = status_reason(status) else {
        return Ok(0);
    };
    let ids: Vec<EnrollmentId> = sequence_enrollments::table
        .inner_join(
            sequences::table.on(sequences::owner_key
                .eq(sequence_enrollments::sequence_owner_key)
                .and(sequences::id.eq(sequence_enrollments::sequence_id))),
        )
        .filter(scoped_rows(tenant))
        .filter(sequence_enrollments::lead_id.eq_any(leads))
        .filter(sequence_enrollments::status.eq_any(RUNNING))
        .filter(sequences::stop_on_reply.eq(true))
        .select(sequence_enrollments::id)
        .load(conn)?;
    diesel::update(scoped(tenant).filter(sequence_enrollments::id.eq_any(ids)))
        .set(stopped(reason, now))
        .execute(conn)
}

/// Why the worker must not send the claimed enrolment `e` of `lead`: the
/// lead replied or was lost and its sequence stops on reply (a status set
/// by any path, even one that did not stop it at once).
pub fn status_stop(
    conn: &mut PgConnection,
    lead: &Lead,
    e: &Enrollment,
) -> QueryResult<Option<&'static str>> {
    let Some(reason) = status_reason(lead.fields.status) else {
        return Ok(None);
    };
    let stops: bool = sequences::table
        .find((e.sequence_owner_key, e.sequence_id))
        .select(sequences::stop_on_reply)
        .first(conn)?;
    Ok(stops.then_some(reason))
}

/// Enrolments that may still send.
const RUNNING: [&str; 2] = ["active", "paused"];

/// Stops every running (active or paused) enrolment of `lead`; returns how many.
pub fn stop_for_lead(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: LeadId,
    reason: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        scoped(tenant)
            .filter(sequence_enrollments::lead_id.eq(lead))
            .filter(sequence_enrollments::status.eq_any(RUNNING)),
    )
    .set(stopped(reason, now))
    .execute(conn)
}

/// Stops one enrolment (the worker, on a claimed one).
pub fn stop_one(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: EnrollmentId,
    reason: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(scoped(tenant).filter(sequence_enrollments::id.eq(id)))
        .set(stopped(reason, now))
        .execute(conn)?;
    Ok(())
}

#[allow(clippy::type_complexity)]
fn stopped(
    reason: &str,
    now: DateTime<Utc>,
) -> (
    diesel::dsl::Eq<sequence_enrollments::status, &'static str>,
    diesel::dsl::Eq<sequence_enrollments::next_run_at, Option<DateTime<Utc>>>,
    diesel::dsl::Eq<sequence_enrollments::paused_reason, Option<String>>,
    diesel::dsl::Eq<sequence_enrollments::updated_at, DateTime<Utc>>,
) {
    (
        sequence_enrollments::status.eq("stopped"),
        sequence_enrollments::next_run_at.eq(None),
        sequence_enrollments::paused_reason.eq(Some(reason.to_string())),
        sequence_enrollments::updated_at.eq(now),
    )
}

type ScopeCondition = diesel::dsl::Eq<sequence_enrollments::organization_id, crate::ids::OrgId>;

/// Every single-table `sequence_enrollments` query here starts from the tenant's rows.
fn scoped(tenant: &Tenant) -> diesel::dsl::Filter<sequence_enrollments::table, ScopeCondition> {
    sequence_enrollments::table.filter(scoped_rows(tenant))
}

/// The condition every `sequence_enrollments` row of the tenant meets (joins).
fn scoped_rows(tenant: &Tenant) -> ScopeCondition {
    sequence_enrollments::organization_id.eq(tenant.org_id())
}
