//! Sequence enrolments of leads: enrol (once per lead and sequence), pause,
//! resume, and the lists on the lead and sequence pages. The sequence worker
//! (jobs/sequences.rs) advances them.

use chrono::{DateTime, Utc};
use diesel::dsl::Eq;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::error::DbResult;
use crate::db::schema::{leads, sequence_enrollments, sequences};
use crate::db::sequences::{self as seqs, Sequence};
use crate::db::Tenant;
use crate::ids::{EnrollmentId, LeadId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sequence_enrollments)]
pub struct Enrollment {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub sequence_owner_key: Uuid,
    pub sequence_id: Uuid,
    pub next_step: i32,
    pub status: String,
    pub next_run_at: Option<DateTime<Utc>>,
    pub enrolled_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// An enrolment with a readable name: the lead's (sequence page) or the
/// sequence's (lead page).
#[derive(Debug, Clone)]
pub struct EnrollmentRow {
    pub enrollment: Enrollment,
    pub label: String,
    pub sub: String,
}

/// Enrols leads of the tenant in a visible sequence. Returns (newly
/// enrolled, already enrolled). Ids that are not the tenant's leads are skipped.
pub fn enrol(
    conn: &mut PgConnection,
    tenant: &Tenant,
    seq: &Sequence,
    lead_ids: &[Uuid],
    now: DateTime<Utc>,
) -> DbResult<(usize, usize)> {
    let first_run = seqs::first_run_at(conn, seq, now)?;
    let org = tenant.org_id().uuid();
    let leads = crate::db::leads::find_many(conn, tenant, lead_ids)?;
    let rows: Vec<_> = leads
        .iter()
        .map(|lead| {
            (
                sequence_enrollments::organization_id.eq(org),
                sequence_enrollments::id.eq(Uuid::now_v7()),
                sequence_enrollments::lead_id.eq(lead.id),
                sequence_enrollments::sequence_owner_key.eq(seq.owner_key),
                sequence_enrollments::sequence_id.eq(seq.id),
                sequence_enrollments::next_run_at.eq(Some(first_run)),
                sequence_enrollments::enrolled_by.eq(tenant.user_id().map(|u| u.uuid())),
            )
        })
        .collect();
    let added = diesel::insert_into(sequence_enrollments::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok((added, leads.len() - added))
}

/// Enrolments of one lead, with the sequence names.
pub fn for_lead(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: LeadId,
) -> QueryResult<Vec<EnrollmentRow>> {
    let rows: Vec<(Enrollment, String)> = sequence_enrollments::table
        .inner_join(
            sequences::table.on(sequences::owner_key
                .eq(sequence_enrollments::sequence_owner_key)
                .and(sequences::id.eq(sequence_enrollments::sequence_id))),
        )
        .filter(scoped_sequence_enrollments_rows(tenant))
        .filter(sequence_enrollments::lead_id.eq(lead.uuid()))
        .order(sequence_enrollments::created_at.desc())
        .select((Enrollment::as_select(), sequences::name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(enrollment, name)| EnrollmentRow {
            enrollment,
            label: name,
            sub: String::new(),
        })
        .collect())
}

/// The newest enrolments of one sequence in the tenant's organization.
pub fn for_sequence(
    conn: &mut PgConnection,
    tenant: &Tenant,
    seq: &Sequence,
    limit: i64,
) -> QueryResult<Vec<EnrollmentRow>> {
    let rows: Vec<(Enrollment, String, String, String)> = sequence_enrollments::table
        .inner_join(
            leads::table.on(leads::organization_id
                .eq(sequence_enrollments::organization_id)
                .and(leads::id.eq(sequence_enrollments::lead_id))),
        )
        .filter(scoped_sequence_enrollments_rows(tenant))
        .filter(sequence_enrollments::sequence_id.eq(seq.id))
        .order(sequence_enrollments::created_at.desc())
        .limit(limit)
        .select((
            Enrollment::as_select(),
            leads::first_name,
            leads::last_name,
            leads::email,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(enrollment, first, last, email)| EnrollmentRow {
            enrollment,
            label: format!("{first} {last}").trim().to_string(),
            sub: email,
        })
        .collect())
}

/// Pauses an active enrolment or resumes a paused one; NotFound for other
/// organizations' ids. Completed enrolments stay as they are.
pub fn set_paused(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: EnrollmentId,
    paused: bool,
) -> QueryResult<Enrollment> {
    let key = (tenant.org_id().uuid(), id.uuid());
    let (from, to) = if paused {
        ("active", "paused")
    } else {
        ("paused", "active")
    };
    let current: Enrollment = sequence_enrollments::table
        .find(key)
        .select(Enrollment::as_select())
        .for_update()
        .first(conn)?;
    if current.status != from {
        return Ok(current);
    }
    diesel::update(sequence_enrollments::table.find(key))
        .set((
            sequence_enrollments::status.eq(to),
            sequence_enrollments::updated_at.eq(Utc::now()),
        ))
        .returning(Enrollment::as_returning())
        .get_result(conn)
}

/// The condition every `sequence_enrollments` row of a tenant meets (for joined queries).
fn scoped_sequence_enrollments_rows(
    tenant: &Tenant,
) -> Eq<sequence_enrollments::organization_id, Uuid> {
    sequence_enrollments::organization_id.eq(tenant.org_id().uuid())
}
