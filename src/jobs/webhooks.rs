//! Webhook delivery: sends due events from the outbox (`webhook_events`),
//! one claimed row at a time with `FOR UPDATE SKIP LOCKED` and kept locked
//! while it is sent, so concurrent workers never attempt one twice in the
//! same slot. Each POST is signed per Standard Webhooks, has 10 seconds in
//! all (connect, send, answer), follows no redirect and reads at most 2 KB
//! of the answer. 2xx is delivered; anything else is retried after about
//! 5 s, 1 min, 5 min, 30 min, 2 h, 8 h and 24 h (±10 % jitter), then failed.
//! An endpoint whose deliveries all failed for 3 days is disabled, and its
//! organization's owners are mailed and its owners and admins notified.

use std::io::Read;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::Rng;

use crate::config::Config;
use crate::db::outbox::{self, MailKind, OutgoingMail};
use crate::db::webhooks::{self as db_hooks, Due, Next, Outcome};
use crate::db::{billing, notices, SystemAccess, Tenant};
use crate::webhooks::{signing, target};

/// Waits after attempts 1, 2, … 7; the 8th failed attempt is the last.
pub const RETRY_SECONDS: [i64; 7] = [5, 60, 5 * 60, 30 * 60, 2 * 3600, 8 * 3600, 24 * 3600];
/// How long one delivery may take in all.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a response body that is read and kept.
pub const BODY_LIMIT: u64 = 2048;
/// Deliveries per pass at most (the next pass continues).
const BATCH: usize = 50;
/// An endpoint failing this long is disabled.
pub fn disable_after() -> chrono::Duration {
    chrono::Duration::days(3)
}

/// When to try again after `attempts` failed attempts, or None when that was the last.
pub fn retry_at(attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let base = *RETRY_SECONDS.get(usize::try_from(attempts - 1).ok()?)?;
    let jitter = rand::thread_rng().gen_range(-0.1..=0.1);
    let millis = (base as f64 * 1000.0 * (1.0 + jitter)) as i64;
    Some(now + chrono::Duration::milliseconds(millis))
}

/// The job: delivers events due at `now` (up to a batch) and prunes the log.
pub fn deliver_due(
    conn: &mut PgConnection,
    access: &SystemAccess,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let mut handled = 0;
    while handled < BATCH && !crate::jobs::stopping() {
        let done = conn
            .transaction(|conn| deliver_one(conn, access, config, now))
            .map_err(|e| e.to_string())?;
        if !done {
            break;
        }
        handled += 1;
    }
    db_hooks::prune(conn, now).map_err(|e| e.to_string())?;
    Ok(handled)
}

/// Claims one due event and sends it; false when none is due.
fn deliver_one(
    conn: &mut PgConnection,
    access: &SystemAccess,
    config: &Config,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let Some(due) = db_hooks::claim_due(conn, now)? else {
        return Ok(false);
    };
    let tenant = access.tenant(due.org());
    if !db_hooks::plan_allows(conn, &tenant, now)? {
        let why = "Not sent: the organization's plan has no custom integrations.";
        db_hooks::give_up(conn, &tenant, &due, why)?;
        crate::observe::delivery("webhook", "failed");
        return Ok(true);
    }
    let outcome = send(&due, config.webhook_allow_private_targets, now);
    let next = if outcome.succeeded {
        Next::Delivered
    } else {
        retry_at(due.attempts + 1, now).map_or(Next::Failed, Next::RetryAt)
    };
    let counted = match next {
        Next::Delivered => "sent",
        Next::Failed => "failed",
        Next::RetryAt(_) => "retry",
    };
    db_hooks::record_attempt(conn, &tenant, &due, &outcome, next, now)?;
    crate::observe::delivery("webhook", counted);
    let disabled = db_hooks::track_failures(
        conn,
        &tenant,
        due.endpoint_id,
        outcome.succeeded,
        now,
        disable_after(),
    )?;
    if let Some(url) = disabled {
        tell_owners(conn, &tenant, &url, now)?;
    }
    Ok(true)
}

/// Mails the owners and notifies owners and admins of a disabled endpoint.
fn tell_owners(
    conn: &mut PgConnection,
    tenant: &Tenant,
    url: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let text = format!(
        "The webhook endpoint {url} was disabled: every delivery to it failed for 3 days. \
         Fix the receiver, then enable it again under Settings → Webhooks; failed events can be redelivered there."
    );
    let key = format!("webhook-disabled:{url}:{}", now.timestamp());
    notices::notify_admins(conn, tenant, "webhooks", &text, &key, now)?;
    for to in billing::owner_emails(conn, tenant)? {
        let mail = OutgoingMail {
            kind: MailKind::Account,
            org: Some(tenant.org_id()),
            message: None,
            to: &to,
            subject: "A webhook endpoint was disabled",
            body: &text,
            html: None,
        };
        outbox::enqueue(conn, &mail, now)?;
    }
    Ok(())
}

/// One signed POST of `due`, recorded whatever happens.
pub fn send(due: &Due, allow_private: bool, now: DateTime<Utc>) -> Outcome {
    let started = Instant::now();
    let result = post(due, allow_private, now);
    let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    match result {
        Ok((code, body)) => Outcome {
            status_code: Some(i32::from(code)),
            latency_ms,
            response_body: body,
            error: (!(200..300).contains(&code)).then(|| format!("HTTP status {code}")),
            succeeded: (200..300).contains(&code),
        },
        Err(error) => Outcome {
            status_code: None,
            latency_ms,
            response_body: String::new(),
            error: Some(error),
            succeeded: false,
        },
    }
}

/// The status code and the first 2 KB of the answer, or why there is none.
fn post(due: &Due, allow_private: bool, now: DateTime<Utc>) -> Result<(u16, String), String> {
    // Checked again at delivery: the rules may be stricter than when it was saved.
    let url = target::check_url(&due.url, allow_private).map_err(str::to_string)?;
    let agent = ureq::AgentBuilder::new()
        .timeout(TIMEOUT)
        .redirects(0)
        // The checked addresses are the ones connected to: no second lookup.
        .resolver(move |netloc: &str| target::resolve(netloc, allow_private))
        .user_agent("LeadDashboard-Webhooks/1")
        .build();
    let body = due.body();
    let msg_id = due.event_id.to_string();
    let timestamp = now.timestamp();
    let signature = signing::header(&due.secrets(now), &msg_id, timestamp, &body);
    let answer = agent
        .post(url.as_str())
        .set("content-type", "application/json")
        .set("webhook-id", &msg_id)
        .set("webhook-timestamp", &timestamp.to_string())
        .set("webhook-signature", &signature)
        .send_string(&body);
    let response = match answer {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(t)) => return Err(transport_error(&t, url.as_str())),
    };
    let code = response.status();
    let mut kept = Vec::new();
    // A read error after the status (a reset mid-body) keeps what arrived.
    let _ = response
        .into_reader()
        .take(BODY_LIMIT)
        .read_to_end(&mut kept);
    Ok((code, String::from_utf8_lossy(&kept).into_owned()))
}

/// The client's error in words for the delivery log: a refused or unknown
/// host is said plainly, anything else without the URL it starts with.
fn transport_error(t: &ureq::Transport, url: &str) -> String {
    let text = t.to_string();
    if t.kind() == ureq::ErrorKind::Dns {
        return if text.contains(target::PRIVATE_HOST) {
            target::PRIVATE_HOST.to_string()
        } else {
            target::UNRESOLVED_HOST.to_string()
        };
    }
    let text = text.strip_prefix(&format!("{url}: ")).unwrap_or(&text);
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_with_jitter_then_stop() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .to_utc();
        for (i, base) in RETRY_SECONDS.iter().enumerate() {
            let at = retry_at(i as i32 + 1, now).expect("a retry");
            let wait = (at - now).num_milliseconds() as f64 / 1000.0;
            assert!(
                wait >= *base as f64 * 0.9 - 0.01 && wait <= *base as f64 * 1.1 + 0.01,
                "{i}: {wait}"
            );
        }
        assert_eq!(retry_at(8, now), None);
    }
}
