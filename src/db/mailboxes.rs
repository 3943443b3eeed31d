//! The organization's sender mailboxes: their settings and sealed passwords
//! (`mailboxes`), and their state at work — health, pacing, inbox position
//! (`mailbox_states`, one row per mailbox, written with it). Passwords are
//! stored only sealed (`mailboxes::secrets`); opening them needs the mailbox
//! key, which this module never holds.

use chrono::{DateTime, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;

use crate::db::schema::{mailbox_states, mailboxes};
use crate::db::Tenant;
use crate::ids::{MailboxId, OrgId, UserId};

/// A mailbox row as stored (passwords sealed).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mailboxes)]
pub struct Mailbox {
    pub organization_id: OrgId,
    pub id: MailboxId,
    pub owner_user_id: Option<UserId>,
    pub display_name: String,
    pub email: String,
    pub smtp_host: String,
    pub smtp_port: i32,
    pub smtp_security: String,
    pub smtp_username: String,
    pub smtp_password: Vec<u8>,
    pub imap_host: String,
    pub imap_port: i32,
    pub imap_security: String,
    pub imap_username: String,
    pub imap_password: Vec<u8>,
    pub imap_folder: String,
    pub daily_cap: i32,
    pub min_gap_seconds: i32,
    pub gap_jitter_percent: i32,
    pub send_days: i32,
    pub window_start_minute: i32,
    pub window_end_minute: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A mailbox's state at work: health, pacing and how far its inbox is read.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mailbox_states)]
pub struct MailboxState {
    pub mailbox_id: MailboxId,
    /// `active`, `needs_attention` (a login failed) or `paused` (bounce rate).
    pub status: String,
    pub status_reason: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// The earliest moment the next send may go.
    pub next_send_at: Option<DateTime<Utc>>,
    pub last_send_at: Option<DateTime<Utc>>,
    pub imap_uid_validity: Option<i64>,
    pub imap_last_uid: i64,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub next_poll_at: DateTime<Utc>,
}

/// The authenticated context a sealed password belongs to: its mailbox and
/// which of the two servers it is for.
pub fn password_context(id: MailboxId, server: &str) -> Vec<u8> {
    format!("mailbox:{id}:{server}").into_bytes()
}

/// A new mailbox of the tenant's organization, passwords already sealed
/// with `password_context(id, "smtp" | "imap")`.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mailboxes)]
pub struct NewMailbox {
    pub organization_id: OrgId,
    pub id: MailboxId,
    pub owner_user_id: Option<UserId>,
    pub display_name: String,
    pub email: String,
    pub smtp_host: String,
    pub smtp_port: i32,
    pub smtp_security: String,
    pub smtp_username: String,
    pub smtp_password: Vec<u8>,
    pub imap_host: String,
    pub imap_port: i32,
    pub imap_security: String,
    pub imap_username: String,
    pub imap_password: Vec<u8>,
    pub imap_folder: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Stores a new mailbox of the tenant (its `organization_id` is the
/// tenant's) with its state row, due for its first inbox poll at once.
pub fn insert(conn: &mut PgConnection, tenant: &Tenant, new: NewMailbox) -> QueryResult<Mailbox> {
    let new = NewMailbox {
        organization_id: tenant.org_id(),
        ..new
    };
    let mailbox = diesel::insert_into(mailboxes::table)
        .values(&new)
        .returning(Mailbox::as_returning())
        .get_result(conn)?;
    diesel::insert_into(mailbox_states::table)
        .values((
            mailbox_states::organization_id.eq(tenant.org_id()),
            mailbox_states::mailbox_id.eq(mailbox.id),
            mailbox_states::next_poll_at.eq(new.created_at),
        ))
        .execute(conn)?;
    Ok(mailbox)
}

/// The state of one of the tenant's mailboxes.
pub fn state(conn: &mut PgConnection, tenant: &Tenant, id: MailboxId) -> QueryResult<MailboxState> {
    scoped_mailbox_states(tenant)
        .filter(mailbox_states::mailbox_id.eq(id))
        .select(MailboxState::as_select())
        .first(conn)
}

/// One mailbox of the tenant; another organization's id is `NotFound`.
pub fn find(conn: &mut PgConnection, tenant: &Tenant, id: MailboxId) -> QueryResult<Mailbox> {
    scoped_mailboxes(tenant)
        .filter(mailboxes::id.eq(id))
        .select(Mailbox::as_select())
        .first(conn)
}

/// The tenant's mailboxes, by address.
pub fn list(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<Mailbox>> {
    scoped_mailboxes(tenant)
        .order(mailboxes::email.asc())
        .select(Mailbox::as_select())
        .load(conn)
}

/// Every `mailbox_states` query of a tenant starts here.
fn scoped_mailbox_states(
    tenant: &Tenant,
) -> Filter<mailbox_states::table, Eq<mailbox_states::organization_id, OrgId>> {
    mailbox_states::table.filter(mailbox_states::organization_id.eq(tenant.org_id()))
}

/// Every `mailboxes` query of a tenant starts here.
fn scoped_mailboxes(
    tenant: &Tenant,
) -> Filter<mailboxes::table, Eq<mailboxes::organization_id, OrgId>> {
    mailboxes::table.filter(mailboxes::organization_id.eq(tenant.org_id()))
}

/// The mailbox a claim returned: its organization and id.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct Due {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub organization_id: OrgId,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub mailbox_id: MailboxId,
}

/// Housekeeping for every organization (the inbox job): the mailbox whose
/// inbox has waited longest (`next_poll_at` ≤ `now`), whatever its
/// organization, is given its next turn at `next` and returned. SKIP
/// LOCKED lets instances claim different mailboxes; the caller commits
/// before talking to the server.
pub fn claim_due_poll(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    next: DateTime<Utc>,
) -> QueryResult<Option<Due>> {
    diesel::sql_query(
        "UPDATE mailbox_states s SET next_poll_at = $2, last_poll_at = $1
         WHERE (s.organization_id, s.mailbox_id) = (
             SELECT organization_id, mailbox_id FROM mailbox_states
             WHERE next_poll_at <= $1
             ORDER BY next_poll_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING s.organization_id, s.mailbox_id",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::Timestamptz, _>(next)
    .get_result(conn)
    .optional()
}

/// Where the inbox of `id` has been read to (UIDVALIDITY and last UID).
pub fn set_inbox_position(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MailboxId,
    uid_validity: i64,
    last_uid: i64,
) -> QueryResult<usize> {
    diesel::update(scoped_mailbox_states(tenant).filter(mailbox_states::mailbox_id.eq(id)))
        .set((
            mailbox_states::imap_uid_validity.eq(Some(uid_validity)),
            mailbox_states::imap_last_uid.eq(last_uid),
        ))
        .execute(conn)
}
