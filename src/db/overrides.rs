//! Negotiated per-organization limits (docs/product.md, "Plans"): one override per limit,
//! replacing the plan's value until an optional end. Setting and removing one
//! is audited (`limit.overridden`, `limit.override_removed`) in the same transaction.

use chrono::{DateTime, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use serde_json::json;

use crate::db::schema::{limit_overrides, organizations};
use crate::db::{audit, Tenant};
use crate::domain::plans::{format_limit, Limit, LimitKind};
use crate::ids::OrgId;

/// The organization with this slug (operators name organizations by slug).
pub fn org_by_slug(conn: &mut PgConnection, slug: &str) -> QueryResult<Option<OrgId>> {
    organizations::table
        .filter(organizations::slug.eq(slug))
        .select(organizations::id)
        .first(conn)
        .optional()
        .map(|id| id.map(OrgId))
}

/// A stored override, whether or not it is still in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOverride {
    pub kind: LimitKind,
    pub value: Limit,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Every override of the tenant's organization, expired ones included.
pub fn list(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<StoredOverride>> {
    let rows: Vec<(String, Option<i64>, Option<DateTime<Utc>>)> = scoped_limit_overrides(tenant)
        .order(limit_overrides::limit_kind)
        .select((
            limit_overrides::limit_kind,
            limit_overrides::value,
            limit_overrides::ends_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, value, ends_at)| {
            Some(StoredOverride {
                kind: kind.parse().ok()?,
                value,
                ends_at,
            })
        })
        .collect())
}

fn describe(value: Limit, ends_at: Option<DateTime<Utc>>) -> serde_json::Value {
    json!({ "value": format_limit(value), "until": ends_at })
}

/// An override as set, in the tenant's organization.
#[derive(Insertable)]
#[diesel(table_name = limit_overrides)]
struct NewOverride {
    organization_id: OrgId,
    limit_kind: &'static str,
    value: Limit,
    ends_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// Sets (or replaces) the override of `kind`; `value` None = unlimited.
pub fn set(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: LimitKind,
    value: Limit,
    ends_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        let before = find(conn, tenant, kind)?.map(|o| describe(o.value, o.ends_at));
        diesel::insert_into(limit_overrides::table)
            .values(NewOverride {
                organization_id: tenant.org_id(),
                limit_kind: kind.as_str(),
                value,
                ends_at,
                created_at: now,
            })
            .on_conflict((
                limit_overrides::organization_id,
                limit_overrides::limit_kind,
            ))
            .do_update()
            .set((
                limit_overrides::value.eq(value),
                limit_overrides::ends_at.eq(ends_at),
                limit_overrides::created_at.eq(now),
            ))
            .execute(conn)?;
        let after = describe(value, ends_at);
        audit::record(
            conn,
            tenant,
            "limit.overridden",
            kind.as_str(),
            before,
            Some(after),
        )
    })
}

/// Removes the override of `kind` (the plan's limit applies again); false when there was none.
pub fn clear(conn: &mut PgConnection, tenant: &Tenant, kind: LimitKind) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let Some(old) = find(conn, tenant, kind)? else {
            return Ok(false);
        };
        diesel::delete(scoped_limit_overrides(tenant).filter(limit_overrides::limit_kind.eq(kind)))
            .execute(conn)?;
        let before = describe(old.value, old.ends_at);
        audit::record(
            conn,
            tenant,
            "limit.override_removed",
            kind.as_str(),
            Some(before),
            None,
        )?;
        Ok(true)
    })
}

fn find(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: LimitKind,
) -> QueryResult<Option<StoredOverride>> {
    Ok(list(conn, tenant)?.into_iter().find(|o| o.kind == kind))
}

/// Every `limit_overrides` query of a tenant starts here (also usage's).
pub(in crate::db) fn scoped_limit_overrides(
    tenant: &Tenant,
) -> Filter<limit_overrides::table, Eq<limit_overrides::organization_id, OrgId>> {
    limit_overrides::table.filter(scoped_limit_overrides_rows(tenant))
}

/// The condition every `limit_overrides` row of a tenant meets (for joined queries).
fn scoped_limit_overrides_rows(tenant: &Tenant) -> Eq<limit_overrides::organization_id, OrgId> {
    limit_overrides::organization_id.eq(tenant.org_id())
}
