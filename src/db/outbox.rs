//! The mail outbox: every outgoing email is first a row here, written in the
//! transaction of whatever caused it. The delivery worker sends pending rows
//! over SMTP when `SMTP_URL` is set; otherwise they stay for `/dev/outbox`.

use chrono::{DateTime, Utc};
use diesel::dsl::Eq;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::mail_outbox;
use crate::db::{wall, Tenant};
use crate::ids::{MessageId, OrgId};

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
}

/// Claims the longest-due pending mail (`FOR UPDATE SKIP LOCKED`).
pub fn claim_due(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Option<PendingMail>> {
    mail_outbox::table
        .filter(mail_outbox::status.eq("pending"))
        .filter(mail_outbox::next_attempt_at.le(now))
        .order(mail_outbox::next_attempt_at.asc())
        .select(PendingMail::as_select())
        .for_update()
        .skip_locked()
        .first(conn)
        .optional()
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
