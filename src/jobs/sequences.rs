//! The sequence worker: sends each due step of active enrolments. An
//! enrolment is claimed with `FOR UPDATE SKIP LOCKED` and advanced in the
//! same transaction as its message, usage and outbox rows, so a step is sent
//! once (also guarded by UNIQUE (organization_id, enrollment_id, step_position)).
//! A step over the messages/day limit waits for the organization's next day.

use chrono::{DateTime, Days, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::config::Config;
use crate::db::enrollments::Enrollment;
use crate::db::leads;
use crate::db::messages::{self, Origin};
use crate::db::schema::{message_templates, sequence_enrollments, sequence_steps};
use crate::db::usage;
use crate::db::{DbError, DbResult};
use crate::db::{SystemAccess, Tenant};
use crate::domain::subscription::{day_start, local_date_start_utc};
use crate::ids::{LeadId, OrgId};

/// Enrolments handled per pass at most (the next pass continues).
const BATCH: usize = 100;

/// The job: one pass now.
pub fn run(
    conn: &mut PgConnection,
    _config: &Config,
    access: &SystemAccess,
) -> Result<usize, String> {
    run_due(conn, access, Utc::now())
}

/// Handles every enrolment due at `now` (up to a batch); returns how many.
pub fn run_due(
    conn: &mut PgConnection,
    access: &SystemAccess,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let mut handled = 0;
    while handled < BATCH {
        let advanced = conn
            .transaction(|conn| advance_one(conn, access, now))
            .map_err(|e| e.to_string())?;
        if !advanced {
            break;
        }
        handled += 1;
    }
    Ok(handled)
}

/// A step with what its message needs.
struct DueStep {
    position: i32,
    template: (Uuid, Uuid),
    subject: String,
    body: String,
}

fn step_at(conn: &mut PgConnection, e: &Enrollment, position: i32) -> QueryResult<Option<DueStep>> {
    let row: Option<(i32, Uuid, Uuid, String, String)> = sequence_steps::table
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

/// Claims one due enrolment and sends its step; false when none is due.
fn advance_one(
    conn: &mut PgConnection,
    access: &SystemAccess,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    let claimed: Option<(Uuid, Enrollment)> = sequence_enrollments::table
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
    let Some((org, e)) = claimed else {
        return Ok(false);
    };
    let tenant = access.tenant(OrgId(org));
    let Some(step) = step_at(conn, &e, e.next_step)? else {
        finish(conn, org, &e, "completed")?;
        return Ok(true);
    };
    let lead = leads::find(conn, &tenant, LeadId(e.lead_id))?;
    let (sender, organization) = messages::signature(conn, &tenant, e.enrolled_by)?;
    let Ok(rendered) = messages::render(&step.subject, &step.body, &lead, &sender, &organization)
    else {
        // Saved templates always render; a broken one stops the enrolment.
        finish(conn, org, &e, "stopped")?;
        return Ok(true);
    };
    let origin = Origin {
        template: Some(step.template),
        step: Some((e.id, step.position)),
        sender: e.enrolled_by,
    };
    let queued =
        conn.transaction(|conn| messages::queue(conn, &tenant, &lead, &rendered, &origin, now));
    match queued {
        Ok(_) | Err(DbError::Conflict(_)) => advance(conn, org, &e, now)?,
        Err(DbError::LimitReached(_)) => wait_for_next_day(conn, &tenant, &e, now)?,
        Err(other) => return Err(other),
    }
    Ok(true)
}

fn finish(conn: &mut PgConnection, org: Uuid, e: &Enrollment, status: &str) -> QueryResult<()> {
    diesel::update(sequence_enrollments::table.find((org, e.id)))
        .set((
            sequence_enrollments::status.eq(status),
            sequence_enrollments::next_run_at.eq(None::<DateTime<Utc>>),
            sequence_enrollments::updated_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Moves to the next step (its delay counts from now), or completes.
fn advance(
    conn: &mut PgConnection,
    org: Uuid,
    e: &Enrollment,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let next = e.next_step + 1;
    let Some(delay) = delay_of(conn, e, next)? else {
        diesel::update(sequence_enrollments::table.find((org, e.id)))
            .set(sequence_enrollments::next_step.eq(next))
            .execute(conn)?;
        return finish(conn, org, e, "completed");
    };
    diesel::update(sequence_enrollments::table.find((org, e.id)))
        .set((
            sequence_enrollments::next_step.eq(next),
            sequence_enrollments::next_run_at.eq(Some(now + Duration::days(i64::from(delay)))),
            sequence_enrollments::updated_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The limit is used up today: try again at the start of the organization's
/// next local day.
fn wait_for_next_day(
    conn: &mut PgConnection,
    tenant: &Tenant,
    e: &Enrollment,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let (organization, _) = usage::org_and_subscription(conn, tenant)?;
    let org = tenant.org_id().uuid();
    let tz = organization.tz();
    let tomorrow = day_start(tz, now) + Days::new(1);
    diesel::update(sequence_enrollments::table.find((org, e.id)))
        .set((
            sequence_enrollments::next_run_at.eq(Some(local_date_start_utc(tz, tomorrow))),
            sequence_enrollments::updated_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    Ok(())
}
