//! Composing mail: subjects and plain-text bodies for account and invitation
//! mail (the invoice mail adds an HTML alternative), with absolute links
//! built on `PUBLIC_URL`. Queueing stays a db call (`db::outbox`), made in
//! the transaction of the change that causes the mail.

pub mod account;
pub mod invitations;
pub mod invoice;
pub mod org_export;
pub mod unsubscribe;

use chrono::{DateTime, Utc};
use diesel::{PgConnection, QueryResult};

use crate::db::outbox::{self, MailKind, OutgoingMail};
use crate::ids::OrgId;

/// Subject and body of one email.
pub struct MailText {
    pub subject: String,
    pub body: String,
}

/// An absolute link to `path` on this site.
fn link(public_url: &str, path: &str) -> String {
    format!("{}{}", public_url.trim_end_matches('/'), path)
}

/// Queues one account email (no organization) in the caller's transaction.
pub fn queue_account(
    conn: &mut PgConnection,
    to: &str,
    text: MailText,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    queue(conn, MailKind::Account, None, to, &text, now)
}

/// Queues `text` to `to` in the caller's transaction.
fn queue(
    conn: &mut PgConnection,
    kind: MailKind,
    org: Option<OrgId>,
    to: &str,
    text: &MailText,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    outbox::enqueue(
        conn,
        &OutgoingMail {
            kind,
            org,
            message: None,
            to,
            subject: &text.subject,
            body: &text.body,
            html: None,
        },
        now,
    )?;
    Ok(())
}
