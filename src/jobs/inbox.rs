//! Reading the mailboxes' inboxes. Fair across organizations: each turn
//! claims the mailbox that has waited longest (`next_poll_at` ≤ now, FOR
//! UPDATE SKIP LOCKED), gives it its next turn at most `POLL_EVERY` later
//! and commits before any IMAP is spoken: no transaction and no pooled
//! connection is held while the server is talked to. The poll itself has a
//! time budget (`imap::PollLimits`), then its outcome is recorded in short
//! transactions of their own.
//!
//! Reading never changes the inbox (`mailboxes::imap`). Position is kept by
//! UID: when the folder's UIDVALIDITY changes it is read again from the
//! start, and the dedupe key of `inbound_messages` keeps every message
//! once. A message too large or one that does not parse is skipped and
//! logged, and the poll goes on. Mailboxes that need attention or are paused
//! are still read: a login that works again makes one that needed attention
//! healthy; a failed login (or a password that does not open) makes it need
//! attention. A mailbox without a server (the demo's) is never read.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::config::Config;
use crate::db::mailboxes::{self, Due, Mailbox, MailboxState};
use crate::db::{conversations, inbound, Db, DbError, SystemAccess, Tenant};
use crate::domain::inbound::classify;
use crate::mailboxes::imap::{self, Fetched, PollLimits, Position};
use crate::mailboxes::net::{Protocol, Security, Server};
use crate::mailboxes::secrets::MailboxKey;

/// The longest a mailbox waits between two reads of its inbox.
pub const POLL_EVERY: chrono::Duration = chrono::Duration::seconds(60);
/// Mailboxes read in one pass at most.
const MAILBOXES_PER_PASS: usize = 50;
/// A pass stops claiming new mailboxes after this long (the next pass goes on).
const PASS_BUDGET: Duration = Duration::from_secs(120);

/// One pass: reads every mailbox whose turn has come (up to the limits),
/// returning how many were read.
pub fn run(
    db: &Db,
    access: &SystemAccess,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let key = MailboxKey::from_config(config);
    let started = Instant::now();
    let mut handled = 0;
    while handled < MAILBOXES_PER_PASS
        && started.elapsed() < PASS_BUDGET
        && !crate::jobs::stopping()
    {
        let Some(turn) = claim(db, access, now)? else {
            break;
        };
        read_inbox(db, access, config, &key, turn, now)?;
        handled += 1;
    }
    Ok(handled)
}

/// A claimed mailbox with what reading it needs.
struct Turn {
    tenant: Tenant,
    mailbox: Mailbox,
    state: MailboxState,
}

/// Claims the next due mailbox in a transaction that is committed (and
/// its connection returned) before the server is called.
fn claim(db: &Db, access: &SystemAccess, now: DateTime<Utc>) -> Result<Option<Turn>, String> {
    let mut conn = db.system(access).map_err(|e| e.to_string())?;
    conn.transaction(|conn| {
        let Some(Due {
            organization_id,
            mailbox_id,
        }) = mailboxes::claim_due_poll(conn, now, now + POLL_EVERY)?
        else {
            return Ok(None);
        };
        let tenant = access.tenant(organization_id);
        let mailbox = mailboxes::find(conn, &tenant, mailbox_id)?;
        let state = mailboxes::state(conn, &tenant, mailbox_id)?;
        Ok(Some(Turn {
            tenant,
            mailbox,
            state,
        }))
    })
    .map_err(|e: diesel::result::Error| e.to_string())
}

/// Reads one mailbox's inbox and records what it found.
fn read_inbox(
    db: &Db,
    access: &SystemAccess,
    config: &Config,
    key: &MailboxKey,
    turn: Turn,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let Turn {
        tenant,
        mailbox,
        state,
    } = turn;
    if mailbox.has_no_server() {
        // The demo's mailbox: there is nothing to read. Its turn never comes
        // (its next poll is never due); this only guards against a claim.
        return Ok(());
    }
    let server = match imap_server(&mailbox, key) {
        Ok(server) => server,
        Err(problem) => {
            return in_transaction(db, access, |conn| {
                conversations::mark_needs_attention(conn, &tenant, mailbox.id, &problem, now)
            })
        }
    };
    let position = match (state.imap_uid_validity, state.imap_last_uid) {
        (Some(v), last) => Some(Position {
            uid_validity: v as u32,
            last_uid: last as u32,
        }),
        (None, _) => None,
    };
    let polled = imap::poll(
        &server,
        &mailbox.imap_folder,
        config.mailbox_allow_private_hosts,
        position,
        PollLimits::default(),
    );
    let poll = match polled {
        Ok(poll) => poll,
        Err(e) if e.is_authentication() => {
            let problem = e.to_string();
            return in_transaction(db, access, |conn| {
                conversations::mark_needs_attention(conn, &tenant, mailbox.id, &problem, now)
            });
        }
        Err(e) => {
            // The server is unreachable or slow: tried again next turn.
            tracing::warn!(mailbox = %mailbox.id, error = %e, "inbox not read");
            return Ok(());
        }
    };
    if poll.resynced {
        tracing::info!(mailbox = %mailbox.id, "the folder's UIDVALIDITY changed: reading it again");
    }
    in_transaction(db, access, |conn| {
        conversations::mark_healthy(conn, &tenant, mailbox.id, now)
    })?;
    for fetched in &poll.messages {
        // One message that cannot be recorded must not block the inbox.
        if let Err(e) = record_one(
            db,
            access,
            &tenant,
            mailbox.id,
            poll.uid_validity,
            fetched,
            now,
        ) {
            tracing::warn!(mailbox = %mailbox.id, uid = fetched.uid, error = %e, "message not recorded");
        }
    }
    let kept = poll.position(position);
    in_transaction(db, access, |conn| {
        mailboxes::set_inbox_position(
            conn,
            &tenant,
            mailbox.id,
            i64::from(kept.uid_validity),
            i64::from(kept.last_uid),
        )?;
        Ok(())
    })
}

/// Classifies and records one fetched message in its own transaction.
fn record_one(
    db: &Db,
    access: &SystemAccess,
    tenant: &Tenant,
    mailbox: crate::ids::MailboxId,
    uid_validity: u32,
    fetched: &Fetched,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let Some(raw) = &fetched.raw else {
        tracing::warn!(%mailbox, uid = fetched.uid, size = fetched.size, "message too large: skipped");
        return Ok(());
    };
    let classified = match classify(raw) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%mailbox, uid = fetched.uid, problem = ?e, "malformed message: skipped");
            return Ok(());
        }
    };
    let source = inbound::Source {
        mailbox,
        uid_validity,
        uid: fetched.uid,
    };
    in_transaction(db, access, |conn| {
        inbound::record(conn, tenant, source, &classified, now).map(|_| ())
    })
}

fn in_transaction(
    db: &Db,
    access: &SystemAccess,
    work: impl FnOnce(&mut PgConnection) -> Result<(), DbError>,
) -> Result<(), String> {
    let mut conn = db.system(access).map_err(|e| e.to_string())?;
    conn.transaction(work).map_err(|e| e.to_string())
}

/// The IMAP server of `mailbox` with its password opened; the problem to
/// show when it cannot be used.
fn imap_server(mailbox: &Mailbox, key: &MailboxKey) -> Result<Server, String> {
    let context = mailboxes::password_context(mailbox.id, "imap");
    let password = key
        .open(&mailbox.imap_password, &context)
        .map_err(|e| format!("IMAP: {e}"))?;
    let security = Security::parse(&mailbox.imap_security).ok_or_else(|| {
        format!(
            "IMAP: unknown security setting {:?}.",
            mailbox.imap_security
        )
    })?;
    Ok(Server {
        protocol: Protocol::Imap,
        host: mailbox.imap_host.clone(),
        port: u16::try_from(mailbox.imap_port).unwrap_or(0),
        security,
        username: mailbox.imap_username.clone(),
        password,
    })
}
