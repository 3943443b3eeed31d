//! The organization's sender mailboxes: their settings and sealed passwords
//! (`mailboxes`), and their state at work — health, pacing, inbox position
//! (`mailbox_states`, one row per mailbox, written with it). Passwords are
//! stored only sealed (`mailboxes::secrets`); opening them needs the mailbox
//! key, which this module never holds.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;

use crate::db::schema::{mailbox_states, mailboxes, organizations};
use crate::db::Tenant;
use crate::domain::pacing::{Booked, Pacing};
use crate::domain::settings::TimeZone;
use crate::ids::{MailboxId, MessageId, OrgId, UserId};

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

/// A mailbox's settings as edited: everything but its address. A password
/// left `None` keeps the stored one (diesel skips `None` in a changeset).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = mailboxes)]
pub struct Settings {
    pub display_name: String,
    pub smtp_host: String,
    pub smtp_port: i32,
    pub smtp_security: String,
    pub smtp_username: String,
    pub smtp_password: Option<Vec<u8>>,
    pub imap_host: String,
    pub imap_port: i32,
    pub imap_security: String,
    pub imap_username: String,
    pub imap_password: Option<Vec<u8>>,
    pub imap_folder: String,
    pub daily_cap: i32,
    pub min_gap_seconds: i32,
    pub send_days: i32,
    pub window_start_minute: i32,
    pub window_end_minute: i32,
    pub updated_at: DateTime<Utc>,
}

/// Stores edited settings of one of the tenant's mailboxes; another
/// organization's id is `NotFound`.
pub fn update_settings(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MailboxId,
    settings: &Settings,
) -> QueryResult<Mailbox> {
    diesel::update(scoped_mailboxes(tenant).filter(mailboxes::id.eq(id)))
        .set(settings)
        .returning(Mailbox::as_returning())
        .get_result(conn)
}

/// The inbox is read again from its first message, at once: its server,
/// login or folder changed, so the remembered position belongs to another
/// folder (messages already kept are recognised and not kept twice).
pub fn restart_inbox(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MailboxId,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(scoped_mailbox_states(tenant).filter(mailbox_states::mailbox_id.eq(id)))
        .set((
            mailbox_states::imap_uid_validity.eq(None::<i64>),
            mailbox_states::imap_last_uid.eq(0),
            mailbox_states::next_poll_at.eq(now),
        ))
        .execute(conn)
}

/// The state row a new mailbox starts with.
#[derive(Insertable)]
#[diesel(table_name = mailbox_states)]
struct NewMailboxState {
    organization_id: OrgId,
    mailbox_id: MailboxId,
    next_poll_at: DateTime<Utc>,
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
        .values(NewMailboxState {
            organization_id: tenant.org_id(),
            mailbox_id: mailbox.id,
            next_poll_at: new.created_at,
        })
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

/// The host name of a mailbox that has no server: the demo's. Names under
/// `.invalid` never resolve (RFC 6761), so no mailbox connected through the
/// form (whose logins are checked) can have it.
pub const NO_SERVER_HOST: &str = "no-server.invalid";

impl Mailbox {
    /// A mailbox without a server (the demo's): never read, never sent
    /// from, never resumed.
    pub fn has_no_server(&self) -> bool {
        self.smtp_host == NO_SERVER_HOST || self.imap_host == NO_SERVER_HOST
    }

    /// The pacing settings of this mailbox.
    pub fn pacing(&self) -> Pacing {
        let positive = |v: i32| u32::try_from(v).unwrap_or(0);
        Pacing {
            daily_cap: positive(self.daily_cap),
            min_gap_seconds: positive(self.min_gap_seconds),
            jitter_percent: positive(self.gap_jitter_percent),
            send_days: u8::try_from(self.send_days & 0x7f).unwrap_or(0),
            window_start_minute: positive(self.window_start_minute),
            window_end_minute: positive(self.window_end_minute),
        }
    }
}

/// The first mailbox (by address) that `user` owns in the tenant's
/// organization: where their messages go out from by default.
pub fn own_mailbox(
    conn: &mut PgConnection,
    tenant: &Tenant,
    user: UserId,
) -> QueryResult<Option<MailboxId>> {
    scoped_mailboxes(tenant)
        .filter(mailboxes::owner_user_id.eq(user))
        .order(mailboxes::email.asc())
        .select(mailboxes::id)
        .first(conn)
        .optional()
}

/// Status, next free moment, booked day and count, as stored.
type BookingRow = (String, Option<DateTime<Utc>>, Option<NaiveDate>, i32);

/// Locks a mailbox's state row (`FOR UPDATE`) and reads what it has
/// booked: concurrent senders of one mailbox queue here, so its daily cap
/// and gap hold across instances. `None` when the mailbox is gone.
pub fn lock_booking(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MailboxId,
) -> QueryResult<Option<(String, Booked)>> {
    read_booking(conn, tenant, id, true)
}

/// A mailbox's status and what it has booked, without a lock (for showing
/// when its next send may go). `None` when the mailbox is gone.
pub fn booking(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MailboxId,
) -> QueryResult<Option<(String, Booked)>> {
    read_booking(conn, tenant, id, false)
}

fn read_booking(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MailboxId,
    lock: bool,
) -> QueryResult<Option<(String, Booked)>> {
    let query = scoped_mailbox_states(tenant)
        .filter(mailbox_states::mailbox_id.eq(id))
        .select((
            mailbox_states::status,
            mailbox_states::next_send_at,
            mailbox_states::booked_day,
            mailbox_states::booked_count,
        ));
    let row: Option<BookingRow> = if lock {
        query.for_update().first(conn).optional()?
    } else {
        query.first(conn).optional()?
    };
    Ok(row.map(|(status, next_free, last_day, count)| {
        let booked = Booked {
            next_free,
            last_day,
            count_on_last_day: u32::try_from(count).unwrap_or(0),
        };
        (status, booked)
    }))
}

/// Stores a booking made under `lock_booking`'s lock; `sent_at` is the
/// slot just taken.
pub fn store_booking(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MailboxId,
    booked: &Booked,
    sent_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(scoped_mailbox_states(tenant).filter(mailbox_states::mailbox_id.eq(id)))
        .set((
            mailbox_states::next_send_at.eq(booked.next_free),
            mailbox_states::booked_day.eq(booked.last_day),
            mailbox_states::booked_count
                .eq(i32::try_from(booked.count_on_last_day).unwrap_or(i32::MAX)),
            mailbox_states::last_send_at.eq(Some(sent_at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The time zone a message to a lead is paced in: the lead's when it has a
/// valid one, else the organization's.
pub fn pacing_zone(
    conn: &mut PgConnection,
    tenant: &Tenant,
    message: Option<MessageId>,
) -> QueryResult<chrono_tz::Tz> {
    let lead_zone = match message {
        Some(id) => crate::db::messages::lead_time_zone(conn, tenant, id)?,
        None => None,
    };
    if let Some(zone) = lead_zone.and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        return Ok(zone);
    }
    let zone: TimeZone = organizations::table
        .find(tenant.org_id())
        .select(organizations::time_zone)
        .first(conn)?;
    Ok(zone.tz())
}

/// Whether the tenant's organization has connected any mailbox (without one
/// replies cannot be read, and the pages say so).
pub fn any(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(scoped_mailboxes(tenant))).get_result(conn)
}

/// Locks the tenant's organization row (`FOR UPDATE`) for the rest of the
/// transaction: concurrent connects of one organization queue here, so the
/// mailbox count they check cannot be passed by two at once.
pub fn lock_organization(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<()> {
    organizations::table
        .find(tenant.org_id())
        .select(organizations::id)
        .for_update()
        .first::<OrgId>(conn)?;
    Ok(())
}

/// How many mailboxes the tenant's organization has connected.
pub fn count(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<i64> {
    scoped_mailboxes(tenant).count().get_result(conn)
}

/// Sets a mailbox's daily cap (a new mailbox is stored with the default).
pub fn set_daily_cap(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MailboxId,
    daily_cap: i32,
) -> QueryResult<usize> {
    diesel::update(scoped_mailboxes(tenant).filter(mailboxes::id.eq(id)))
        .set(mailboxes::daily_cap.eq(daily_cap))
        .execute(conn)
}

/// The day a mailbox last booked sends and how many it booked that day.
pub fn booked_day(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MailboxId,
) -> QueryResult<(Option<NaiveDate>, i32)> {
    scoped_mailbox_states(tenant)
        .filter(mailbox_states::mailbox_id.eq(id))
        .select((mailbox_states::booked_day, mailbox_states::booked_count))
        .first(conn)
}

/// Deletes one of the tenant's mailboxes with its state and read inbox
/// (messages sent from it keep their history, without the mailbox).
/// Another organization's id is `NotFound`.
pub fn delete(conn: &mut PgConnection, tenant: &Tenant, id: MailboxId) -> QueryResult<usize> {
    let n = diesel::delete(scoped_mailboxes(tenant).filter(mailboxes::id.eq(id))).execute(conn)?;
    if n == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    Ok(n)
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
