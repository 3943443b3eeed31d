//! Mail delivery: sends due outbox rows through the row's sender mailbox
//! (its own SMTP server, its address in From) or, without one, over
//! `SMTP_URL` with `Reply-To` the sending member. Every mail carries an
//! app-made `Message-ID` (`<uuid@sender-domain>`), stored with the message.
//! No SMTP call happens inside a transaction: a row is claimed ('sending',
//! `claimed_at`) in a short one — where a mailbox's pacing slot is also
//! booked under a lock on its state row — sent outside, and its outcome
//! recorded in another. Delivery is at most once: a row still 'sending'
//! after `SENDING_TIMEOUT` (its instance died between the send and the
//! record) is failed, never sent again. Failures back off exponentially and
//! the row (and its message) is `failed` after the last try; a permanent
//! refusal of a mailbox send is a hard bounce; a refused mailbox login puts
//! the mail back to wait for the mailbox to be fixed.
//! Message mail gets its unsubscribe footer and headers here (`mail::unsubscribe`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport, Transport};
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::db::mailboxes::{self as mailbox_rows, password_context};
use crate::db::outbox::{self, PendingMail as Pending};
use crate::db::{conversations, messages, DbError, DbResult, SystemAccess};
use crate::domain::pacing;
use crate::mail::unsubscribe;
use crate::mailboxes::net::{Protocol, Security, Server};
use crate::mailboxes::secrets::MailboxKey;
use crate::mailboxes::smtp::{self, SendError};

/// Tries per mail before it is marked failed.
pub const MAX_ATTEMPTS: i32 = 5;
/// Mails sent per pass at most (the next pass continues).
const BATCH: usize = 50;
/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Mails deferred to a later pacing slot per claim at most, so one claim
/// transaction stays short.
const DEFERRALS_PER_CLAIM: usize = 20;

/// How long a claimed mail may stay 'sending' before its outcome counts as
/// unknown: far longer than one SMTP conversation can take.
pub fn sending_timeout() -> chrono::Duration {
    chrono::Duration::minutes(10)
}

/// Wait before try `attempts + 1`: 1, 2, 4, 8 … minutes, at most an hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let minutes = 1i64 << attempts.clamp(0, 6);
    chrono::Duration::minutes(minutes.min(60))
}

/// The job: sends every mail due at `now` (up to a batch). Mail without a
/// mailbox needs `SMTP_URL`; without it, such mail stays in the outbox (see
/// `/dev/outbox`).
pub fn deliver_due(
    conn: &mut PgConnection,
    access: &SystemAccess,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    fail_unknown_outcomes(conn, access, now).map_err(|e| e.to_string())?;
    let platform = platform_sender(config)?;
    let key = MailboxKey::from_config(config);
    let mut handled = 0;
    while handled < BATCH && !crate::jobs::stopping() {
        let claimed = conn
            .transaction(|conn| claim(conn, access, platform.is_some(), now))
            .map_err(|e| e.to_string())?;
        let Some(claimed) = claimed else {
            break;
        };
        let result = send_claimed(&claimed, platform.as_ref(), &key, config);
        conn.transaction(|conn| record(conn, access, &claimed, result, now))
            .map_err(|e| e.to_string())?;
        handled += 1;
    }
    Ok(handled)
}

/// The platform server (`SMTP_URL`, `MAIL_FROM`), when configured.
fn platform_sender(config: &Config) -> Result<Option<Platform>, String> {
    let Some(url) = config.smtp_url.as_ref().map(|url| url.expose_secret()) else {
        return Ok(None);
    };
    let transport = SmtpTransport::from_url(url)
        .map_err(|e| format!("SMTP_URL is not usable: {e}"))?
        .timeout(Some(SMTP_TIMEOUT))
        .build();
    let from: Mailbox = config
        .mail_from
        .parse()
        .map_err(|e| format!("MAIL_FROM is not a valid address: {e}"))?;
    Ok(Some(Platform { transport, from }))
}

/// The platform's own server and sender address.
struct Platform {
    transport: SmtpTransport,
    from: Mailbox,
}

/// A mail claimed for sending, with the mailbox it goes out from.
struct Claimed {
    mail: Pending,
    mailbox: Option<mailbox_rows::Mailbox>,
    rfc_message_id: String,
}

/// Fails the mails whose sender stopped between sending and recording.
fn fail_unknown_outcomes(
    conn: &mut PgConnection,
    access: &SystemAccess,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        let stale = outbox::fail_unknown_outcomes(conn, now - sending_timeout())?;
        for mail in stale {
            tracing::warn!(mail = %mail.id, "mail outcome unknown; not retried");
            if let (Some(org), Some(message)) = (mail.organization_id, mail.message_id) {
                let tenant = access.tenant(org);
                messages::mark_delivery(conn, &tenant, message, Err(outbox::UNKNOWN_OUTCOME), now)?;
            }
        }
        Ok(())
    })
}

/// Locks the next due mail that may go now and marks it 'sending'. Mail of
/// a mailbox whose next pacing slot is later is moved to that slot instead.
fn claim(
    conn: &mut PgConnection,
    access: &SystemAccess,
    platform_ready: bool,
    now: DateTime<Utc>,
) -> QueryResult<Option<Claimed>> {
    for _ in 0..DEFERRALS_PER_CLAIM {
        let Some(mail) = outbox::lock_due(conn, platform_ready, now)? else {
            return Ok(None);
        };
        let (Some(org), Some(mailbox_id)) = (mail.organization_id, mail.mailbox_id) else {
            let rfc_message_id = message_id_for(&mail, None);
            return mark_claimed(conn, access, mail, None, rfc_message_id, now).map(Some);
        };
        let tenant = access.tenant(org);
        let booking = mailbox_rows::lock_booking(conn, &tenant, mailbox_id)?;
        let Some((_, booked)) = booking.filter(|(status, _)| status == "active") else {
            // The mailbox stopped sending since the row was picked: the mail
            // waits (and is skipped by the next pick while it is not active).
            outbox::wait_until(conn, mail.id, now + backoff(0))?;
            continue;
        };
        let mailbox = mailbox_rows::find(conn, &tenant, mailbox_id)?;
        let zone = mailbox_rows::pacing_zone(conn, &tenant, mail.message_id)?;
        let rules = mailbox.pacing();
        let slot = pacing::next_slot(&rules, zone, &booked, now);
        if slot > now {
            outbox::wait_until(conn, mail.id, slot)?;
            continue;
        }
        let jitter = f64::from(rand::random::<u16>()) / f64::from(u16::MAX);
        let booked = pacing::book(&rules, zone, &booked, now, jitter);
        mailbox_rows::store_booking(conn, &tenant, mailbox_id, &booked, now)?;
        let rfc_message_id = message_id_for(&mail, Some(&mailbox.email));
        return mark_claimed(conn, access, mail, Some(mailbox), rfc_message_id, now).map(Some);
    }
    Ok(None)
}

fn mark_claimed(
    conn: &mut PgConnection,
    access: &SystemAccess,
    mail: Pending,
    mailbox: Option<mailbox_rows::Mailbox>,
    rfc_message_id: String,
    now: DateTime<Utc>,
) -> QueryResult<Claimed> {
    outbox::mark_sending(conn, mail.id, &rfc_message_id, now)?;
    if let (Some(org), Some(message)) = (mail.organization_id, mail.message_id) {
        messages::set_rfc_message_id(conn, &access.tenant(org), message, &rfc_message_id)?;
    }
    Ok(Claimed {
        mail,
        mailbox,
        rfc_message_id,
    })
}

/// The mail's `Message-ID`: kept if it has one (it is never sent twice, but
/// the id stays stable), else `<outbox-id@domain of the sender address>`.
fn message_id_for(mail: &Pending, sender_email: Option<&str>) -> String {
    if let Some(existing) = &mail.rfc_message_id {
        return existing.clone();
    }
    let domain = sender_email
        .and_then(|e| e.rsplit_once('@'))
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| "localhost".into());
    format!("<{}@{}>", mail.id, domain)
}

/// How one send ended.
enum Outcome {
    Sent,
    /// The mail itself is unusable (bad address): retrying cannot help.
    Unusable(String),
    /// The receiving side refused the mail for good (5xx): a hard bounce.
    Refused {
        status: String,
        detail: String,
    },
    /// The mailbox's login was refused: the mail waits for it to be fixed.
    LoginRefused(String),
    Temporary(String),
}

fn send_claimed(
    claimed: &Claimed,
    platform: Option<&Platform>,
    key: &MailboxKey,
    config: &Config,
) -> Outcome {
    let from = match (&claimed.mailbox, platform) {
        (Some(mailbox), _) => mailbox_address(mailbox),
        (None, Some(platform)) => Ok(platform.from.clone()),
        (None, None) => Err("no mail server is configured".to_string()),
    };
    let from = match from {
        Ok(from) => from,
        Err(e) => return Outcome::Temporary(e),
    };
    let message = match build(claimed, from, &config.public_url) {
        Ok(message) => message,
        Err(e) => return Outcome::Unusable(e),
    };
    match (&claimed.mailbox, platform) {
        (Some(mailbox), _) => send_through_mailbox(mailbox, &message, key, config),
        (None, Some(platform)) => match platform.transport.send(&message) {
            Ok(_) => Outcome::Sent,
            Err(e) => Outcome::Temporary(e.to_string()),
        },
        (None, None) => Outcome::Temporary("no mail server is configured".into()),
    }
}

fn mailbox_address(mailbox: &mailbox_rows::Mailbox) -> Result<Mailbox, String> {
    let email = mailbox
        .email
        .parse()
        .map_err(|e| format!("the mailbox address is not valid: {e}"))?;
    let name = Some(mailbox.display_name.clone()).filter(|n| !n.trim().is_empty());
    Ok(Mailbox::new(name, email))
}

fn send_through_mailbox(
    mailbox: &mailbox_rows::Mailbox,
    message: &Message,
    key: &MailboxKey,
    config: &Config,
) -> Outcome {
    let server = match smtp_server(mailbox, key) {
        Ok(server) => server,
        Err(e) => return Outcome::LoginRefused(e),
    };
    let raw = message.formatted();
    match smtp::send(
        &server,
        config.mailbox_allow_private_hosts,
        message.envelope(),
        &raw,
    ) {
        Ok(()) => Outcome::Sent,
        Err(SendError::Server(e)) if e.is_authentication() => Outcome::LoginRefused(e.to_string()),
        Err(SendError::Server(e)) => Outcome::Temporary(e.to_string()),
        Err(SendError::Refused { status, detail }) => Outcome::Refused { status, detail },
        Err(SendError::Temporary(e)) => Outcome::Temporary(e),
    }
}

/// The mailbox's SMTP server with its password opened.
fn smtp_server(mailbox: &mailbox_rows::Mailbox, key: &MailboxKey) -> Result<Server, String> {
    let password = key
        .open(
            &mailbox.smtp_password,
            &password_context(mailbox.id, "smtp"),
        )
        .map_err(|_| {
            "the stored SMTP password cannot be opened with this MAILBOX_KEY; enter it again"
                .to_string()
        })?;
    Ok(Server {
        protocol: Protocol::Smtp,
        host: mailbox.smtp_host.clone(),
        port: u16::try_from(mailbox.smtp_port).unwrap_or(0),
        security: Security::parse(&mailbox.smtp_security).unwrap_or(Security::Tls),
        username: mailbox.smtp_username.clone(),
        password,
    })
}

fn build(claimed: &Claimed, from: Mailbox, public_url: &str) -> Result<Message, String> {
    let mail = &claimed.mail;
    let to: Mailbox = mail
        .to_email
        .parse()
        .map_err(|e| format!("invalid recipient address: {e}"))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.as_str())
        .message_id(Some(claimed.rfc_message_id.clone()));
    if let Some(parent) = &mail.in_reply_to {
        builder = builder.in_reply_to(parent.clone());
    }
    if let Some(chain) = &mail.thread_references {
        builder = builder.references(chain.clone());
    }
    if let Some(reply_to) = &mail.reply_to {
        if let Ok(address) = reply_to.parse::<Mailbox>() {
            builder = builder.reply_to(address);
        }
    }
    let mut text = mail.body_text.clone();
    if let Some(token) = &mail.unsubscribe_token {
        let link = unsubscribe::link(public_url, token);
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
    message.map_err(|e| format!("cannot build the mail: {e}"))
}

/// Records how a claimed mail's send ended.
fn record(
    conn: &mut PgConnection,
    access: &SystemAccess,
    claimed: &Claimed,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let mail = &claimed.mail;
    let (label, result) = match outcome {
        Outcome::Sent => (
            "sent",
            record_sent(conn, access, mail, now).map_err(DbError::from),
        ),
        Outcome::Unusable(e) => (
            "failed",
            record_failure(conn, access, mail, &e, now, true).map_err(DbError::from),
        ),
        Outcome::Refused { status, detail } => (
            "bounced",
            record_refusal(conn, access, mail, &status, &detail, now),
        ),
        Outcome::LoginRefused(e) => (
            "waiting",
            record_login_refused(conn, access, claimed, &e, now),
        ),
        Outcome::Temporary(e) => (
            "retry",
            record_failure(conn, access, mail, &e, now, false).map_err(DbError::from),
        ),
    };
    crate::observe::delivery("mail", label);
    result
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

/// The receiving server refused the mail for good: the mail failed, never
/// retried, and its message is a hard bounce (address suppressed, the
/// lead's enrolments stopped, the mailbox's bounce rate checked).
fn record_refusal(
    conn: &mut PgConnection,
    access: &SystemAccess,
    mail: &Pending,
    status: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let error: String = format!("refused by the receiving server: {detail}")
        .chars()
        .take(500)
        .collect();
    outbox::mark_attempt_failed(conn, mail, &error, true, now)?;
    if let (Some(org), Some(message)) = (mail.organization_id, mail.message_id) {
        conversations::record_hard_bounce(conn, &access.tenant(org), message, status, detail, now)?;
    }
    Ok(())
}

/// The mailbox's login was refused (or its password cannot be opened):
/// the mail waits (no try counted) and the mailbox needs attention, so it
/// sends nothing until a login works again.
fn record_login_refused(
    conn: &mut PgConnection,
    access: &SystemAccess,
    claimed: &Claimed,
    error: &str,
    now: DateTime<Utc>,
) -> DbResult<()> {
    tracing::warn!(mail = %claimed.mail.id, error = %error, "mailbox login refused");
    outbox::wait_until(conn, claimed.mail.id, now + backoff(0))?;
    if let (Some(org), Some(mailbox)) = (claimed.mail.organization_id, &claimed.mailbox) {
        conversations::mark_needs_attention(conn, &access.tenant(org), mailbox.id, error, now)?;
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
