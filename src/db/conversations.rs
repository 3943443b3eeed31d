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
use crate::db::schema::{mailbox_states, messages, organization_members, users};
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
        Ok(vec![hook_events::message(
            &crate::db::messages::find(c, tenant, message)?.message,
        )])
    })?;
    if let Some(mailbox) = mailbox {
        pause_if_bouncing(conn, tenant, mailbox, now)?;
    }
    Ok(())
}

/// The message's `error` after a bounce, short enough for a list.
fn bounce_error(status: &str, detail: &str) -> String {
    let detail: String = detail.trim().chars().take(500).collect();
    if detail.is_empty() {
        format!("Bounced ({status}).")
    } else {
        format!("Bounced ({status}): {detail}")
    }
}

/// Pauses `mailbox` when more than 5 % of its last 100 sends bounced.
fn pause_if_bouncing(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    now: DateTime<Utc>,
) -> DbResult<()> {
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
    let bounced = recent.iter().filter(|s| *s == "bounced").count() as i64;
    if bounced <= MAX_BOUNCES_IN_WINDOW {
        return Ok(());
    }
    let reason = format!(
        "Paused: {bounced} of the last {} messages sent from this mailbox bounced (more than 5 %).",
        recent.len()
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
