//! In-app notices for owners and admins (limit thresholds and the like).

use diesel::prelude::*;

use crate::db::schema::notices;
use crate::db::Tenant;

/// Unread notices of the acting user in the tenant's organization.
pub fn unread_count(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<i64> {
    let Some(user) = tenant.user_id() else {
        return Ok(0);
    };
    notices::table
        .filter(notices::organization_id.eq(tenant.org_id().uuid()))
        .filter(notices::user_id.eq(user.uuid()))
        .filter(notices::read_at.is_null())
        .count()
        .get_result(conn)
}
