//! Mail delivery: sends pending outbox rows over SMTP (`SMTP_URL`). Each row
//! is claimed with `FOR UPDATE SKIP LOCKED` and stays locked while it is
//! sent, so concurrent runners never send one twice; failures back off
//! exponentially and the row (and its message) is `failed` after the last try.
//! Message mail gets its unsubscribe footer and headers here (`mail::unsubscribe`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport, Transport};
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::db::outbox::{self, PendingMail as Pending};
use crate::db::{messages, SystemAccess};
use crate::mail::unsubscribe;

/// Tries per mail before it is marked failed.
pub const MAX_ATTEMPTS: i32 = 5;
/// Mails sent per pass at most (the next pass continues).
const BATCH: usize = 50;
/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Wait before try `attempts + 1`: 1, 2, 4, 8 … minutes, at most an hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let minutes = 1i64 << attempts.clamp(0, 6);
    chrono::Duration::minutes(minutes.min(60))
}

/// The job: sends every mail due at `now` (up to a batch). Without `SMTP_URL` mail
/// stays in the outbox (see `/dev/outbox`) and nothing happens.
pub fn deliver_due(
    conn: &mut PgConnection,
    access: &SystemAccess,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let Some(url) = config.smtp_url.as_ref().map(|url| url.expose_secret()) else {
        return Ok(0);
    };
    let transport = SmtpTransport::from_url(url)
        .map_err(|e| format!("SMTP_URL is not usable: {e}"))?
        .timeout(Some(SMTP_TIMEOUT))
        .build();
    let from: Mailbox = config
        .mail_from
        .parse()
        .map_err(|e| format!("MAIL_FROM is not a valid address: {e}"))?;
    let sender = Sender {
        transport,
        from,
        public_url: &config.public_url,
    };
    let mut handled = 0;
    while handled < BATCH && !crate::jobs::stopping() {
        let delivered = conn
            .transaction(|conn| deliver_one(conn, access, &sender, now))
            .map_err(|e| e.to_string())?;
        if !delivered {
            break;
        }
        handled += 1;
    }
    Ok(handled)
}

/// What every mail of a pass is sent with.
struct Sender<'a> {
    transport: SmtpTransport,
    from: Mailbox,
    /// Where unsubscribe links point.
    public_url: &'a str,
}

/// Claims one due mail and sends it; false when none is due.
fn deliver_one(
    conn: &mut PgConnection,
    access: &SystemAccess,
    sender: &Sender,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let claimed = outbox::claim_due(conn, now)?;
    let Some(mail) = claimed else {
        return Ok(false);
    };
    let outcome = match send(sender, &mail) {
        Ok(()) => {
            record_sent(conn, access, &mail, now)?;
            "sent"
        }
        Err(Failure::Permanent(e)) => {
            record_failure(conn, access, &mail, &e, now, true)?;
            "failed"
        }
        Err(Failure::Temporary(e)) => {
            record_failure(conn, access, &mail, &e, now, false)?;
            "retry"
        }
    };
    crate::observe::delivery("mail", outcome);
    Ok(true)
}

enum Failure {
    /// The mail itself is unusable (bad address): retrying cannot help.
    Permanent(String),
    Temporary(String),
}

fn send(sender: &Sender, mail: &Pending) -> Result<(), Failure> {
    let to: Mailbox = mail
        .to_email
        .parse()
        .map_err(|e| Failure::Permanent(format!("invalid recipient address: {e}")))?;
    let mut builder = Message::builder()
        .from(sender.from.clone())
        .to(to)
        .subject(mail.subject.as_str());
    let mut text = mail.body_text.clone();
    if let Some(token) = &mail.unsubscribe_token {
        let link = unsubscribe::link(sender.public_url, token);
        for (name, value) in unsubscribe::headers(&link) {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value,
            ));
        }
        text = unsubscribe::with_footer(&text, &link);
    }
    let message = match &mail.body_html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(text, html.clone())),
        None => builder.header(ContentType::TEXT_PLAIN).body(text),
    };
    let message = message.map_err(|e| Failure::Permanent(format!("cannot build the mail: {e}")))?;
    sender
        .transport
        .send(&message)
        .map(|_| ())
        .map_err(|e| Failure::Temporary(e.to_string()))
}

fn record_sent(
    conn: &mut PgConnection,
    access: &SystemAccess,
    mail: &Pending,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    outbox::mark_sent(conn, mail, now)?;
    if let (Some(org), Some(message)) = (mail.organization_id, mail.message_id) {
        messages::mark_delivery(conn, &access.tenant(org), message, Ok(now), now)?;
    }
    Ok(())
}

fn record_failure(
    conn: &mut PgConnection,
    access: &SystemAccess,
    mail: &Pending,
    error: &str,
    now: DateTime<Utc>,
    permanent: bool,
) -> QueryResult<()> {
    let attempts = mail.attempts + 1;
    let error: String = error.chars().take(500).collect();
    let last = permanent || attempts >= MAX_ATTEMPTS;
    tracing::warn!(mail = %mail.id, attempts, last, error = %error, "mail delivery failed");
    outbox::mark_attempt_failed(conn, mail, &error, last, now + backoff(attempts - 1))?;
    if let (true, Some(org), Some(message)) = (last, mail.organization_id, mail.message_id) {
        messages::mark_delivery(conn, &access.tenant(org), message, Err(&error), now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(0), chrono::Duration::minutes(1));
        assert_eq!(backoff(1), chrono::Duration::minutes(2));
        assert_eq!(backoff(3), chrono::Duration::minutes(8));
        assert_eq!(backoff(10), chrono::Duration::minutes(60));
    }
}
