//! Uploaded CSV files kept between the preview and the import: one row per
//! upload, scoped to the organization, expiring after an hour (expired rows
//! are removed whenever a new file is uploaded).

use chrono::{Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::lead_imports;
use crate::db::Tenant;

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
) -> QueryResult<Uuid> {
    let now = Utc::now();
    diesel::delete(lead_imports::table.filter(lead_imports::expires_at.lt(now))).execute(conn)?;
    let id = Uuid::new_v4();
    diesel::insert_into(lead_imports::table)
        .values((
            lead_imports::organization_id.eq(tenant.org_id().uuid()),
            lead_imports::id.eq(id),
            lead_imports::created_by.eq(tenant.user_id().map(|u| u.uuid())),
            lead_imports::filename.eq(filename),
            lead_imports::content.eq(content),
            lead_imports::expires_at.eq(now + Duration::minutes(KEEP_FOR_MINUTES)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A live upload of the tenant; NotFound when expired or foreign.
pub fn find(conn: &mut PgConnection, tenant: &Tenant, id: Uuid) -> QueryResult<Upload> {
    lead_imports::table
        .find((tenant.org_id().uuid(), id))
        .filter(lead_imports::expires_at.gt(Utc::now()))
        .select(Upload::as_select())
        .first(conn)
}

/// Removes an upload once imported, and locks it first so that two
/// concurrent imports of the same file cannot both run: the second finds nothing.
pub fn take(conn: &mut PgConnection, tenant: &Tenant, id: Uuid) -> QueryResult<Upload> {
    let upload = lead_imports::table
        .find((tenant.org_id().uuid(), id))
        .filter(lead_imports::expires_at.gt(Utc::now()))
        .select(Upload::as_select())
        .for_update()
        .first(conn)?;
    diesel::delete(lead_imports::table.find((tenant.org_id().uuid(), id))).execute(conn)?;
    Ok(upload)
}
