//! "Next send at" of enrolments: when a step's mail that is already queued
//! is expected to go out. Mail of a mailbox waits for the mailbox's next
//! free pacing slot (gap, daily cap, sending days and window), computed
//! here as the delivery job computes it (`domain::pacing::next_slot`). It is
//! an estimate: mail queued earlier for the same mailbox takes the free
//! slots first, and every gap gets a random extra.

use chrono::{DateTime, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;

use crate::db::mailboxes;
use crate::db::schema::{mail_outbox, messages};
use crate::db::Tenant;
use crate::domain::pacing;
use crate::ids::{EnrollmentId, MailboxId, MessageId, OrgId};

/// A queued step of an enrolment and when it may go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedSend {
    pub enrollment: EnrollmentId,
    pub step: i32,
    pub wait: Wait,
}

/// What a queued mail waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// Nothing: it goes out with the next delivery run.
    Nothing,
    /// Its mailbox's next free slot (or a retry): an estimate of the moment.
    Until(DateTime<Utc>),
    /// Its mailbox, which sends nothing until a person fixes or resumes it
    /// (its status: `needs_attention` or `paused`).
    Mailbox(String),
}

/// A queued message mail: enrolment, step, message, mailbox, next try.
type Row = (
    Option<EnrollmentId>,
    Option<i32>,
    MessageId,
    Option<MailboxId>,
    DateTime<Utc>,
);

/// The queued, not yet sent steps of the tenant's enrolments `ids`, with
/// what each waits for at `now`.
pub fn queued_sends(
    conn: &mut PgConnection,
    tenant: &Tenant,
    ids: &[EnrollmentId],
    now: DateTime<Utc>,
) -> QueryResult<Vec<QueuedSend>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = scoped_messages(tenant)
        .inner_join(
            mail_outbox::table.on(mail_outbox::message_id.eq(messages::id.nullable()).and(
                messages::organization_id
                    .nullable()
                    .eq(mail_outbox::organization_id),
            )),
        )
        .filter(messages::enrollment_id.eq_any(ids.to_vec()))
        .filter(messages::status.eq("queued"))
        .filter(mail_outbox::status.eq("pending"))
        .order(messages::step_position.asc())
        .select((
            messages::enrollment_id,
            messages::step_position,
            messages::id,
            mail_outbox::mailbox_id,
            mail_outbox::next_attempt_at,
        ))
        .load(conn)?;
    let mut sends = Vec::new();
    for (enrollment, step, message, mailbox, next_try) in rows {
        if let (Some(enrollment), Some(step)) = (enrollment, step) {
            let wait = wait_of(conn, tenant, message, mailbox, next_try, now)?;
            sends.push(QueuedSend {
                enrollment,
                step,
                wait,
            });
        }
    }
    Ok(sends)
}

/// What one queued mail waits for: its next try, and for a mailbox's mail
/// the mailbox's next free pacing slot from then on.
fn wait_of(
    conn: &mut PgConnection,
    tenant: &Tenant,
    message: MessageId,
    mailbox: Option<MailboxId>,
    next_try: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Wait> {
    let earliest = next_try.max(now);
    let booking = match mailbox {
        Some(id) => mailboxes::booking(conn, tenant, id)?.map(|b| (id, b)),
        None => None,
    };
    let at = match booking {
        Some((_, (status, _))) if status != "active" => return Ok(Wait::Mailbox(status)),
        Some((id, (_, booked))) => {
            let rules = mailboxes::find(conn, tenant, id)?.pacing();
            let zone = mailboxes::pacing_zone(conn, tenant, Some(message))?;
            pacing::next_slot(&rules, zone, &booked, earliest)
        }
        None => earliest,
    };
    Ok(if at > now {
        Wait::Until(at)
    } else {
        Wait::Nothing
    })
}

/// Every `messages` query of this module starts here.
fn scoped_messages(
    tenant: &Tenant,
) -> Filter<messages::table, Eq<messages::organization_id, OrgId>> {
    messages::table.filter(messages::organization_id.eq(tenant.org_id()))
}
