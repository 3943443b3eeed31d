//! The mail outbox: every outgoing email is first a row here, written in the
//! transaction of whatever caused it. The delivery worker sends pending rows
//! through the row's sender mailbox, or over `SMTP_URL` when it has none
//! (without `SMTP_URL` such rows stay for `/dev/outbox`). A row is claimed
//! ('sending', with `claimed_at`) in a short transaction, sent outside it and
//! its outcome recorded in another; a row left 'sending' past the timeout is
//! failed, never sent again (at most once, see docs/mailboxes.md).

use chrono::{DateTime, Utc};
use diesel::dsl::Eq;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::mail_outbox;
use crate::db::schema::mailbox_states;
use crate::db::{wall, Tenant};
use crate::ids::{MailboxId, MessageId, OrgId};

/// What kind of mail, as stored in `mail_outbox.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Message,
    Invitation,
    Account,
    /// Failed payments and the end of a plan, to the owners.
    Billing,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Message => "message",
            MailKind::Invitation => "invitation",
            MailKind::Account => "account",
            MailKind::Billing => "billing",
        }
    }
}

/// One email to send.
pub struct OutgoingMail<'a> {
    pub kind: MailKind,
    pub org: Option<OrgId>,
    pub message: Option<MessageId>,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// An HTML alternative to `body`, sent as multipart/alternative.
    pub html: Option<&'a str>,
}

/// A queued email; the organization is the one it is sent for, if any.
#[derive(Insertable)]
#[diesel(table_name = mail_outbox)]
struct NewOutboxMail<'a> {
    id: Uuid,
    organization_id: Option<OrgId>,
    message_id: Option<MessageId>,
    kind: &'a str,
    to_email: &'a str,
    subject: &'a str,
    body_text: &'a str,
    body_html: Option<&'a str>,
    next_attempt_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

/// Queues an email; returns its outbox id.
pub fn enqueue(
    conn: &mut PgConnection,
    mail: &OutgoingMail,
    now: DateTime<Utc>,
) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::insert_into(mail_outbox::table)
        .values(NewOutboxMail {
            id,
            organization_id: mail.org,
            message_id: mail.message,
            kind: mail.kind.as_str(),
            to_email: mail.to,
            subject: mail.subject,
            body_text: mail.body,
            body_html: mail.html,
            next_attempt_at: now,
            created_at: now,
        })
        .execute(conn)?;
    Ok(id)
}

/// Gives a queued message mail its unsubscribe token: delivery adds the
/// `List-Unsubscribe` headers and the footer link from it.
pub fn attach_unsubscribe(conn: &mut PgConnection, id: Uuid, token: &str) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set(mail_outbox::unsubscribe_token.eq(Some(token)))
        .execute(conn)?;
    Ok(())
}

/// How a queued message mail is sent: through which mailbox (none = the
/// platform server, replies going to `reply_to`), and the thread it continues.
pub struct SendingDetails<'a> {
    pub mailbox: Option<MailboxId>,
    pub in_reply_to: Option<&'a str>,
    pub references: Option<&'a str>,
    pub reply_to: Option<&'a str>,
}

/// Stores how a queued mail is sent (in the transaction that queued it).
pub fn attach_sending_details(
    conn: &mut PgConnection,
    id: Uuid,
    details: &SendingDetails,
) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::mailbox_id.eq(details.mailbox),
            mail_outbox::in_reply_to.eq(details.in_reply_to),
            mail_outbox::thread_references.eq(details.references),
            mail_outbox::reply_to.eq(details.reply_to),
        ))
        .execute(conn)?;
    Ok(())
}

/// An outbox row as the development page shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct OutboxMail {
    pub id: Uuid,
    pub kind: String,
    pub to_email: String,
    pub subject: String,
    pub body_text: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The newest mail a signed-in user may read on `/dev/outbox`: mail
/// addressed to `confirmed_email` (the user's address, only once they have
/// confirmed it; `None` otherwise), and message mail of their current
/// organization. Invitations and account mail to other people (they carry
/// sign-in links) never show.
pub fn visible_to(
    conn: &mut PgConnection,
    confirmed_email: Option<&str>,
    tenant: Option<&Tenant>,
    limit: i64,
) -> QueryResult<Vec<OutboxMail>> {
    let org_messages = |tenant: &Tenant| {
        mail_outbox::kind
            .eq(MailKind::Message.as_str())
            .and(scoped_mail_outbox_rows(tenant))
    };
    let query = mail_outbox::table.into_boxed();
    let query = match (confirmed_email, tenant) {
        (Some(email), Some(tenant)) => query.filter(
            mail_outbox::to_email
                .eq(email.to_string())
                .or(org_messages(tenant)),
        ),
        (Some(email), None) => query.filter(mail_outbox::to_email.eq(email.to_string())),
        (None, Some(tenant)) => query.filter(org_messages(tenant)),
        (None, None) => return Ok(Vec::new()),
    };
    // Mail to the user's confirmed address may come from any organization
    // (an invitation), so this reads beyond the request's organization; the
    // filter above is what limits it.
    wall::lifted(conn, |conn| {
        query
            .order((mail_outbox::created_at.desc(), mail_outbox::id.desc()))
            .limit(limit)
            .select(OutboxMail::as_select())
            .load(conn)
    })
}

/// A mail waiting for delivery, as the delivery worker sees it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct PendingMail {
    pub id: Uuid,
    pub organization_id: Option<OrgId>,
    pub message_id: Option<MessageId>,
    pub to_email: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub attempts: i32,
    pub unsubscribe_token: Option<String>,
    pub mailbox_id: Option<MailboxId>,
    pub rfc_message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub thread_references: Option<String>,
    pub reply_to: Option<String>,
}

/// Locks the longest-due pending mail that can go now (`FOR UPDATE SKIP
/// LOCKED`): mail of an active mailbox, or platform mail when
/// `platform_ready` (`SMTP_URL` is set). Mail of a mailbox that needs
/// attention or is paused waits.
pub fn lock_due(
    conn: &mut PgConnection,
    platform_ready: bool,
    now: DateTime<Utc>,
) -> QueryResult<Option<PendingMail>> {
    let active = mailbox_states::table
        .filter(mailbox_states::status.eq("active"))
        .select(mailbox_states::mailbox_id.nullable());
    let sendable = mail_outbox::mailbox_id
        .is_null()
        .and(diesel::dsl::sql::<diesel::sql_types::Bool>(
            if platform_ready { "TRUE" } else { "FALSE" },
        ))
        .or(mail_outbox::mailbox_id.eq_any(active));
    mail_outbox::table
        .filter(mail_outbox::status.eq("pending"))
        .filter(mail_outbox::next_attempt_at.le(now))
        .filter(sendable)
        .order(mail_outbox::next_attempt_at.asc())
        .select(PendingMail::as_select())
        .for_update()
        .skip_locked()
        .first(conn)
        .optional()
}

/// Marks a locked mail as being sent now, with its `Message-ID`.
pub fn mark_sending(
    conn: &mut PgConnection,
    id: Uuid,
    rfc_message_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::status.eq("sending"),
            mail_outbox::claimed_at.eq(Some(now)),
            mail_outbox::rfc_message_id.eq(Some(rfc_message_id)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Puts a mail back to wait until `at` without counting a try (its
/// mailbox's pacing slot, or a mailbox whose login must be fixed first).
pub fn wait_until(conn: &mut PgConnection, id: Uuid, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::status.eq("pending"),
            mail_outbox::next_attempt_at.eq(at),
            mail_outbox::claimed_at.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)?;
    Ok(())
}

/// A mail whose sending outcome was never recorded.
#[derive(Debug, Clone, Queryable)]
pub struct UnknownOutcome {
    pub id: Uuid,
    pub organization_id: Option<OrgId>,
    pub message_id: Option<MessageId>,
}

/// What a mail left 'sending' is marked with: it may or may not have
/// reached the server, and sending it again could deliver it twice.
pub const UNKNOWN_OUTCOME: &str = "delivery state unknown, not retried to avoid a duplicate";

/// Fails every mail claimed before `claimed_before` and still 'sending'
/// (its sender stopped between the SMTP call and recording the outcome).
pub fn fail_unknown_outcomes(
    conn: &mut PgConnection,
    claimed_before: DateTime<Utc>,
) -> QueryResult<Vec<UnknownOutcome>> {
    diesel::update(
        mail_outbox::table
            .filter(mail_outbox::status.eq("sending"))
            .filter(mail_outbox::claimed_at.lt(claimed_before)),
    )
    .set((
        mail_outbox::status.eq("failed"),
        mail_outbox::last_error.eq(Some(UNKNOWN_OUTCOME)),
    ))
    .returning((
        mail_outbox::id,
        mail_outbox::organization_id,
        mail_outbox::message_id,
    ))
    .get_results(conn)
}

/// Records a delivered mail.
pub fn mark_sent(
    conn: &mut PgConnection,
    mail: &PendingMail,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(mail.id))
        .set((
            mail_outbox::status.eq("sent"),
            mail_outbox::attempts.eq(mail.attempts + 1),
            mail_outbox::sent_at.eq(Some(now)),
            mail_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed try: failed for good when `last`, else retried at `retry_at`.
pub fn mark_attempt_failed(
    conn: &mut PgConnection,
    mail: &PendingMail,
    error: &str,
    last: bool,
    retry_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(mail.id))
        .set((
            mail_outbox::status.eq(if last { "failed" } else { "pending" }),
            mail_outbox::attempts.eq(mail.attempts + 1),
            mail_outbox::next_attempt_at.eq(retry_at),
            mail_outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The condition every `mail_outbox` row of a tenant meets (mail without an
/// organization is nobody's tenant data).
fn scoped_mail_outbox_rows(tenant: &Tenant) -> Eq<mail_outbox::organization_id, OrgId> {
    mail_outbox::organization_id.eq(tenant.org_id())
}
