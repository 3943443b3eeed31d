//! Retention: how long kinds of personal data that the product no longer
//! needs are kept (docs/privacy.md lists them all). Housekeeping for every
//! organization, run by the `retention` job; each function deletes or blanks
//! what is past its period and returns how many rows it touched.
//! Sessions, expired account tokens, rate-limit windows, CSV uploads and
//! webhook logs have their own jobs (`account_cleanup`, `lead-imports`,
//! `webhooks`); this module holds the rest.

use chrono::{DateTime, Duration, Months, Utc};
use diesel::prelude::*;

use crate::db::schema::{account_tokens, inbound_messages, mail_outbox, usage_records};

/// Days a sent mail's text stays in the outbox (for delivery questions).
pub const OUTBOX_BODY_DAYS: i64 = 30;
/// Months raw usage records are kept; the per-day and per-month counters,
/// which the usage page and limits read, stay.
pub const USAGE_RECORD_MONTHS: u32 = 13;
/// Days a mail that came back into a mailbox is kept once it belongs to no
/// lead (its lead was deleted or it never matched one); mail that belongs to
/// a lead is part of its conversation and goes with the lead.
pub const UNATTACHED_INBOUND_DAYS: i64 = 30;
/// Days a used account token (password reset, email change) is kept.
pub const USED_TOKEN_DAYS: i64 = 1;

/// Blanks the text of mail sent more than `OUTBOX_BODY_DAYS` ago: the row
/// (who, when, subject, outcome) stays as the delivery record.
pub fn blank_sent_mail(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let cutoff = now - Duration::days(OUTBOX_BODY_DAYS);
    diesel::update(
        mail_outbox::table
            .filter(mail_outbox::sent_at.lt(cutoff))
            .filter(
                mail_outbox::body_text
                    .ne("")
                    .or(mail_outbox::body_html.is_not_null()),
            ),
    )
    .set((
        mail_outbox::body_text.eq(""),
        mail_outbox::body_html.eq(None::<String>),
    ))
    .execute(conn)
}

/// Deletes raw usage records older than `USAGE_RECORD_MONTHS`.
pub fn prune_usage_records(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let cutoff = now
        .checked_sub_months(Months::new(USAGE_RECORD_MONTHS))
        .unwrap_or(now);
    diesel::delete(usage_records::table.filter(usage_records::occurred_at.lt(cutoff))).execute(conn)
}

/// Deletes account tokens used more than `USED_TOKEN_DAYS` ago (unused
/// ones go when they expire, in `account_tokens::purge_expired`).
pub fn prune_used_tokens(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let cutoff = now - Duration::days(USED_TOKEN_DAYS);
    diesel::delete(account_tokens::table.filter(account_tokens::used_at.lt(cutoff))).execute(conn)
}

/// Deletes inbound mail (replies, auto-replies, bounce reports) that belongs
/// to no lead and came in more than `UNATTACHED_INBOUND_DAYS` ago.
pub fn prune_unattached_inbound(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let cutoff = now - Duration::days(UNATTACHED_INBOUND_DAYS);
    diesel::delete(
        inbound_messages::table
            .filter(inbound_messages::lead_id.is_null())
            .filter(inbound_messages::received_at.lt(cutoff)),
    )
    .execute(conn)
}
