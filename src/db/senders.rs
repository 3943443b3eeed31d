//! Which mailboxes a sequence sends from in the tenant's organization
//! (`sequence_senders` and `sequence_mailboxes`; no row means the enrolling
//! member's own mailbox), changing that choice (audited), and picking the
//! mailbox of an enrolment's first step by it (`domain::senders` holds the
//! rotation rule).

use chrono::{DateTime, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use crate::db::enrollments::Enrollment;
use crate::db::error::{DbError, DbResult};
use crate::db::schema::{
    mailbox_states, mailboxes, sequence_enrollments, sequence_mailboxes, sequence_senders,
};
use crate::db::sequences::{self, Sequence};
use crate::db::{audit, mailboxes as mailbox_rows, Tenant};
use crate::domain::senders::{self as rules, Candidate, SenderMode};
use crate::ids::{MailboxId, OrgId, SequenceId, UserId};

/// How a sequence sends in the tenant's organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Senders {
    pub mode: SenderMode,
    /// The mailboxes of the rotation (empty unless `mode` is `Mailboxes`).
    pub mailboxes: Vec<MailboxId>,
}

/// Why a choice of mailboxes was refused (nothing is changed).
pub const FOREIGN_MAILBOX: &str =
    "One of the chosen mailboxes is not a mailbox of this organization. Nothing was changed.";
pub const NONE_CHOSEN: &str =
    "Tick at least one mailbox for the rotation, or choose another way to send. Nothing was changed.";

/// How `seq` sends in the tenant's organization.
pub fn get(conn: &mut PgConnection, tenant: &Tenant, seq: &Sequence) -> QueryResult<Senders> {
    let mode = stored_mode(conn, tenant, seq.owner_key, seq.id, false)?;
    let mailboxes = scoped_sequence_mailboxes(tenant)
        .filter(sequence_mailboxes::sequence_owner_key.eq(seq.owner_key))
        .filter(sequence_mailboxes::sequence_id.eq(seq.id))
        .select(sequence_mailboxes::mailbox_id)
        .load(conn)?;
    Ok(Senders { mode, mailboxes })
}

/// The stored mode of a sequence (`enroller` without a row); `lock` takes
/// the row's lock for the rest of the transaction.
fn stored_mode(
    conn: &mut PgConnection,
    tenant: &Tenant,
    owner_key: Uuid,
    id: SequenceId,
    lock: bool,
) -> QueryResult<SenderMode> {
    let query = scoped_sequence_senders(tenant)
        .filter(sequence_senders::sequence_owner_key.eq(owner_key))
        .filter(sequence_senders::sequence_id.eq(id))
        .select(sequence_senders::mode);
    let stored: Option<String> = if lock {
        query.for_update().first(conn).optional()?
    } else {
        query.first(conn).optional()?
    };
    match stored {
        None => Ok(SenderMode::Enroller),
        Some(mode) => mode
            .parse()
            .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e))),
    }
}

#[derive(Insertable)]
#[diesel(table_name = sequence_senders)]
struct NewSenders {
    organization_id: OrgId,
    sequence_owner_key: Uuid,
    sequence_id: SequenceId,
    mode: &'static str,
    updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = sequence_mailboxes)]
struct NewSequenceMailbox {
    organization_id: OrgId,
    sequence_owner_key: Uuid,
    sequence_id: SequenceId,
    mailbox_id: MailboxId,
}

/// Sets how a visible sequence (own or global) sends in the tenant's
/// organization and records it in the audit log, in the caller's
/// transaction. A mailbox id that is not the tenant's is `Invalid`
/// (`FOREIGN_MAILBOX`) and changes nothing.
pub fn set(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: SequenceId,
    mode: SenderMode,
    chosen: &[MailboxId],
    now: DateTime<Utc>,
) -> DbResult<Sequence> {
    let seq = sequences::find(conn, tenant, id)?;
    let chosen = checked_choice(conn, tenant, mode, chosen)?;
    let before = get(conn, tenant, &seq)?;
    diesel::insert_into(sequence_senders::table)
        .values(NewSenders {
            organization_id: tenant.org_id(),
            sequence_owner_key: seq.owner_key,
            sequence_id: seq.id,
            mode: mode.as_str(),
            updated_at: now,
        })
        .on_conflict((
            sequence_senders::organization_id,
            sequence_senders::sequence_owner_key,
            sequence_senders::sequence_id,
        ))
        .do_update()
        .set((
            sequence_senders::mode.eq(mode.as_str()),
            sequence_senders::updated_at.eq(now),
        ))
        .execute(conn)?;
    replace_mailboxes(conn, tenant, &seq, &chosen)?;
    let after = Senders {
        mode,
        mailboxes: chosen,
    };
    audit_change(conn, tenant, &seq, &before, &after)?;
    Ok(seq)
}

/// The rotation's mailboxes, each checked to be the tenant's (none unless
/// the mode is `Mailboxes`, which needs at least one).
fn checked_choice(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mode: SenderMode,
    chosen: &[MailboxId],
) -> DbResult<Vec<MailboxId>> {
    if mode != SenderMode::Mailboxes {
        return Ok(Vec::new());
    }
    let mut ids = chosen.to_vec();
    ids.sort_by_key(|id| id.0);
    ids.dedup();
    if ids.is_empty() {
        return Err(DbError::invalid(NONE_CHOSEN));
    }
    for id in &ids {
        if mailbox_rows::find(conn, tenant, *id).optional()?.is_none() {
            return Err(DbError::invalid(FOREIGN_MAILBOX));
        }
    }
    Ok(ids)
}

fn replace_mailboxes(
    conn: &mut PgConnection,
    tenant: &Tenant,
    seq: &Sequence,
    chosen: &[MailboxId],
) -> QueryResult<()> {
    diesel::delete(
        scoped_sequence_mailboxes(tenant)
            .filter(sequence_mailboxes::sequence_owner_key.eq(seq.owner_key))
            .filter(sequence_mailboxes::sequence_id.eq(seq.id)),
    )
    .execute(conn)?;
    let rows: Vec<NewSequenceMailbox> = chosen
        .iter()
        .map(|id| NewSequenceMailbox {
            organization_id: tenant.org_id(),
            sequence_owner_key: seq.owner_key,
            sequence_id: seq.id,
            mailbox_id: *id,
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(sequence_mailboxes::table)
        .values(&rows)
        .execute(conn)?;
    Ok(())
}

/// `sequence.senders_changed`, with the mode and the mailboxes' addresses
/// before and after.
fn audit_change(
    conn: &mut PgConnection,
    tenant: &Tenant,
    seq: &Sequence,
    before: &Senders,
    after: &Senders,
) -> QueryResult<()> {
    let all = mailbox_rows::list(conn, tenant)?;
    let described = |s: &Senders| {
        let addresses: Vec<&str> = all
            .iter()
            .filter(|m| s.mailboxes.contains(&m.id))
            .map(|m| m.email.as_str())
            .collect();
        json!({ "mode": s.mode.as_str(), "mailboxes": addresses })
    };
    audit::record(
        conn,
        tenant,
        "sequence.senders_changed",
        &seq.name,
        Some(described(before)),
        Some(described(after)),
    )
}

/// The mailbox an enrolment's first step goes out from, by its sequence's
/// mode: the rotation's pick, or the lead owner's own mailbox; when that
/// gives none (no owner, no mailbox, every chosen one deleted), the
/// enroller's own mailbox; `None` is the platform server. The sequence's
/// sender row stays locked until the caller's transaction ends, so picks
/// of the rotation happen one at a time across instances.
pub fn first_step_mailbox(
    conn: &mut PgConnection,
    tenant: &Tenant,
    e: &Enrollment,
    lead_owner: Option<UserId>,
) -> QueryResult<Option<MailboxId>> {
    let mode = stored_mode(conn, tenant, e.sequence_owner_key, e.sequence_id, true)?;
    let picked = match (mode, lead_owner) {
        (SenderMode::Mailboxes, _) => rules::pick(&candidates(conn, tenant, e)?),
        (SenderMode::LeadOwner, Some(owner)) => mailbox_rows::own_mailbox(conn, tenant, owner)?,
        _ => None,
    };
    match (picked, e.enrolled_by) {
        (Some(mailbox), _) => Ok(Some(mailbox)),
        (None, Some(enroller)) => mailbox_rows::own_mailbox(conn, tenant, enroller),
        (None, None) => Ok(None),
    }
}

/// The rotation's mailboxes with their status and how many running
/// enrolments of the sequence each already sends for.
fn candidates(
    conn: &mut PgConnection,
    tenant: &Tenant,
    e: &Enrollment,
) -> QueryResult<Vec<Candidate>> {
    let chosen: Vec<(MailboxId, String, String)> = scoped_sequence_mailboxes(tenant)
        .inner_join(
            mailboxes::table.on(mailboxes::organization_id
                .eq(sequence_mailboxes::organization_id)
                .and(mailboxes::id.eq(sequence_mailboxes::mailbox_id))),
        )
        .inner_join(
            mailbox_states::table.on(mailbox_states::organization_id
                .eq(sequence_mailboxes::organization_id)
                .and(mailbox_states::mailbox_id.eq(sequence_mailboxes::mailbox_id))),
        )
        .filter(sequence_mailboxes::sequence_owner_key.eq(e.sequence_owner_key))
        .filter(sequence_mailboxes::sequence_id.eq(e.sequence_id))
        .select((
            sequence_mailboxes::mailbox_id,
            mailboxes::email,
            mailbox_states::status,
        ))
        .load(conn)?;
    let loads: Vec<(Option<MailboxId>, i64)> = scoped_sequence_enrollments(tenant)
        .filter(sequence_enrollments::sequence_owner_key.eq(e.sequence_owner_key))
        .filter(sequence_enrollments::sequence_id.eq(e.sequence_id))
        .filter(sequence_enrollments::status.eq_any(["active", "paused"]))
        .filter(sequence_enrollments::mailbox_id.is_not_null())
        .group_by(sequence_enrollments::mailbox_id)
        .select((sequence_enrollments::mailbox_id, diesel::dsl::count_star()))
        .load(conn)?;
    let load_of = |id: MailboxId| {
        loads
            .iter()
            .find(|(m, _)| *m == Some(id))
            .map_or(0, |(_, n)| *n)
    };
    Ok(chosen
        .into_iter()
        .map(|(id, email, status)| Candidate {
            id,
            email,
            active: status == "active",
            load: load_of(id),
        })
        .collect())
}

/// Every `sequence_senders` query of a tenant starts here.
fn scoped_sequence_senders(
    tenant: &Tenant,
) -> Filter<sequence_senders::table, Eq<sequence_senders::organization_id, OrgId>> {
    sequence_senders::table.filter(sequence_senders::organization_id.eq(tenant.org_id()))
}

/// Every `sequence_mailboxes` query of a tenant starts here.
fn scoped_sequence_mailboxes(
    tenant: &Tenant,
) -> Filter<sequence_mailboxes::table, Eq<sequence_mailboxes::organization_id, OrgId>> {
    sequence_mailboxes::table.filter(sequence_mailboxes::organization_id.eq(tenant.org_id()))
}

/// Every `sequence_enrollments` query of this module starts here.
fn scoped_sequence_enrollments(
    tenant: &Tenant,
) -> Filter<sequence_enrollments::table, Eq<sequence_enrollments::organization_id, OrgId>> {
    sequence_enrollments::table.filter(sequence_enrollments::organization_id.eq(tenant.org_id()))
}
