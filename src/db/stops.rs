//! Ending a lead's sequence enrolments because of what happened to the lead
//! (it unsubscribed, its address is suppressed). The reason is stored on the
//! enrolment (`paused_reason`, which a stopped enrolment may carry too) and
//! shown on the lead page. Member actions and the worker's stepping stay in
//! `enrollments`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::sequence_enrollments;
use crate::db::Tenant;
use crate::ids::{EnrollmentId, LeadId};

/// Reasons the lead page shows on a stopped enrolment.
pub const UNSUBSCRIBED: &str = "Stopped: the lead unsubscribed.";
pub const SUPPRESSED: &str = "Stopped: this address is on the suppression list.";

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
            .filter(sequence_enrollments::status.eq_any(["active", "paused"])),
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

/// Every `sequence_enrollments` query here starts from the tenant's rows.
fn scoped(
    tenant: &Tenant,
) -> diesel::dsl::Filter<
    sequence_enrollments::table,
    diesel::dsl::Eq<sequence_enrollments::organization_id, crate::ids::OrgId>,
> {
    sequence_enrollments::table.filter(sequence_enrollments::organization_id.eq(tenant.org_id()))
}
