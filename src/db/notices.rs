//! In-app notices for owners and admins (limit thresholds and the like).
//! A notice belongs to one user in one organization: every read and write is
//! scoped by both, so nobody sees or marks another user's notices. `notify_admins`
//! writes at most one notice per recipient and `dedupe_key`, however often it is called.

use chrono::{DateTime, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamptz, Uuid as SqlUuid};

use crate::db::schema::notices;
use crate::db::Tenant;
use crate::domain::roles::Role;
use crate::ids::{NoticeId, OrgId, UserId};

/// Notices shown on the list page, newest first.
pub const LIST_LIMIT: i64 = 100;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notices)]
pub struct Notice {
    pub id: NoticeId,
    pub kind: String,
    pub message: String,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Unread notices of the acting user in the tenant's organization.
pub fn unread_count(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<i64> {
    let Some(user) = tenant.user_id() else {
        return Ok(0);
    };
    scoped_notices(tenant)
        .filter(notices::user_id.eq(user))
        .filter(notices::read_at.is_null())
        .count()
        .get_result(conn)
}

/// The acting user's newest notices in the tenant's organization.
pub fn list(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<Notice>> {
    let Some(user) = tenant.user_id() else {
        return Ok(Vec::new());
    };
    scoped_notices(tenant)
        .filter(notices::user_id.eq(user))
        .order((notices::created_at.desc(), notices::id.desc()))
        .limit(LIST_LIMIT)
        .select(Notice::as_select())
        .load(conn)
}

/// Marks all of the acting user's notices read; returns how many changed.
pub fn mark_all_read(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let Some(user) = tenant.user_id() else {
        return Ok(0);
    };
    diesel::update(
        scoped_notices(tenant)
            .filter(notices::user_id.eq(user))
            .filter(notices::read_at.is_null()),
    )
    .set(notices::read_at.eq(now))
    .execute(conn)
}

/// Marks one of the acting user's notices read and returns it; NotFound when
/// the id is not theirs (another user's, another organization's, or none).
pub fn mark_read(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: NoticeId,
    now: DateTime<Utc>,
) -> QueryResult<Notice> {
    let user = tenant.user_id().ok_or(diesel::result::Error::NotFound)?;
    let mine = scoped_notices(tenant)
        .filter(notices::user_id.eq(user))
        .filter(notices::id.eq(id));
    diesel::update(mine)
        .set(
            notices::read_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("coalesce(read_at, ")
            .bind::<diesel::sql_types::Timestamptz, _>(now)
            .sql(")")),
        )
        .returning(Notice::as_returning())
        .get_result(conn)
}

/// Gives every current OWNER and ADMIN of `org` the notice, once per `dedupe_key`
/// (ON CONFLICT DO NOTHING on the unique key), inside the caller's transaction.
/// Returns how many notices were new.
pub fn notify_admins(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: &str,
    message: &str,
    dedupe_key: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO notices (organization_id, id, user_id, kind, message, dedupe_key, created_at)
         SELECT m.organization_id, gen_random_uuid(), m.user_id, $2, $3, $4, $7
         FROM organization_members m
         WHERE m.organization_id = $1 AND m.role IN ($5, $6)
         ON CONFLICT (organization_id, user_id, dedupe_key) DO NOTHING",
    )
    .bind::<SqlUuid, _>(tenant.org_id())
    .bind::<Text, _>(kind)
    .bind::<Text, _>(message)
    .bind::<Text, _>(dedupe_key)
    .bind::<Text, _>(Role::Owner.as_str())
    .bind::<Text, _>(Role::Admin.as_str())
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// Gives one member of the tenant's organization a notice, once per `dedupe_key`.
pub fn notify_user(
    conn: &mut PgConnection,
    tenant: &Tenant,
    user: UserId,
    kind: &str,
    message: &str,
    dedupe_key: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO notices (organization_id, id, user_id, kind, message, dedupe_key, created_at)
         SELECT m.organization_id, gen_random_uuid(), m.user_id, $3, $4, $5, $6
         FROM organization_members m
         WHERE m.organization_id = $1 AND m.user_id = $2
         ON CONFLICT (organization_id, user_id, dedupe_key) DO NOTHING",
    )
    .bind::<SqlUuid, _>(tenant.org_id())
    .bind::<SqlUuid, _>(user)
    .bind::<Text, _>(kind)
    .bind::<Text, _>(message)
    .bind::<Text, _>(dedupe_key)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// Every `notices` query of a tenant starts here.
fn scoped_notices(tenant: &Tenant) -> Filter<notices::table, Eq<notices::organization_id, OrgId>> {
    notices::table.filter(scoped_notices_rows(tenant))
}

/// The condition every `notices` row of a tenant meets (for joined queries).
fn scoped_notices_rows(tenant: &Tenant) -> Eq<notices::organization_id, OrgId> {
    notices::organization_id.eq(tenant.org_id())
}
