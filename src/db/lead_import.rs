//! CSV imports. The uploaded file is kept between the preview and the
//! import: one row per upload, scoped to the organization, expiring after an
//! hour (expired rows are removed by a job, and on the next upload). The
//! import counts every lead and stops at the monthly limit.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::error::{DbError, DbResult};
use crate::db::schema::lead_imports;
use crate::db::usage::{self, UsageKind};
use crate::db::{leads, unique_violation, Tenant};
use crate::domain::lead_import::Row;
use crate::domain::leads::LeadFields;
use crate::ids::{LeadId, OrgId, UserId};

/// How long an upload waits for its import.
pub const KEEP_FOR_MINUTES: i64 = 60;

/// An upload waiting for its import.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead_imports)]
pub struct Upload {
    pub id: Uuid,
    pub filename: String,
    pub content: Vec<u8>,
}

/// Stores an upload (and drops expired ones); returns its id.
pub fn store(
    conn: &mut PgConnection,
    tenant: &Tenant,
    filename: &str,
    content: &[u8],
    now: DateTime<Utc>,
) -> QueryResult<Uuid> {
    diesel::delete(scoped_lead_imports(tenant).filter(lead_imports::expires_at.lt(now)))
        .execute(conn)?;
    let id = Uuid::new_v4();
    diesel::insert_into(lead_imports::table)
        .values(NewLeadImport {
            organization_id: tenant.org_id(),
            id,
            created_by: tenant.user_id(),
            filename,
            content,
            expires_at: now + Duration::minutes(KEEP_FOR_MINUTES),
        })
        .execute(conn)?;
    Ok(id)
}

/// An upload as stored: the tenant's organization, by the acting user.
#[derive(Insertable)]
#[diesel(table_name = lead_imports)]
struct NewLeadImport<'a> {
    organization_id: OrgId,
    id: Uuid,
    created_by: Option<UserId>,
    filename: &'a str,
    content: &'a [u8],
    expires_at: DateTime<Utc>,
}

/// Housekeeping for every organization: removes expired uploads (a job).
pub fn purge_expired(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(lead_imports::table.filter(lead_imports::expires_at.lt(now))).execute(conn)
}

/// A live upload of the tenant; NotFound when expired or foreign.
pub fn find(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Upload> {
    scoped_lead_imports(tenant)
        .filter(lead_imports::id.eq(id))
        .filter(lead_imports::expires_at.gt(now))
        .select(Upload::as_select())
        .first(conn)
}

/// Removes an upload once imported, and locks it first so that two
/// concurrent imports of the same file cannot both run: the second finds nothing.
pub fn take(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Upload> {
    let upload = scoped_lead_imports(tenant)
        .filter(lead_imports::id.eq(id))
        .filter(lead_imports::expires_at.gt(now))
        .select(Upload::as_select())
        .for_update()
        .first(conn)?;
    diesel::delete(scoped_lead_imports(tenant).filter(lead_imports::id.eq(id))).execute(conn)?;
    Ok(upload)
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub imported: usize,
    /// Valid rows not imported because the monthly limit was reached.
    pub left: usize,
    /// (line, reason) of every skipped row, in file order.
    pub problems: Vec<(u64, String)>,
}

/// Marks rows whose email already belongs to a lead of the organization,
/// then rows whose address is on the suppression list.
pub fn mark_existing(
    conn: &mut PgConnection,
    tenant: &Tenant,
    rows: &mut [Row],
) -> QueryResult<()> {
    let emails: Vec<String> = rows
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok().map(|l| l.email.clone()))
        .collect();
    let existing: HashSet<String> = leads::existing_emails(conn, tenant, &emails)?
        .into_iter()
        .collect();
    for row in rows.iter_mut() {
        if row
            .outcome
            .as_ref()
            .is_ok_and(|l| existing.contains(&l.email))
        {
            row.outcome = Err("already a lead in your organization.".into());
        }
    }
    crate::db::suppression::mark_suppressed(conn, tenant, rows)
}

/// Imports the valid rows, counting each lead (`lead_created`) until the
/// monthly limit; the rest are reported as left. Run inside a transaction.
pub fn import(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mut rows: Vec<Row>,
    now: DateTime<Utc>,
) -> DbResult<ImportReport> {
    mark_existing(conn, tenant, &mut rows)?;
    let mut report = ImportReport::default();
    let mut good: Vec<(LeadId, LeadFields)> = Vec::new();
    for row in rows {
        match row.outcome {
            Ok(lead) => good.push((LeadId::new(), lead)),
            Err(reason) => report.problems.push((row.line, reason)),
        }
    }
    let ids: Vec<Uuid> = good.iter().map(|(id, _)| id.uuid()).collect();
    let granted = usage::consume_up_to(conn, tenant, UsageKind::LeadCreated, &ids, now)?;
    report.left = good.len() - granted;
    good.truncate(granted);
    let inserted = conn.transaction(|conn| leads::insert_counted(conn, tenant, &good, now));
    report.imported = unique_violation(inserted)?.ok_or_else(|| {
        DbError::Conflict(
            "A lead with one of these emails was added while the file was imported. Nothing was imported; please try again.".into(),
        )
    })?;
    Ok(report)
}

/// Every `lead_imports` query of a tenant starts here.
fn scoped_lead_imports(
    tenant: &Tenant,
) -> Filter<lead_imports::table, Eq<lead_imports::organization_id, OrgId>> {
    lead_imports::table.filter(scoped_lead_imports_rows(tenant))
}

/// The condition every `lead_imports` row of a tenant meets (for joined queries).
fn scoped_lead_imports_rows(tenant: &Tenant) -> Eq<lead_imports::organization_id, OrgId> {
    lead_imports::organization_id.eq(tenant.org_id())
}
