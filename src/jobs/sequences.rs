//! The sequence worker: sends each due step of active enrolments. An
//! enrolment is claimed with `FOR UPDATE SKIP LOCKED` and advanced in the
//! same transaction as its message, usage and outbox rows, so a step is sent
//! once (also guarded by UNIQUE (organization_id, enrollment_id, step_position)).
//! A step over the messages/day limit waits for the organization's next day.
//! An enroller who left or may no longer send pauses the enrolment, with the
//! reason shown on the lead page; a lead whose address is suppressed, or that
//! replied or was lost in a sequence that stops on reply, stops it. The
//! first step's mailbox is picked by the sequence's sending mode
//! (`db::senders`) and kept on the enrolment for the later steps.

use chrono::{DateTime, Days, Utc};
use diesel::prelude::*;

use crate::config::Config;
use crate::db::enrollments::{self, Enrollment};
use crate::db::leads;
use crate::db::messages::{self, Origin};
use crate::db::usage;
use crate::db::{senders, stops, suppression};
use crate::db::{DbError, DbResult};
use crate::db::{SystemAccess, Tenant};
use crate::domain::subscription::{day_start, local_date_start_utc};
use crate::ids::MailboxId;

/// Enrolments handled per pass at most (the next pass continues).
const BATCH: usize = 100;

/// The job: one pass at the runner's `now`.
pub fn run(
    conn: &mut PgConnection,
    access: &SystemAccess,
    _config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    run_due(conn, access, now)
}

/// Handles every enrolment due at `now` (up to a batch); returns how many.
pub fn run_due(
    conn: &mut PgConnection,
    access: &SystemAccess,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let mut handled = 0;
    while handled < BATCH && !crate::jobs::stopping() {
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

/// Claims one due enrolment and sends its step; false when none is due.
fn advance_one(
    conn: &mut PgConnection,
    access: &SystemAccess,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    let Some((tenant, e)) = enrollments::claim_due(conn, access, now)? else {
        return Ok(false);
    };
    // Steps are sent in the enroller's name: only while they may still send.
    if let Some(reason) = enrollments::enroller_gone(conn, &tenant, &e)? {
        enrollments::pause_with_reason(conn, &tenant, &e, reason, now)?;
        return Ok(true);
    }
    let Some(step) = enrollments::step_at(conn, &e, e.next_step)? else {
        enrollments::finish(conn, &tenant, &e, "completed", now)?;
        return Ok(true);
    };
    let lead = leads::find(conn, &tenant, e.lead_id)?;
    // Never mail a suppressed address; the enrolment ends, saying why.
    if suppression::check(conn, &tenant, &lead.fields.email)?.is_some() {
        stops::stop_one(conn, &tenant, e.id, stops::SUPPRESSED, now)?;
        return Ok(true);
    }
    if let Some(reason) = stops::status_stop(conn, &lead, &e)? {
        stops::stop_one(conn, &tenant, e.id, reason, now)?;
        return Ok(true);
    }
    let (sender, organization) = messages::signature(conn, &tenant, e.enrolled_by)?;
    let Ok(rendered) = messages::render(&step.subject, &step.body, &lead, &sender, &organization)
    else {
        // Saved templates always render; a broken one stops the enrolment.
        enrollments::finish(conn, &tenant, &e, "stopped", now)?;
        return Ok(true);
    };
    let first_step = e.next_step <= 1;
    let mailbox = step_mailbox(conn, &tenant, &e, &lead, first_step)?;
    let origin = Origin {
        template: Some(step.template),
        step: Some((e.id, step.position)),
        sender: e.enrolled_by,
        mailbox,
    };
    let queued =
        conn.transaction(|conn| messages::queue(conn, &tenant, &lead, &rendered, &origin, now));
    if first_step && queued.is_ok() {
        enrollments::set_mailbox(conn, &tenant, &e, mailbox)?;
    }
    match queued {
        Ok(_) | Err(DbError::Conflict(_)) => enrollments::advance(conn, &tenant, &e, now)?,
        Err(DbError::LimitReached(_)) => wait_for_next_day(conn, &tenant, &e, now)?,
        Err(other) => return Err(other),
    }
    Ok(true)
}

/// The mailbox a step goes out from: for the first, picked by the
/// sequence's sending mode; later ones keep the enrolment's.
fn step_mailbox(
    conn: &mut PgConnection,
    tenant: &Tenant,
    e: &Enrollment,
    lead: &leads::Lead,
    first_step: bool,
) -> DbResult<Option<MailboxId>> {
    if !first_step {
        return Ok(e.mailbox_id);
    }
    Ok(senders::first_step_mailbox(
        conn,
        tenant,
        e,
        lead.owner_user_id,
    )?)
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
    let tz = organization.tz();
    let tomorrow = day_start(tz, now) + Days::new(1);
    enrollments::reschedule(conn, tenant, e, local_date_start_utc(tz, tomorrow), now)?;
    Ok(())
}
