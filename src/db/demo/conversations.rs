//! The demo's conversations, with no mail server: a mailbox that has no
//! server (paused, with the reason saying so, never read and never sent
//! from) that the demo's sent messages went out from, a few leads' replies
//! (those leads reached Replied, "reply detected"), one automatic reply and
//! one hard bounce (the message bounced, the address suppressed), kept in
//! `inbound_messages` as the inbox job would have kept them. So the lead
//! timelines, the mailbox's health and the analytics look alive.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::Eq;
use diesel::prelude::*;

use crate::db::mailboxes::NO_SERVER_HOST;
use crate::db::schema::{
    inbound_messages, lead_status_changes, mailbox_states, mailboxes, messages,
};
use crate::db::suppression::{self, Reason};
use crate::db::{inbound, Tenant};
use crate::ids::{InboundMessageId, LeadId, MailboxId, MessageId, OrgId};

/// The demo mailbox's address and the domain of its Message-IDs.
pub const DEMO_MAILBOX: &str = "outreach@behar-demo.example";
const DOMAIN: &str = "behar-demo.example";
/// Why the demo mailbox is paused (shown on the mailboxes page).
pub const NO_SERVER_REASON: &str =
    "Demo mailbox: no server. It shows how replies and bounces look; it never sends or reads mail.";
/// How many leads of the demo replied in words.
const REPLIES: usize = 3;
/// The newest leads are enrolled in the sequence; conversations are had by
/// older ones, so no enrolment is stopped by them.
const SKIP_NEWEST: usize = 8;

/// What the leads who replied wrote (the first name is put in front).
const REPLY_TEXTS: &[&str] = &[
    "thanks for reaching out. This is timely: we are reviewing our outreach tools this quarter. Could you send over pricing for a team of five?",
    "happy to have a look. Do you have 20 minutes on Thursday afternoon? I would like to bring our operations lead.",
    "interesting, but we signed with another vendor last month. Feel free to check back in the spring.",
];

/// Adds the demo mailbox and the conversations of `leads` (the demo's,
/// newest first, with their creation times) that have happened by `now`.
pub fn fill(
    conn: &mut PgConnection,
    tenant: &Tenant,
    leads: &[(LeadId, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let mailbox = insert_mailbox(conn, tenant, now)?;
    sent_from(conn, tenant, mailbox)?;
    let older: Vec<(usize, LeadId, DateTime<Utc>)> = leads
        .iter()
        .enumerate()
        .skip(SKIP_NEWEST)
        .map(|(i, (id, at))| (i, *id, *at))
        .collect();
    let mut replied = 0;
    for &(i, lead, created) in &older {
        // Leads headed for Replied or Qualified reach Replied 30 hours in.
        let reply_at = created + Duration::hours(30);
        if replied < REPLIES && matches!(i % 5, 2 | 3) && reply_at <= now {
            if let Some(intro) = intro_of(conn, tenant, lead)? {
                reply(
                    conn,
                    tenant,
                    mailbox,
                    &intro,
                    REPLY_TEXTS[replied],
                    reply_at,
                )?;
                replied += 1;
            }
        }
    }
    // One contacted lead is away, one lost lead's address does not exist.
    if let Some(intro) = first_intro(conn, tenant, &older, 1)? {
        auto_reply(conn, tenant, mailbox, &intro)?;
    }
    if let Some(intro) = first_intro(conn, tenant, &older, 4)? {
        bounce(conn, tenant, mailbox, &intro)?;
    }
    Ok(())
}

/// The intro of the first of `leads` on status path `path` (`i % 5`) that
/// was sent one.
fn first_intro(
    conn: &mut PgConnection,
    tenant: &Tenant,
    leads: &[(usize, LeadId, DateTime<Utc>)],
    path: usize,
) -> QueryResult<Option<Intro>> {
    for &(_, lead, _) in leads.iter().filter(|(i, _, _)| i % 5 == path) {
        if let Some(intro) = intro_of(conn, tenant, lead)? {
            return Ok(Some(intro));
        }
    }
    Ok(None)
}

/// The mailbox without a server: owned by nobody (so nobody's outreach
/// defaults to it), paused with the reason, its inbox never due.
fn insert_mailbox(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> QueryResult<MailboxId> {
    let id = MailboxId::new();
    let created = now - Duration::days(30);
    diesel::insert_into(mailboxes::table)
        .values((
            scoped_mailbox(tenant),
            mailboxes::id.eq(id),
            mailboxes::display_name.eq("Behar (demo)"),
            mailboxes::email.eq(DEMO_MAILBOX),
            mailboxes::smtp_host.eq(NO_SERVER_HOST),
            mailboxes::smtp_port.eq(465),
            mailboxes::smtp_security.eq("tls"),
            mailboxes::smtp_username.eq("demo"),
            // Nothing sealed: there is no password, and nothing ever opens it.
            mailboxes::smtp_password.eq(Vec::<u8>::new()),
            mailboxes::imap_host.eq(NO_SERVER_HOST),
            mailboxes::imap_port.eq(993),
            mailboxes::imap_security.eq("tls"),
            mailboxes::imap_username.eq("demo"),
            mailboxes::imap_password.eq(Vec::<u8>::new()),
            mailboxes::created_at.eq(created),
            mailboxes::updated_at.eq(created),
        ))
        .execute(conn)?;
    diesel::insert_into(mailbox_states::table)
        .values((
            scoped_state(tenant),
            mailbox_states::mailbox_id.eq(id),
            mailbox_states::status.eq("paused"),
            mailbox_states::status_reason.eq(Some(NO_SERVER_REASON)),
            mailbox_states::next_poll_at.eq(never()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A moment no poll ever reaches.
fn never() -> DateTime<Utc> {
    DateTime::<Utc>::MAX_UTC - Duration::days(1)
}

/// Every message the demo sent went out from the demo mailbox, each with
/// its Message-ID (what replies name).
fn sent_from(conn: &mut PgConnection, tenant: &Tenant, mailbox: MailboxId) -> QueryResult<()> {
    let sent: Vec<MessageId> = messages::table
        .filter(scoped_messages(tenant))
        .filter(messages::status.eq("sent"))
        .select(messages::id)
        .load(conn)?;
    for id in sent {
        diesel::update(
            messages::table
                .filter(scoped_messages(tenant))
                .filter(messages::id.eq(id)),
        )
        .set((
            messages::mailbox_id.eq(Some(mailbox)),
            messages::rfc_message_id.eq(Some(format!("{id}@{DOMAIN}"))),
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// The first message sent to a lead: what its conversation answers.
struct Intro {
    id: MessageId,
    lead: LeadId,
    to: String,
    subject: String,
    sent_at: DateTime<Utc>,
}

fn intro_of(conn: &mut PgConnection, tenant: &Tenant, lead: LeadId) -> QueryResult<Option<Intro>> {
    let row: Option<(MessageId, String, String, Option<DateTime<Utc>>)> = messages::table
        .filter(scoped_messages(tenant))
        .filter(messages::lead_id.eq(lead))
        .filter(messages::status.eq("sent"))
        .order(messages::created_at.asc())
        .select((
            messages::id,
            messages::to_email,
            messages::subject,
            messages::sent_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(id, to, subject, sent_at)| {
        Some(Intro {
            id,
            lead,
            to,
            subject,
            sent_at: sent_at?,
        })
    }))
}

/// One kept inbound mail.
struct Kept<'a> {
    kind: &'a str,
    from: &'a str,
    subject: String,
    text: String,
    bounce_status: Option<&'a str>,
    received_at: DateTime<Utc>,
}

fn keep(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    intro: &Intro,
    mail: Kept,
) -> QueryResult<()> {
    let id = InboundMessageId::new();
    diesel::insert_into(inbound_messages::table)
        .values((
            scoped_inbound(tenant),
            inbound_messages::id.eq(id),
            inbound_messages::mailbox_id.eq(mailbox),
            inbound_messages::kind.eq(mail.kind),
            inbound_messages::lead_id.eq(Some(intro.lead)),
            inbound_messages::message_id.eq(Some(intro.id)),
            inbound_messages::dedupe_key.eq(format!("{id}@mail.{DOMAIN}")),
            inbound_messages::from_email.eq(mail.from),
            inbound_messages::subject.eq(mail.subject),
            inbound_messages::body_text.eq(mail.text),
            inbound_messages::bounce_status.eq(mail.bounce_status),
            inbound_messages::bounce_recipient.eq(mail.bounce_status.map(|_| intro.to.as_str())),
            inbound_messages::received_at.eq(mail.received_at),
            inbound_messages::created_at.eq(mail.received_at + Duration::minutes(1)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A reply read ten minutes before the lead moved to Replied, whose status
/// change says it was detected.
fn reply(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    intro: &Intro,
    text: &str,
    replied_at: DateTime<Utc>,
) -> QueryResult<()> {
    keep(
        conn,
        tenant,
        mailbox,
        intro,
        Kept {
            kind: "reply",
            from: &intro.to,
            subject: format!("Re: {}", intro.subject),
            text: format!("Hi Behar,\n\n{text}\n\nBest regards"),
            bounce_status: None,
            received_at: replied_at - Duration::minutes(10),
        },
    )?;
    diesel::update(
        lead_status_changes::table
            .filter(scoped_status_changes(tenant))
            .filter(lead_status_changes::lead_id.eq(intro.lead))
            .filter(lead_status_changes::to_status.eq("replied")),
    )
    .set(lead_status_changes::note.eq(Some(inbound::REPLY_DETECTED)))
    .execute(conn)?;
    Ok(())
}

/// An out-of-office answer an hour after the intro: kept, not a reply.
fn auto_reply(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    intro: &Intro,
) -> QueryResult<()> {
    keep(
        conn,
        tenant,
        mailbox,
        intro,
        Kept {
            kind: "auto_reply",
            from: &intro.to,
            subject: format!("Automatic reply: {}", intro.subject),
            text: "Thank you for your message. I am out of the office until Monday with limited \
                   access to email. For urgent matters, please contact our office."
                .into(),
            bounce_status: None,
            received_at: intro.sent_at + Duration::hours(1),
        },
    )
}

/// The intro came back as undeliverable minutes after it was sent: the
/// message bounced and the address is suppressed, as a real report does.
fn bounce(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mailbox: MailboxId,
    intro: &Intro,
) -> QueryResult<()> {
    let at = intro.sent_at + Duration::minutes(4);
    let diagnostic = format!(
        "550 5.1.1 <{}>: Recipient address rejected: User unknown",
        intro.to
    );
    keep(
        conn,
        tenant,
        mailbox,
        intro,
        Kept {
            kind: "bounce",
            from: "MAILER-DAEMON@mail.behar-demo.example",
            subject: "Undelivered Mail Returned to Sender".into(),
            text: format!(
                "This is the mail system at host mail.{DOMAIN}.\n\nI'm sorry to have to inform you \
                 that your message could not be delivered to one or more recipients.\n\n<{}>: {diagnostic}",
                intro.to
            ),
            bounce_status: Some("5.1.1"),
            received_at: at,
        },
    )?;
    diesel::update(
        messages::table
            .filter(scoped_messages(tenant))
            .filter(messages::id.eq(intro.id)),
    )
    .set((
        messages::status.eq("bounced"),
        messages::bounced_at.eq(Some(at)),
        messages::error.eq(Some(format!("Bounced (5.1.1): {diagnostic}"))),
    ))
    .execute(conn)?;
    let lead = crate::db::leads::find(conn, tenant, intro.lead)?;
    suppression::suppress_lead(conn, tenant, &lead, Reason::Bounced, at)?;
    Ok(())
}

/// The organization column of the demo mailbox.
fn scoped_mailbox(tenant: &Tenant) -> Eq<mailboxes::organization_id, OrgId> {
    mailboxes::organization_id.eq(tenant.org_id())
}

/// The organization column of the demo mailbox's state.
fn scoped_state(tenant: &Tenant) -> Eq<mailbox_states::organization_id, OrgId> {
    mailbox_states::organization_id.eq(tenant.org_id())
}

/// The organization column of a demo inbound mail.
fn scoped_inbound(tenant: &Tenant) -> Eq<inbound_messages::organization_id, OrgId> {
    inbound_messages::organization_id.eq(tenant.org_id())
}

/// The condition every demo message meets.
fn scoped_messages(tenant: &Tenant) -> Eq<messages::organization_id, OrgId> {
    messages::organization_id.eq(tenant.org_id())
}

/// The condition every demo status change meets.
fn scoped_status_changes(tenant: &Tenant) -> Eq<lead_status_changes::organization_id, OrgId> {
    lead_status_changes::organization_id.eq(tenant.org_id())
}
