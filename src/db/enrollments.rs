//! Sequence enrolments of leads: enrol (once per lead and sequence), pause,
//! resume, and the lists on the lead and sequence pages (with their queued
//! steps' "next send at", `db::next_send`). The sequence worker
//! (jobs/sequences.rs) advances them.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::Eq;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::error::DbResult;
use crate::db::models::Member;
use crate::db::next_send::{self, QueuedSend};
use crate::db::schema::{
    leads, message_templates, organization_members, sequence_enrollments, sequence_steps, sequences,
};
use crate::db::sequences::{self as seqs, Sequence};
use crate::db::{webhooks, SystemAccess, Tenant};
use crate::domain::roles::{self, Action};
use crate::ids::{EnrollmentId, LeadId, MailboxId, OrgId, SequenceId, TemplateId, UserId};
use crate::webhooks::events::{self as hook_events, EventType};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sequence_enrollments)]
pub struct Enrollment {
    pub id: EnrollmentId,
    pub lead_id: LeadId,
    pub sequence_owner_key: Uuid,
    pub sequence_id: SequenceId,
    pub next_step: i32,
    pub status: String,
    pub next_run_at: Option<DateTime<Utc>>,
    pub enrolled_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    /// Why the sequence worker paused it (None when a member paused it).
    pub paused_reason: Option<String>,
    /// The mailbox its steps go out from, picked when its first step was
    /// queued (None: not yet, the platform server, or a deleted mailbox).
    pub mailbox_id: Option<MailboxId>,
}

/// An enrolment with a readable name: the lead's (sequence page) or the
/// sequence's (lead page).
#[derive(Debug, Clone)]
pub struct EnrollmentRow {
    pub enrollment: Enrollment,
    pub label: String,
    pub sub: String,
    /// Its steps queued and not yet sent, with what each waits for.
    pub queued: Vec<QueuedSend>,
}

/// Gives each row its queued steps (`db::next_send`) as of `now`.
fn with_queued(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mut rows: Vec<EnrollmentRow>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<EnrollmentRow>> {
    let ids: Vec<EnrollmentId> = rows.iter().map(|r| r.enrollment.id).collect();
    let queued = next_send::queued_sends(conn, tenant, &ids, now)?;
    for row in &mut rows {
        row.queued = queued
            .iter()
            .filter(|q| q.enrollment == row.enrollment.id)
            .cloned()
            .collect();
    }
    Ok(rows)
}

/// An enrolment as created: the tenant's organization, enrolled by the
/// acting user.
#[derive(Insertable)]
#[diesel(table_name = sequence_enrollments)]
struct NewEnrollment {
    organization_id: OrgId,
    id: EnrollmentId,
    lead_id: LeadId,
    sequence_owner_key: Uuid,
    sequence_id: SequenceId,
    next_run_at: Option<DateTime<Utc>>,
    enrolled_by: Option<UserId>,
}

/// Rows per INSERT when enrolling (well under the bind-parameter limit).
const ENROL_CHUNK: usize = 5_000;

/// Enrols leads of the tenant in a visible sequence. Returns (newly
/// enrolled, already enrolled). Ids that are not the tenant's leads are skipped.
pub fn enrol(
    conn: &mut PgConnection,
    tenant: &Tenant,
    seq: &Sequence,
    lead_ids: &[LeadId],
    now: DateTime<Utc>,
) -> DbResult<(usize, usize)> {
    let first_run = seqs::first_run_at(conn, seq, now)?;
    let leads = crate::db::leads::find_many(conn, tenant, lead_ids)?;
    let rows: Vec<_> = leads
        .iter()
        .map(|lead| NewEnrollment {
            organization_id: tenant.org_id(),
            id: EnrollmentId::new(),
            lead_id: lead.id,
            sequence_owner_key: seq.owner_key,
            sequence_id: seq.id,
            next_run_at: Some(first_run),
            enrolled_by: tenant.user_id(),
        })
        .collect();
    let mut added = 0;
    // One INSERT binds 7 parameters a row; PostgreSQL takes at most 65,535.
    for chunk in rows.chunks(ENROL_CHUNK) {
        let new: Vec<Enrollment> = diesel::insert_into(sequence_enrollments::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .returning(Enrollment::as_returning())
            .get_results(conn)?;
        added += new.len();
        webhooks::emit(conn, tenant, EventType::EnrollmentCreated, now, |_| {
            Ok(new.iter().map(hook_events::enrollment).collect())
        })?;
    }
    Ok((added, leads.len() - added))
}

/// Enrolments of one lead, with the sequence names and their queued steps.
pub fn for_lead(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: LeadId,
    now: DateTime<Utc>,
) -> QueryResult<Vec<EnrollmentRow>> {
    let rows: Vec<(Enrollment, String)> = sequence_enrollments::table
        .inner_join(
            sequences::table.on(sequences::owner_key
                .eq(sequence_enrollments::sequence_owner_key)
                .and(sequences::id.eq(sequence_enrollments::sequence_id))),
        )
        .filter(scoped_sequence_enrollments_rows(tenant))
        .filter(sequence_enrollments::lead_id.eq(lead))
        .order(sequence_enrollments::created_at.desc())
        .select((Enrollment::as_select(), sequences::name))
        .load(conn)?;
    let rows = rows
        .into_iter()
        .map(|(enrollment, name)| EnrollmentRow {
            enrollment,
            label: name,
            sub: String::new(),
            queued: Vec::new(),
        })
        .collect();
    with_queued(conn, tenant, rows, now)
}

/// The newest enrolments of one sequence in the tenant's organization,
/// with their queued steps.
pub fn for_sequence(
    conn: &mut PgConnection,
    tenant: &Tenant,
    seq: &Sequence,
    limit: i64,
    now: DateTime<Utc>,
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
    let rows = rows
        .into_iter()
        .map(|(enrollment, first, last, email)| EnrollmentRow {
            enrollment,
            label: format!("{first} {last}").trim().to_string(),
            sub: email,
            queued: Vec::new(),
        })
        .collect();
    with_queued(conn, tenant, rows, now)
}

/// Pauses an active enrolment or resumes a paused one; NotFound for other
/// organizations' ids. Completed enrolments stay as they are.
pub fn set_paused(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: EnrollmentId,
    paused: bool,
    now: DateTime<Utc>,
) -> QueryResult<Enrollment> {
    let key = (tenant.org_id(), id);
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
    // Paused because its enroller lost their reach: whoever resumes it (they
    // may send messages) sends the rest in their name.
    let enrolled_by = match (&current.paused_reason, paused) {
        (Some(_), false) => tenant.user_id(),
        _ => current.enrolled_by,
    };
    diesel::update(sequence_enrollments::table.find(key))
        .set((
            sequence_enrollments::status.eq(to),
            sequence_enrollments::paused_reason.eq(None::<String>),
            sequence_enrollments::enrolled_by.eq(enrolled_by),
            sequence_enrollments::updated_at.eq(now),
        ))
        .returning(Enrollment::as_returning())
        .get_result(conn)
}

// The sequence worker's side (jobs/sequences.rs): claim, step, advance.

/// Claims one due active enrolment (`FOR UPDATE SKIP LOCKED`) with the tenant
/// it belongs to; None when nothing is due.
pub fn claim_due(
    conn: &mut PgConnection,
    access: &SystemAccess,
    now: DateTime<Utc>,
) -> QueryResult<Option<(Tenant, Enrollment)>> {
    let claimed: Option<(OrgId, Enrollment)> = sequence_enrollments::table
        .filter(sequence_enrollments::status.eq("active"))
        .filter(sequence_enrollments::next_run_at.le(now))
        .order(sequence_enrollments::next_run_at.asc())
        .select((
            sequence_enrollments::organization_id,
            Enrollment::as_select(),
        ))
        .for_update()
        .skip_locked()
        .first(conn)
        .optional()?;
    Ok(claimed.map(|(org, e)| (access.tenant(org), e)))
}

/// A step with what its message needs.
pub struct DueStep {
    pub position: i32,
    pub template: (Uuid, TemplateId),
    pub subject: String,
    pub body: String,
}

/// The step at `position` of the enrolment's sequence, with its template.
pub fn step_at(
    conn: &mut PgConnection,
    e: &Enrollment,
    position: i32,
) -> QueryResult<Option<DueStep>> {
    let row: Option<(i32, Uuid, TemplateId, String, String)> = sequence_steps::table
        .inner_join(
            message_templates::table.on(message_templates::owner_key
                .eq(sequence_steps::template_owner_key)
                .and(message_templates::id.eq(sequence_steps::template_id))),
        )
        .filter(sequence_steps::owner_key.eq(e.sequence_owner_key))
        .filter(sequence_steps::sequence_id.eq(e.sequence_id))
        .filter(sequence_steps::position.eq(position))
        .select((
            sequence_steps::position,
            message_templates::owner_key,
            message_templates::id,
            message_templates::subject,
            message_templates::body,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(position, owner, id, subject, body)| DueStep {
        position,
        template: (owner, id),
        subject,
        body,
    }))
}

fn delay_of(conn: &mut PgConnection, e: &Enrollment, position: i32) -> QueryResult<Option<i32>> {
    sequence_steps::table
        .filter(sequence_steps::owner_key.eq(e.sequence_owner_key))
        .filter(sequence_steps::sequence_id.eq(e.sequence_id))
        .filter(sequence_steps::position.eq(position))
        .select(sequence_steps::delay_days)
        .first(conn)
        .optional()
}

/// Why the enroller may no longer send this enrolment's steps, if so: they
/// left the organization (or deleted their account), or their role or flags
/// no longer allow sending messages. Read at send time, inside the claim's
/// transaction.
pub fn enroller_gone(
    conn: &mut PgConnection,
    tenant: &Tenant,
    e: &Enrollment,
) -> QueryResult<Option<&'static str>> {
    let Some(user) = e.enrolled_by else {
        return Ok(Some(ENROLLER_LEFT));
    };
    let member: Option<Member> = scoped_organization_members(tenant)
        .filter(organization_members::user_id.eq(user))
        .select(Member::as_select())
        .first(conn)
        .optional()?;
    Ok(match member {
        None => Some(ENROLLER_LEFT),
        Some(m) if !roles::allows(m.role, m.flags(), Action::SendMessages) => {
            Some(ENROLLER_MAY_NOT_SEND)
        }
        Some(_) => None,
    })
}

/// Pause reasons the lead page shows.
pub const ENROLLER_LEFT: &str =
    "Paused: the member who enrolled this lead left the organization. Resume to send the remaining steps in your name.";
pub const ENROLLER_MAY_NOT_SEND: &str =
    "Paused: the member who enrolled this lead may no longer send messages. Resume to send the remaining steps in your name.";

/// Pauses a claimed enrolment with a reason (its current step waits).
pub fn pause_with_reason(
    conn: &mut PgConnection,
    tenant: &Tenant,
    e: &Enrollment,
    reason: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(scoped_sequence_enrollments(tenant).filter(sequence_enrollments::id.eq(e.id)))
        .set((
            sequence_enrollments::status.eq("paused"),
            sequence_enrollments::paused_reason.eq(Some(reason)),
            sequence_enrollments::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Ends the enrolment with `status` (completed, stopped).
pub fn finish(
    conn: &mut PgConnection,
    tenant: &Tenant,
    e: &Enrollment,
    status: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(scoped_sequence_enrollments(tenant).filter(sequence_enrollments::id.eq(e.id)))
        .set((
            sequence_enrollments::status.eq(status),
            sequence_enrollments::next_run_at.eq(None::<DateTime<Utc>>),
            sequence_enrollments::updated_at.eq(now),
        ))
        .execute(conn)?;
    if status == "completed" {
        let done = Enrollment {
            status: status.into(),
            next_run_at: None,
            ..e.clone()
        };
        webhooks::emit(conn, tenant, EventType::EnrollmentCompleted, now, |_| {
            Ok(vec![hook_events::enrollment(&done)])
        })?;
    }
    Ok(())
}

/// Moves to the next step (its delay counts from now), or completes.
pub fn advance(
    conn: &mut PgConnection,
    tenant: &Tenant,
    e: &Enrollment,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let next = e.next_step + 1;
    let target = || scoped_sequence_enrollments(tenant).filter(sequence_enrollments::id.eq(e.id));
    let Some(delay) = delay_of(conn, e, next)? else {
        diesel::update(target())
            .set(sequence_enrollments::next_step.eq(next))
            .execute(conn)?;
        return finish(conn, tenant, e, "completed", now);
    };
    diesel::update(target())
        .set((
            sequence_enrollments::next_step.eq(next),
            sequence_enrollments::next_run_at.eq(Some(now + Duration::days(i64::from(delay)))),
            sequence_enrollments::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records the mailbox an enrolment's first step went out from; its later
/// steps keep it.
pub fn set_mailbox(
    conn: &mut PgConnection,
    tenant: &Tenant,
    e: &Enrollment,
    mailbox: Option<MailboxId>,
) -> QueryResult<()> {
    diesel::update(scoped_sequence_enrollments(tenant).filter(sequence_enrollments::id.eq(e.id)))
        .set(sequence_enrollments::mailbox_id.eq(mailbox))
        .execute(conn)?;
    Ok(())
}

/// Runs the enrolment's current step again at `at`.
pub fn reschedule(
    conn: &mut PgConnection,
    tenant: &Tenant,
    e: &Enrollment,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(scoped_sequence_enrollments(tenant).filter(sequence_enrollments::id.eq(e.id)))
        .set((
            sequence_enrollments::next_run_at.eq(Some(at)),
            sequence_enrollments::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The condition every `sequence_enrollments` row of a tenant meets (for joined queries).
fn scoped_sequence_enrollments_rows(
    tenant: &Tenant,
) -> Eq<sequence_enrollments::organization_id, OrgId> {
    sequence_enrollments::organization_id.eq(tenant.org_id())
}

/// Every single-table `sequence_enrollments` query of a tenant starts here.
fn scoped_sequence_enrollments(
    tenant: &Tenant,
) -> diesel::dsl::Filter<
    sequence_enrollments::table,
    Eq<sequence_enrollments::organization_id, OrgId>,
> {
    sequence_enrollments::table.filter(scoped_sequence_enrollments_rows(tenant))
}

/// Every `organization_members` query of a tenant here starts here.
fn scoped_organization_members(
    tenant: &Tenant,
) -> diesel::dsl::Filter<
    organization_members::table,
    Eq<organization_members::organization_id, OrgId>,
> {
    organization_members::table.filter(organization_members::organization_id.eq(tenant.org_id()))
}
