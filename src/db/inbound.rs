//! Mail read from a mailbox's inbox, matched to what the organization sent
//! and acted on. A reply or automatic answer is matched by the Message-IDs
//! it names (`messages.rfc_message_id`: In-Reply-To, then References), else
//! by its sender being one of the organization's leads with a "Re:" subject
//! of something sent to that lead in the last 30 days; a delivery report by
//! the Message-ID of the message it returns, else by its recipient. Every
//! look-up is the tenant's own (scoped here and walled by row-level
//! security): a Message-ID of another organization never matches.
//!
//! Each message is stored once (`dedupe_key`: its Message-ID, else its
//! UIDVALIDITY and UID; `ON CONFLICT DO NOTHING`), and only a newly stored
//! one acts: a reply moves the lead to Replied ("reply detected"), stops its
//! stop-on-reply enrolments and sends `message.replied`; a hard bounce is
//! `conversations::record_hard_bounce`; automatic answers and soft bounces
//! are only kept. Anything that matches nothing is not kept.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;

use crate::db::error::DbResult;
use crate::db::schema::{inbound_messages, lead_status_changes, leads, messages};
use crate::db::{conversations, leads as lead_rows, stops, webhooks, Tenant};
use crate::domain::inbound::{self, Classified, Kind};
use crate::domain::leads::LeadStatus;
use crate::ids::{InboundMessageId, LeadId, MailboxId, MessageId, OrgId};
use crate::webhooks::events::{self as hook_events, EventType};

/// How far back a "Re:" subject is matched to what was sent to its sender.
pub const SUBJECT_MATCH_DAYS: i64 = 30;

/// The note on a lead's status change made because a reply was read.
pub const REPLY_DETECTED: &str = "reply detected";

/// Where a message was read: its mailbox and IMAP position.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    pub mailbox: MailboxId,
    pub uid_validity: u32,
    pub uid: u32,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Kept (and acted on), as this row.
    Stored(InboundMessageId),
    /// Kept before (the same message read again).
    Duplicate,
    /// Not about anything this organization sent: not kept.
    Unmatched,
    /// Not a reply, automatic answer or report: not kept.
    Ignored,
}

/// Matches `message` to what the tenant sent, stores it once and acts.
pub fn record(
    conn: &mut PgConnection,
    tenant: &Tenant,
    source: Source,
    message: &Classified,
    now: DateTime<Utc>,
) -> DbResult<Outcome> {
    let matched = match &message.kind {
        Kind::Other => return Ok(Outcome::Ignored),
        Kind::Bounce(b) => match_bounce(
            conn,
            tenant,
            source.mailbox,
            b.original_message_id.as_deref(),
            b.recipient.as_deref(),
        )?,
        Kind::Reply | Kind::AutoReply => match_answer(conn, tenant, message, now)?,
    };
    let Some((message_id, lead_id)) = matched else {
        return Ok(Outcome::Unmatched);
    };
    let Some(id) = store(conn, tenant, source, message, message_id, lead_id, now)? else {
        return Ok(Outcome::Duplicate);
    };
    match &message.kind {
        Kind::Reply => reply_effects(conn, tenant, message_id, lead_id, now)?,
        Kind::Bounce(b) if b.hard => conversations::record_hard_bounce(
            conn,
            tenant,
            message_id,
            &b.status,
            &b.diagnostic,
            now,
        )?,
        _ => {}
    }
    Ok(Outcome::Stored(id))
}

/// The key a message is stored under once.
pub fn dedupe_key(source: Source, message: &Classified) -> String {
    match &message.message_id {
        Some(id) => id.chars().take(990).collect(),
        None => format!("uid:{}:{}", source.uid_validity, source.uid),
    }
}

fn store(
    conn: &mut PgConnection,
    tenant: &Tenant,
    source: Source,
    message: &Classified,
    message_id: MessageId,
    lead_id: LeadId,
    now: DateTime<Utc>,
) -> DbResult<Option<InboundMessageId>> {
    let (kind, status, recipient) = match &message.kind {
        Kind::Bounce(b) if b.hard => ("bounce", Some(b.status.clone()), b.recipient.clone()),
        Kind::Bounce(b) => ("soft_bounce", Some(b.status.clone()), b.recipient.clone()),
        Kind::AutoReply => ("auto_reply", None, None),
        _ => ("reply", None, None),
    };
    let id = InboundMessageId::new();
    let inserted = diesel::insert_into(inbound_messages::table)
        .values((
            scoped_inbound_owner(tenant),
            inbound_messages::id.eq(id),
            inbound_messages::mailbox_id.eq(source.mailbox),
            inbound_messages::kind.eq(kind),
            inbound_messages::lead_id.eq(Some(lead_id)),
            inbound_messages::message_id.eq(Some(message_id)),
            inbound_messages::dedupe_key.eq(dedupe_key(source, message)),
            inbound_messages::from_email.eq(cut(message.from.as_deref().unwrap_or(""), 320)),
            inbound_messages::subject.eq(cut(&message.subject, 1000)),
            inbound_messages::body_text.eq(&message.text),
            inbound_messages::bounce_status.eq(status.map(|s| cut(&s, 20))),
            inbound_messages::bounce_recipient.eq(recipient.map(|r| cut(&r, 320))),
            inbound_messages::received_at.eq(message.date.unwrap_or(now)),
            inbound_messages::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok((inserted > 0).then_some(id))
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A reply: the lead is Replied (unless further along: qualified or lost),
/// its stop-on-reply enrolments stop, and `message.replied` goes out.
fn reply_effects(
    conn: &mut PgConnection,
    tenant: &Tenant,
    message: MessageId,
    lead: LeadId,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let current = lead_rows::find(conn, tenant, lead)?;
    if matches!(
        current.fields.status,
        LeadStatus::New | LeadStatus::Contacted
    ) {
        let mut fields = current.fields.clone();
        fields.status = LeadStatus::Replied;
        if lead_rows::update(conn, tenant, lead, &fields, now)?.is_ok() {
            note_status_change(conn, tenant, lead, now)?;
        }
    }
    stops::after_status_change_of(conn, tenant, &[lead], LeadStatus::Replied, now)?;
    webhooks::emit(conn, tenant, EventType::MessageReplied, now, |c| {
        let sent = crate::db::messages::find(c, tenant, message)?.message;
        Ok(vec![hook_events::message_with_outcome(
            &sent,
            &conversations::outcome(c, tenant, message)?,
        )])
    })?;
    Ok(())
}

/// Says on the status change just written (by the leads trigger) that the
/// app made it because a reply was read.
fn note_status_change(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: LeadId,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        scoped_status_changes(tenant)
            .filter(lead_status_changes::lead_id.eq(lead))
            .filter(lead_status_changes::to_status.eq(LeadStatus::Replied.as_str()))
            .filter(lead_status_changes::changed_at.eq(now))
            .filter(lead_status_changes::note.is_null()),
    )
    .set(lead_status_changes::note.eq(Some(REPLY_DETECTED)))
    .execute(conn)
}

/// The sent message a reply or automatic answer is about, with its lead.
fn match_answer(
    conn: &mut PgConnection,
    tenant: &Tenant,
    message: &Classified,
    now: DateTime<Utc>,
) -> QueryResult<Option<(MessageId, LeadId)>> {
    if let Some(found) = by_message_ids(conn, tenant, &message.answers)? {
        return Ok(Some(found));
    }
    let (Some(from), Some(base)) = (
        message.from.as_deref(),
        inbound::reply_subject_base(&message.subject),
    ) else {
        return Ok(None);
    };
    scoped_messages(tenant)
        .inner_join(
            leads::table.on(leads::organization_id
                .eq(messages::organization_id)
                .and(leads::id.eq(messages::lead_id))),
        )
        .filter(leads::email.eq(from))
        .filter(messages::subject.eq(base))
        .filter(messages::status.eq_any(["sent", "bounced"]))
        .filter(messages::sent_at.ge(now - Duration::days(SUBJECT_MATCH_DAYS)))
        .order(messages::sent_at.desc())
        .select((messages::id, messages::lead_id))
        .first(conn)
        .optional()
}

/// The first of `ids` (in their order) that is one of the tenant's
/// messages. The ids come without angle brackets; a sent message keeps its
/// Message-ID as it went out, in them (`<uuid@domain>`), so both forms are
/// looked up.
fn by_message_ids(
    conn: &mut PgConnection,
    tenant: &Tenant,
    ids: &[String],
) -> QueryResult<Option<(MessageId, LeadId)>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let wanted: Vec<String> = ids
        .iter()
        .flat_map(|id| [id.clone(), format!("<{id}>")])
        .collect();
    let found: Vec<(String, MessageId, LeadId)> = scoped_messages(tenant)
        .filter(messages::rfc_message_id.eq_any(&wanted))
        .select((
            messages::rfc_message_id.assume_not_null(),
            messages::id,
            messages::lead_id,
        ))
        .load(conn)?;
    Ok(ids.iter().find_map(|id| {
        found
            .iter()
            .find(|(rfc, _, _)| rfc.trim_start_matches('<').trim_end_matches('>') == id)
            .map(|(_, m, l)| (*m, *l))
    }))
}

/// The sent message a delivery report returns: by its Message-ID, else
/// the latest sent from this mailbox to the failed recipient.
fn match_bounce(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    original: Option<&str>,
    recipient: Option<&str>,
) -> QueryResult<Option<(MessageId, LeadId)>> {
    if let Some(id) = original {
        if let Some(found) = by_message_ids(conn, tenant, &[id.to_string()])? {
            return Ok(Some(found));
        }
    }
    let Some(recipient) = recipient else {
        return Ok(None);
    };
    scoped_messages(tenant)
        .filter(messages::mailbox_id.eq(mailbox))
        .filter(messages::to_email.eq(recipient.to_lowercase()))
        .filter(messages::status.eq_any(["sent", "bounced"]))
        .order(messages::sent_at.desc())
        .select((messages::id, messages::lead_id))
        .first(conn)
        .optional()
}

/// How many replies (not automatic answers) came into `mailbox` since
/// `since`.
pub fn replies_since(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    scoped_inbound(tenant)
        .filter(inbound_messages::mailbox_id.eq(mailbox))
        .filter(inbound_messages::kind.eq("reply"))
        .filter(inbound_messages::received_at.ge(since))
        .count()
        .get_result(conn)
}

/// Every `inbound_messages` query of this module starts here.
fn scoped_inbound(
    tenant: &Tenant,
) -> Filter<inbound_messages::table, Eq<inbound_messages::organization_id, OrgId>> {
    inbound_messages::table.filter(inbound_messages::organization_id.eq(tenant.org_id()))
}

/// Every `messages` query of this module starts here.
fn scoped_messages(
    tenant: &Tenant,
) -> Filter<messages::table, Eq<messages::organization_id, OrgId>> {
    messages::table.filter(messages::organization_id.eq(tenant.org_id()))
}

/// Every `lead_status_changes` query of this module starts here.
fn scoped_status_changes(
    tenant: &Tenant,
) -> Filter<lead_status_changes::table, Eq<lead_status_changes::organization_id, OrgId>> {
    lead_status_changes::table.filter(lead_status_changes::organization_id.eq(tenant.org_id()))
}

/// The organization every `inbound_messages` row written here belongs to.
fn scoped_inbound_owner(tenant: &Tenant) -> Eq<inbound_messages::organization_id, OrgId> {
    inbound_messages::organization_id.eq(tenant.org_id())
}
