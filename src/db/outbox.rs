//! The mail outbox: every outgoing email is first a row here, written in the
//! transaction of whatever caused it. The delivery worker sends pending rows
//! over SMTP when `SMTP_URL` is set; otherwise they stay for `/dev/outbox`.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::mail_outbox;
use crate::db::Tenant;
use crate::ids::{MessageId, OrgId};

/// What kind of mail, as stored in `mail_outbox.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Message,
    Invitation,
    Account,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Message => "message",
            MailKind::Invitation => "invitation",
            MailKind::Account => "account",
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
}

/// Queues an email; returns its outbox id.
pub fn enqueue(conn: &mut PgConnection, mail: &OutgoingMail) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::id.eq(id),
            mail_outbox::organization_id.eq(mail.org.map(OrgId::uuid)),
            mail_outbox::message_id.eq(mail.message.map(MessageId::uuid)),
            mail_outbox::kind.eq(mail.kind.as_str()),
            mail_outbox::to_email.eq(mail.to),
            mail_outbox::subject.eq(mail.subject),
            mail_outbox::body_text.eq(mail.body),
        ))
        .execute(conn)?;
    Ok(id)
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
/// addressed to them, and message mail of their current organization.
/// Invitations and account mail to other people (they carry sign-in links)
/// never show.
pub fn visible_to(
    conn: &mut PgConnection,
    email: &str,
    tenant: Option<&Tenant>,
    limit: i64,
) -> QueryResult<Vec<OutboxMail>> {
    let own = mail_outbox::to_email.eq(email.to_string());
    let query = mail_outbox::table.into_boxed();
    let query = match tenant.map(Tenant::org_id) {
        Some(org) => query.filter(
            own.or(mail_outbox::kind
                .eq(MailKind::Message.as_str())
                .and(mail_outbox::organization_id.eq(org.uuid()))),
        ),
        None => query.filter(own),
    };
    query
        .order((mail_outbox::created_at.desc(), mail_outbox::id.desc()))
        .limit(limit)
        .select(OutboxMail::as_select())
        .load(conn)
}
