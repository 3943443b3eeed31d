//! The mail that says an organization export is ready, with its link.

use chrono::{DateTime, Utc};
use diesel::{PgConnection, QueryResult};
use uuid::Uuid;

use super::{link, queue, MailText};
use crate::db::org_export::KEEP_DAYS;
use crate::db::outbox::MailKind;
use crate::ids::OrgId;

/// The download path of an export.
pub fn download_path(id: Uuid) -> String {
    format!("/settings/export/{id}")
}

pub fn ready(public_url: &str, org_name: &str, id: Uuid) -> MailText {
    MailText {
        subject: format!("Your export of {org_name} is ready"),
        body: format!(
            "Hello,\n\nthe export of all data of {org_name} you asked for is ready. Download it (signed in as an owner) here:\n\n{}\n\nThe link works for {KEEP_DAYS} days; after that the file is deleted and you can ask for a new export in Settings.\n\n— Lead Dashboard\n",
            link(public_url, &download_path(id)),
        ),
    }
}

/// Queues the "export ready" mail in the caller's transaction. Sent as
/// account mail: it goes to one person about their request.
pub fn queue_ready(
    conn: &mut PgConnection,
    org: OrgId,
    to: &str,
    text: MailText,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    queue(conn, MailKind::Account, Some(org), to, &text, now)
}
