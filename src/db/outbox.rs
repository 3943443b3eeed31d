//! The mail outbox: every outgoing email is first a row here, written in the
//! transaction of whatever caused it. The delivery worker sends pending rows
//! over SMTP when `SMTP_URL` is set; otherwise they stay for `/dev/outbox`.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::mail_outbox;
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
