//! What a conversation's outcome does, whether it is learnt while sending
//! (the server refuses the address) or from the inbox (a delivery report):
//! a hard bounce marks the message, suppresses the address, stops the
//! lead's enrolments, tells webhooks and re-evaluates the mailbox's bounce
//! rate; a mailbox that cannot log in needs attention, said once to the
//! people who can fix it. Everything runs inside the caller's transaction;
//! no provider is called from here.

use chrono::{DateTime, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;

use crate::db::error::DbResult;
use crate::db::mailboxes::{self, Mailbox};
use crate::db::outbox::{self, MailKind, OutgoingMail};
use crate::db::schema::{inbound_messages, mailbox_states, messages, organization_members, users};
use crate::db::suppression::{self, Reason};
use crate::db::{leads, notices, webhooks, Tenant};
use crate::domain::roles::Role;
use crate::ids::{MailboxId, MessageId, OrgId, UserId};
use crate::webhooks::events::{self as hook_events, EventType};

/// How many of a mailbox's latest sends its bounce rate is measured on.
pub const BOUNCE_WINDOW: i64 = 100;
/// More hard bounces than this among the last `BOUNCE_WINDOW` sends (5 %)
/// pause the mailbox.
pub const MAX_BOUNCES_IN_WINDOW: i64 = 5;

/// Mailbox statuses (`mailbox_states.status`).
pub const ACTIVE: &str = "active";
pub const NEEDS_ATTENTION: &str = "needs_attention";
pub const PAUSED: &str = "paused";

/// `message` bounced for good (`status` is the enhanced status code, e.g.
/// `5.1.1`; `detail` the server's words). Its address is suppressed, the
/// lead's enrolments stop, `message.bounced` goes out and its mailbox is
/// paused when its bounce rate passes 5 %. A message already bounced
/// changes nothing (a report read twice).
pub fn record_hard_bounce(
    conn: &mut PgConnection,
    tenant: &Tenant,
    message: MessageId,
    status: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let error = bounce_error(status, detail);
    let changed = diesel::update(
        scoped_messages(tenant)
            .filter(messages::id.eq(message))
            .filter(messages::status.ne("bounced")),
    )
    .set((
        messages::status.eq("bounced"),
        messages::bounced_at.eq(Some(now)),
        messages::error.eq(Some(error)),
    ))
    .returning((messages::lead_id, messages::mailbox_id))
    .get_result::<(crate::ids::LeadId, Option<MailboxId>)>(conn)
    .optional()?;
    let Some((lead_id, mailbox)) = changed else {
        return Ok(());
    };
    if let Ok(lead) = leads::find(conn, tenant, lead_id) {
        suppression::suppress_lead(conn, tenant, &lead, Reason::Bounced, now)?;
    }
    webhooks::emit(conn, tenant, EventType::MessageBounced, now, |c| {
        let sent = crate::db::messages::find(c, tenant, message)?.message;
        Ok(vec![hook_events::message_with_outcome(
            &sent,
            &outcome(c, tenant, message)?,
        )])
    })?;
    if let Some(mailbox) = mailbox {
        pause_if_bouncing(conn, tenant, mailbox, now)?;
    }
    Ok(())
}

/// The message's `error` after a bounce, short enough for a list
/// (`bounce_status_of` reads the status back).
fn bounce_error(status: &str, detail: &str) -> String {
    let detail: String = detail.trim().chars().take(500).collect();
    if detail.is_empty() {
        format!("Bounced ({status}).")
    } else {
        format!("Bounced ({status}): {detail}")
    }
}

/// The status code `bounce_error` wrote into a bounced message's error.
fn bounce_status_of(error: &str) -> Option<String> {
    let rest = error.strip_prefix("Bounced (")?;
    let (status, _) = rest.split_once(')')?;
    (!status.is_empty()).then(|| status.to_string())
}

/// The latest reply to a message, as the API and webhooks show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplySummary {
    pub received_at: DateTime<Utc>,
    pub from: String,
    pub subject: String,
    /// Plain text (HTML was reduced to text when it was read).
    pub text: String,
}

/// A message's hard bounce: when, the status code and the server's words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BounceSummary {
    pub bounced_at: DateTime<Utc>,
    /// The enhanced status code (`5.1.1`), when known.
    pub status: Option<String>,
    /// What the receiving side said.
    pub diagnostic: Option<String>,
}

/// What came back for one message: its latest reply and its bounce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageOutcome {
    pub reply: Option<ReplySummary>,
    pub bounce: Option<BounceSummary>,
}

/// A bounced message as stored: its id, when it bounced and its error.
type BouncedRow = (MessageId, Option<DateTime<Utc>>, Option<String>);
/// An inbound row: message, kind, time, sender, subject, text, bounce status.
type InboundRow = (
    Option<MessageId>,
    String,
    DateTime<Utc>,
    String,
    String,
    String,
    Option<String>,
);

/// The outcome of each of `ids` (the tenant's messages; others match
/// nothing): the latest reply kept for it and, when it bounced, the bounce
/// with the report's status code where a report was read.
pub fn outcomes(
    conn: &mut PgConnection,
    tenant: &Tenant,
    ids: &[MessageId],
) -> QueryResult<std::collections::HashMap<MessageId, MessageOutcome>> {
    let mut out = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let bounced: Vec<BouncedRow> = scoped_messages(tenant)
        .filter(messages::id.eq_any(ids))
        .filter(messages::status.eq("bounced"))
        .select((messages::id, messages::bounced_at, messages::error))
        .load(conn)?;
    let inbound: Vec<InboundRow> = scoped_inbound(tenant)
        .filter(inbound_messages::message_id.eq_any(ids))
        .filter(inbound_messages::kind.eq_any(["reply", "bounce"]))
        .order(inbound_messages::received_at.desc())
        .select((
            inbound_messages::message_id,
            inbound_messages::kind,
            inbound_messages::received_at,
            inbound_messages::from_email,
            inbound_messages::subject,
            inbound_messages::body_text,
            inbound_messages::bounce_status,
        ))
        .load(conn)?;
    for (id, at, error) in bounced {
        let report_status = inbound.iter().find_map(|r| {
            (r.0 == Some(id) && r.1 == "bounce")
                .then(|| r.6.clone())
                .flatten()
        });
        let status = report_status.or_else(|| error.as_deref().and_then(bounce_status_of));
        let entry: &mut MessageOutcome = out.entry(id).or_default();
        entry.bounce = at.map(|bounced_at| BounceSummary {
            bounced_at,
            status,
            diagnostic: error,
        });
    }
    // Newest first: the first reply met for a message is its latest.
    for (id, kind, received_at, from, subject, text, _) in inbound {
        let Some(id) = id.filter(|_| kind == "reply") else {
            continue;
        };
        let entry = out.entry(id).or_default();
        if entry.reply.is_none() {
            entry.reply = Some(ReplySummary {
                received_at,
                from,
                subject,
                text,
            });
        }
    }
    Ok(out)
}

/// The outcome of one message (see `outcomes`).
pub fn outcome(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MessageId,
) -> QueryResult<MessageOutcome> {
    Ok(outcomes(conn, tenant, &[id])?
        .remove(&id)
        .unwrap_or_default())
}

/// A mailbox's bounce rate: hard bounces among its last `BOUNCE_WINDOW`
/// sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BounceRate {
    pub bounced: i64,
    /// Sends counted (at most `BOUNCE_WINDOW`).
    pub sends: i64,
}

impl BounceRate {
    /// The rate in percent; `None` before the first send.
    pub fn percent(&self) -> Option<f64> {
        (self.sends > 0).then(|| self.bounced as f64 * 100.0 / self.sends as f64)
    }
}

/// The bounce rate of `mailbox` over its last `BOUNCE_WINDOW` sends (what
/// pauses it, and what its settings page shows).
pub fn bounce_rate(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
) -> QueryResult<BounceRate> {
    let recent: Vec<String> = scoped_messages(tenant)
        .filter(messages::mailbox_id.eq(mailbox))
        .filter(messages::status.eq_any(["sent", "bounced"]))
        .order((
            messages::sent_at.desc().nulls_last(),
            messages::created_at.desc(),
        ))
        .limit(BOUNCE_WINDOW)
        .select(messages::status)
        .load(conn)?;
    Ok(BounceRate {
        bounced: recent.iter().filter(|s| *s == "bounced").count() as i64,
        sends: recent.len() as i64,
    })
}

/// Pauses `mailbox` when more than 5 % of its last 100 sends bounced.
fn pause_if_bouncing(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let rate = bounce_rate(conn, tenant, mailbox)?;
    if rate.bounced <= MAX_BOUNCES_IN_WINDOW {
        return Ok(());
    }
    let reason = format!(
        "Paused: {} of the last {} messages sent from this mailbox bounced (more than 5 %).",
        rate.bounced, rate.sends
    );
    let paused = diesel::update(
        scoped_states(tenant)
            .filter(mailbox_states::mailbox_id.eq(mailbox))
            .filter(mailbox_states::status.ne(PAUSED)),
    )
    .set((
        mailbox_states::status.eq(PAUSED),
        mailbox_states::status_reason.eq(Some(reason.as_str())),
    ))
    .execute(conn)?;
    if paused > 0 {
        tell_people(conn, tenant, mailbox, &reason, "paused", now)?;
    }
    Ok(())
}

/// A login (or the opening of its password) failed: the mailbox needs
/// attention, with `error` as its reason. The people who can fix it are told
/// once, when it changes to this state; later failures only update the
/// error. A mailbox paused for its bounce rate stays paused.
pub fn mark_needs_attention(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    error: &str,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let state = mailboxes::state(conn, tenant, mailbox)?;
    let target = || scoped_states(tenant).filter(mailbox_states::mailbox_id.eq(mailbox));
    diesel::update(target())
        .set((
            mailbox_states::last_error.eq(Some(error)),
            mailbox_states::last_error_at.eq(Some(now)),
        ))
        .execute(conn)?;
    if state.status != ACTIVE {
        return Ok(());
    }
    let reason = format!("Needs attention: {error}");
    diesel::update(target())
        .set((
            mailbox_states::status.eq(NEEDS_ATTENTION),
            mailbox_states::status_reason.eq(Some(reason.as_str())),
        ))
        .execute(conn)?;
    tell_people(conn, tenant, mailbox, &reason, "needs_attention", now)
}

/// A login worked again: a mailbox that needed attention is active. One
/// paused for its bounce rate stays paused (a person resumes it).
pub fn mark_healthy(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    _now: DateTime<Utc>,
) -> DbResult<()> {
    diesel::update(
        scoped_states(tenant)
            .filter(mailbox_states::mailbox_id.eq(mailbox))
            .filter(mailbox_states::status.eq(NEEDS_ATTENTION)),
    )
    .set((
        mailbox_states::status.eq(ACTIVE),
        mailbox_states::status_reason.eq(None::<String>),
        mailbox_states::last_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(())
}

/// A person resumed a mailbox that was paused or needed attention (for the
/// latter, after its logins were checked): it is active again, its reason
/// and last error cleared. Returns whether it changed.
pub fn resume(conn: &mut PgConnection, tenant: &Tenant, mailbox: MailboxId) -> QueryResult<bool> {
    let changed = diesel::update(
        scoped_states(tenant)
            .filter(mailbox_states::mailbox_id.eq(mailbox))
            .filter(mailbox_states::status.ne(ACTIVE)),
    )
    .set((
        mailbox_states::status.eq(ACTIVE),
        mailbox_states::status_reason.eq(None::<String>),
        mailbox_states::last_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// The notice, mail and `mailbox.paused` webhook of a mailbox that stopped
/// working: to its owner and the organization's owners.
fn tell_people(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    reason: &str,
    why: &str,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let mb = mailboxes::find(conn, tenant, mailbox)?;
    let message = format!("Mailbox {}: {reason}", mb.email);
    // One notice per transition: the key carries the moment it happened.
    let dedupe = format!("mailbox:{mailbox}:{why}:{}", now.timestamp_micros());
    let people = people_to_tell(conn, tenant, &mb)?;
    for (user, _) in &people {
        notices::notify_user(conn, tenant, *user, "mailbox", &message, &dedupe, now)?;
    }
    let subject = format!("Your mailbox {} has stopped working", mb.email);
    let body = format!(
        "{message}\n\nOutreach from this mailbox waits until it works again. Open the \
         mailbox's settings in Lead Dashboard to fix it.\n"
    );
    for (_, email) in &people {
        let mail = OutgoingMail {
            kind: MailKind::Account,
            org: Some(tenant.org_id()),
            message: None,
            to: email,
            subject: &subject,
            body: &body,
            html: None,
        };
        outbox::enqueue(conn, &mail, now)?;
    }
    webhooks::emit(conn, tenant, EventType::MailboxPaused, now, |_| {
        Ok(vec![hook_events::mailbox_paused(
            mailbox, &mb.email, why, reason,
        )])
    })?;
    Ok(())
}

/// The mailbox's owner (if still a member) and the organization's owners,
/// each once, with their addresses.
fn people_to_tell(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mb: &Mailbox,
) -> DbResult<Vec<(UserId, String)>> {
    let owner = mb.owner_user_id;
    let mut people: Vec<(UserId, String)> = scoped_members(tenant)
        .inner_join(users::table)
        .filter(
            organization_members::role
                .eq(Role::Owner.as_str())
                .or(organization_members::user_id.nullable().eq(owner)),
        )
        .order(users::email.asc())
        .select((users::id, users::email))
        .load(conn)?;
    people.dedup_by_key(|(id, _)| *id);
    Ok(people)
}

/// Every `messages` query of this module starts here.
fn scoped_messages(
    tenant: &Tenant,
) -> Filter<messages::table, Eq<messages::organization_id, OrgId>> {
    messages::table.filter(messages::organization_id.eq(tenant.org_id()))
}

/// Every `inbound_messages` query of this module starts here.
fn scoped_inbound(
    tenant: &Tenant,
) -> Filter<inbound_messages::table, Eq<inbound_messages::organization_id, OrgId>> {
    inbound_messages::table.filter(inbound_messages::organization_id.eq(tenant.org_id()))
}

/// Every `mailbox_states` query of this module starts here.
fn scoped_states(
    tenant: &Tenant,
) -> Filter<mailbox_states::table, Eq<mailbox_states::organization_id, OrgId>> {
    mailbox_states::table.filter(mailbox_states::organization_id.eq(tenant.org_id()))
}

/// Every `organization_members` query of this module starts here.
fn scoped_members(
    tenant: &Tenant,
) -> Filter<organization_members::table, Eq<organization_members::organization_id, OrgId>> {
    organization_members::table.filter(organization_members::organization_id.eq(tenant.org_id()))
}
