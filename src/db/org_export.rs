//! Organization export archives: the request (one queued or running export
//! per organization, held by a unique partial index), the job's claim and
//! outcome, and the rows the archive holds, read a keyset batch at a time.
//! Each archive file is one `Section`: a query over one table of the
//! organization, its rows as JSON documents without any secret column.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Uuid as SqlUuid};
use serde_json::json;
use uuid::Uuid;

use crate::db::error::{DbError, DbResult};
use crate::db::job_claim::{self, JobTable};
use crate::db::schema::{org_exports, organizations, users};
use crate::db::{audit, unique_violation, Tenant};
use crate::ids::{OrgId, UserId};

/// How long a finished archive can be downloaded.
pub const KEEP_DAYS: i64 = 7;

/// A running export whose worker has been silent this long is taken again
/// (its instance stopped mid-way).
pub const STALE_AFTER_MINUTES: i64 = 60;

/// Exports an organization may request in any 24 hours: each one reads every
/// row of the organization.
pub const PER_DAY: i64 = 3;

/// Shown when an export is requested while one is queued or running.
pub const ALREADY_PREPARING: &str =
    "An export is already being prepared. You will get a notice and an email when it is ready.";

/// Columns never written to an archive, whatever table they appear in.
pub const SECRET_COLUMNS: [&str; 13] = [
    "previous_secret",
    // Salted address hashes and their salt: of no use outside, and together
    // they would let anyone check whether an address is on the list.
    "email_hash",
    "suppression_salt",
    "token_hash",
    "key_hash",
    "password_hash",
    "request_hash",
    "secret",
    "secret_hash",
    "csrf_token",
    "logo_data",
    // Mailbox passwords, even sealed, never leave the database.
    "smtp_password",
    "imap_password",
];

/// An export as the settings page and the download show it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = org_exports)]
pub struct OrgExport {
    pub id: Uuid,
    pub status: String,
    pub file_path: Option<String>,
    pub file_bytes: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl OrgExport {
    /// Ready, and its file not yet expired.
    pub fn downloadable(&self, now: DateTime<Utc>) -> bool {
        self.status == "ready"
            && self.file_path.is_some()
            && self.expires_at.is_some_and(|at| at > now)
    }
}

#[derive(Insertable)]
#[diesel(table_name = org_exports)]
struct NewOrgExport {
    organization_id: OrgId,
    id: Uuid,
    requested_by: Option<UserId>,
    created_at: DateTime<Utc>,
}

/// Queues an export for the acting user (audited); Conflict while another is
/// queued or running.
pub fn request(conn: &mut PgConnection, tenant: &Tenant, now: DateTime<Utc>) -> DbResult<Uuid> {
    conn.transaction(|conn| {
        refuse_beyond_daily_limit(conn, tenant, now)?;
        let id = Uuid::now_v7();
        let row = NewOrgExport {
            organization_id: tenant.org_id(),
            id,
            requested_by: tenant.user_id(),
            created_at: now,
        };
        let inserted = diesel::insert_into(org_exports::table)
            .values(row)
            .execute(conn);
        if unique_violation(inserted)?.is_none() {
            return Err(DbError::conflict(ALREADY_PREPARING));
        }
        let after = json!({ "id": id });
        audit::record(
            conn,
            tenant,
            "export.requested",
            &id.to_string(),
            None,
            Some(after),
        )?;
        Ok(id)
    })
}

/// Conflict once `PER_DAY` exports were requested in the last 24 hours,
/// naming when the next one may be.
fn refuse_beyond_daily_limit(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let recent: Vec<DateTime<Utc>> = scoped_org_exports(tenant)
        .filter(org_exports::created_at.gt(now - Duration::days(1)))
        .order(org_exports::created_at.desc())
        .select(org_exports::created_at)
        .limit(PER_DAY)
        .load(conn)?;
    match recent.get(usize::try_from(PER_DAY - 1).unwrap_or(0)) {
        Some(oldest) => Err(DbError::conflict(format!(
            "An organization can request {PER_DAY} exports a day. The next one can be \
             requested after {} UTC.",
            (*oldest + Duration::days(1)).format("%Y-%m-%d %H:%M")
        ))),
        None => Ok(()),
    }
}

/// The tenant's newest export, if any.
pub fn latest(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Option<OrgExport>> {
    scoped_org_exports(tenant)
        .order((org_exports::created_at.desc(), org_exports::id.desc()))
        .select(OrgExport::as_select())
        .first(conn)
        .optional()
}

/// One export of the tenant; NotFound for another organization's id.
pub fn find(conn: &mut PgConnection, tenant: &Tenant, id: Uuid) -> QueryResult<OrgExport> {
    scoped_org_exports(tenant)
        .filter(org_exports::id.eq(id))
        .select(OrgExport::as_select())
        .first(conn)
}

/// An export the job took: whose, and who asked.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub organization_id: OrgId,
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub requested_by: Option<UserId>,
}

/// The exports table as the shared claim reads it.
const JOBS: JobTable = JobTable {
    table: "org_exports",
    returning: &["organization_id", "id", "requested_by"],
    stale_after: Duration::minutes(STALE_AFTER_MINUTES),
};

/// Housekeeping for every organization (a job): marks the oldest queued (or
/// stale running) export running and returns it.
pub fn claim(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Option<Claimed>> {
    job_claim::claim(conn, &JOBS, now)
}

/// Records the written archive; it can be downloaded for `KEEP_DAYS`.
pub fn finish(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: Uuid,
    path: &str,
    bytes: i64,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(scoped_org_exports(tenant).filter(org_exports::id.eq(id)))
        .set((
            org_exports::status.eq("ready"),
            org_exports::file_path.eq(path),
            org_exports::file_bytes.eq(bytes),
            org_exports::finished_at.eq(now),
            org_exports::expires_at.eq(now + Duration::days(KEEP_DAYS)),
        ))
        .execute(conn)
}

/// Records that the archive could not be written (the reason is for operators).
pub fn fail(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: Uuid,
    error: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(scoped_org_exports(tenant).filter(org_exports::id.eq(id)))
        .set((
            org_exports::status.eq("failed"),
            org_exports::error.eq(error),
            org_exports::finished_at.eq(now),
        ))
        .execute(conn)
}

/// The email of the user who asked for an export, if the account still exists.
pub fn requester_email(conn: &mut PgConnection, user: UserId) -> QueryResult<Option<String>> {
    users::table
        .find(user)
        .select(users::email)
        .first(conn)
        .optional()
}

/// An export whose file has expired.
#[derive(Debug, Clone, Queryable)]
pub struct ExpiredFile {
    pub organization_id: OrgId,
    pub id: Uuid,
    pub path: Option<String>,
}

/// Housekeeping for every organization (a job): exports whose file has
/// expired. The caller deletes each file, then `forget_file`s it.
pub fn expired_files(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Vec<ExpiredFile>> {
    org_exports::table
        .filter(org_exports::file_path.is_not_null())
        .filter(org_exports::expires_at.le(now))
        .select((
            org_exports::organization_id,
            org_exports::id,
            org_exports::file_path,
        ))
        .load(conn)
}

/// Housekeeping for every organization (a job): the archive files of the
/// organizations whose deletion date has come. The erasure job deletes them
/// before it erases the rows that name them, so no file outlives its
/// organization.
pub fn files_due_for_erasure(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> QueryResult<Vec<String>> {
    let due = organizations::table
        .filter(organizations::deletion_scheduled_at.le(now))
        .select(organizations::id);
    org_exports::table
        .filter(org_exports::organization_id.eq_any(due))
        .filter(org_exports::file_path.is_not_null())
        .select(org_exports::file_path.assume_not_null())
        .load(conn)
}

/// The export's file is gone (deleted by the job after expiry).
pub fn forget_file(conn: &mut PgConnection, tenant: &Tenant, id: Uuid) -> QueryResult<usize> {
    diesel::update(scoped_org_exports(tenant).filter(org_exports::id.eq(id)))
        .set(org_exports::file_path.eq(None::<String>))
        .execute(conn)
}

/// One file of the archive: one table of the organization.
pub struct Section {
    /// File name in the archive.
    pub file: &'static str,
    /// What the README says about it.
    pub about: &'static str,
    /// The rows, aliased `t`.
    from: &'static str,
    /// The column that names the organization.
    org: &'static str,
    /// The keyset column and its SQL type.
    key: &'static str,
    key_type: Key,
}

#[derive(Clone, Copy)]
enum Key {
    Uuid,
    Int8,
    Text,
}

impl Key {
    fn sql(self) -> &'static str {
        match self {
            Key::Uuid => "uuid",
            Key::Int8 => "int8",
            Key::Text => "text",
        }
    }

    /// A value below every key.
    fn start(self) -> &'static str {
        match self {
            Key::Uuid => "00000000-0000-0000-0000-000000000000",
            Key::Int8 => "-9223372036854775808",
            Key::Text => "",
        }
    }
}

const fn section(
    file: &'static str,
    about: &'static str,
    from: &'static str,
    key: &'static str,
    key_type: Key,
) -> Section {
    Section {
        file,
        about,
        from,
        org: "t.organization_id",
        key,
        key_type,
    }
}

/// Every JSON file of the archive, in the order they are written.
pub const SECTIONS: [Section; 21] = [
    Section {
        file: "organization.json",
        about: "the organization: name, slug, time zone, brand and billing details (the logo image is not included)",
        from: "organizations t",
        org: "t.id",
        key: "t.id",
        key_type: Key::Uuid,
    },
    section("subscription.json", "the plan and its billing state", "subscriptions t", "t.organization_id", Key::Uuid),
    section(
        "members.json",
        "members with their role, permissions, name and email",
        "(SELECT m.*, u.email, u.name FROM organization_members m JOIN users u ON u.id = m.user_id) t",
        "t.user_id",
        Key::Uuid,
    ),
    section("invitations.json", "invitations (without their tokens)", "invitations t", "t.id", Key::Uuid),
    section("leads.json", "every lead with all its fields", "leads t", "t.id", Key::Uuid),
    section(
        "lead_status_history.json",
        "every status change of those leads: who, from, to, when (creation is the change from none)",
        "lead_status_changes t",
        "t.id",
        Key::Uuid,
    ),
    section(
        "lead_edits.json",
        "every edit of those leads' fields: who, when, each field's value before and after",
        "lead_edits t",
        "t.id",
        Key::Uuid,
    ),
    section("templates.json", "the organization's message templates", "message_templates t", "t.id", Key::Uuid),
    section("sequences.json", "the organization's sequences", "sequences t", "t.id", Key::Uuid),
    section("sequence_steps.json", "the steps of those sequences", "sequence_steps t", "t.id", Key::Uuid),
    section("enrollments.json", "leads enrolled in sequences", "sequence_enrollments t", "t.id", Key::Uuid),
    section("messages.json", "every message sent or attempted, with its text", "messages t", "t.id", Key::Uuid),
    section(
        "replies.json",
        "what came back into the mailboxes: replies, auto-replies and bounce reports, with their text",
        "inbound_messages t",
        "t.id",
        Key::Uuid,
    ),
    section(
        "mailboxes.json",
        "sender mailboxes: address, servers, user names, pacing (never the passwords)",
        "mailboxes t",
        "t.id",
        Key::Uuid,
    ),
    section(
        "usage_counters.json",
        "usage counted per day and month (leads created, messages sent, API calls)",
        "usage_counters t",
        "(t.kind || '|' || t.period || '|' || t.period_start::text)",
        Key::Text,
    ),
    section("invoices.json", "invoices", "invoices t", "t.id", Key::Uuid),
    section("invoice_lines.json", "the lines of those invoices", "invoice_lines t", "t.id", Key::Uuid),
    section("audit_log.json", "the audit log: who did what, when", "audit_events t", "t.id", Key::Int8),
    section("api_keys.json", "API keys: name, prefix, scope, dates (never the key itself)", "api_keys t", "t.id", Key::Uuid),
    section(
        "webhook_endpoints.json",
        "webhook endpoints: URL, description, event types, state (never the signing secrets)",
        "webhook_endpoints t",
        "t.id",
        Key::Uuid,
    ),
    section(
        "suppressions.json",
        "the suppression list: why each address is on it and its masked hint (the salted hashes themselves are left out)",
        "suppressions t",
        "t.id",
        Key::Uuid,
    ),
];

/// One row of a section: its keyset key and its JSON document.
#[derive(Debug, Clone, QueryableByName)]
pub struct Doc {
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = Text)]
    pub json: String,
}

/// Where a section's first batch starts.
pub fn first_key(section: &Section) -> String {
    section.key_type.start().to_string()
}

/// Up to `limit` rows of the tenant in `section` after `after`, in key order,
/// each without the secret columns.
pub fn batch(
    conn: &mut PgConnection,
    tenant: &Tenant,
    section: &Section,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<Doc>> {
    let (from, org, key) = (section.from, section.org, section.key);
    let ty = section.key_type.sql();
    diesel::sql_query(format!(
        "SELECT ({key})::text AS key, (to_jsonb(t) - $4::text[])::text AS json
         FROM {from} WHERE {org} = $1 AND {key} > $2::{ty} ORDER BY {key} LIMIT $3"
    ))
    .bind::<SqlUuid, _>(tenant.org_id())
    .bind::<Text, _>(after)
    .bind::<BigInt, _>(limit)
    .bind::<Array<Text>, _>(SECRET_COLUMNS.to_vec())
    .load(conn)
}

/// Every `org_exports` query of a tenant starts here.
fn scoped_org_exports(
    tenant: &Tenant,
) -> Filter<org_exports::table, Eq<org_exports::organization_id, OrgId>> {
    org_exports::table.filter(org_exports::organization_id.eq(tenant.org_id()))
}
