//! The audit log: who did what, when, to what. `record` is called inside the
//! transaction of the change it describes, so a change and its event are
//! stored together or not at all.

use chrono::{DateTime, Utc};
use diesel::dsl::Eq;
use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::{audit_events, users};
use crate::db::{cursor, Tenant};
use crate::ids::{OrgId, UserId};

/// Writes one audit event. `actor_label` is resolved from the acting user
/// (name and email at the time), or "system" for background jobs.
pub fn record(
    conn: &mut PgConnection,
    tenant: &Tenant,
    action: &str,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> QueryResult<()> {
    let label = match tenant.user_id() {
        Some(user) => users::table
            .find(user)
            .select((users::name, users::email))
            .first::<(String, String)>(conn)
            .map(|(name, email)| format!("{name} <{email}>"))?,
        None => "system".to_string(),
    };
    diesel::insert_into(audit_events::table)
        .values(NewAuditEvent {
            organization_id: tenant.org_id(),
            actor_user_id: tenant.user_id(),
            actor_label: label,
            action,
            target,
            before,
            after,
        })
        .execute(conn)?;
    Ok(())
}

/// An audit event as recorded: the tenant's organization and acting user.
#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewAuditEvent<'a> {
    organization_id: OrgId,
    actor_user_id: Option<UserId>,
    actor_label: String,
    action: &'a str,
    target: &'a str,
    before: Option<Value>,
    after: Option<Value>,
}

/// One event as the audit page shows it.
#[derive(Debug, Clone, Queryable)]
pub struct AuditEvent {
    pub id: i64,
    pub actor_user_id: Option<UserId>,
    pub actor_label: String,
    pub action: String,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub created_at: DateTime<Utc>,
}

/// Whose events to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    /// Background jobs (no user).
    System,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub action: Option<String>,
    pub actor: Option<Actor>,
}

/// Keyset position of one event in the newest-first log.
pub type Cursor = cursor::Cursor<i64>;
/// Where a page of the log starts.
pub type Position = cursor::Position<i64>;
pub use cursor::Page;

impl AuditEvent {
    /// The position of this event in the newest-first log.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// One page of the tenant's events matching `filter` at `position`, newest
/// first (keyset pagination on (created_at, id)).
pub fn list(
    conn: &mut PgConnection,
    tenant: &Tenant,
    filter: &Filter,
    position: Position,
    limit: i64,
) -> QueryResult<Page<AuditEvent>> {
    let mut query = scoped_audit_events(tenant).into_boxed();
    if let Some(action) = &filter.action {
        query = query.filter(audit_events::action.eq(action.clone()));
    }
    match filter.actor {
        Some(Actor::User(id)) => query = query.filter(audit_events::actor_user_id.eq(id)),
        Some(Actor::System) => query = query.filter(audit_events::actor_user_id.is_null()),
        None => {}
    }
    if let Some((op, c)) = position.bound() {
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "(audit_events.created_at, audit_events.id) {op} ("
            ))
            .bind::<diesel::sql_types::Timestamptz, _>(c.created_at)
            .sql(", ")
            .bind::<diesel::sql_types::BigInt, _>(c.id)
            .sql(")"),
        );
    }
    query = if position.reads_newest_first() {
        query.order((audit_events::created_at.desc(), audit_events::id.desc()))
    } else {
        query.order((audit_events::created_at.asc(), audit_events::id.asc()))
    };
    let rows = query
        .limit(limit + 1)
        .select((
            audit_events::id,
            audit_events::actor_user_id,
            audit_events::actor_label,
            audit_events::action,
            audit_events::target,
            audit_events::before,
            audit_events::after,
            audit_events::created_at,
        ))
        .load(conn)?;
    Ok(Page::from_rows(rows, &position, limit))
}

/// The action names the tenant's log contains, for the filter.
pub fn actions(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<String>> {
    scoped_audit_events(tenant)
        .select(audit_events::action)
        .distinct()
        .order(audit_events::action)
        .load(conn)
}

/// Everyone who appears as an actor in the tenant's log, with their latest
/// label (`None` id = system), for the filter.
pub fn actors(
    conn: &mut PgConnection,
    tenant: &Tenant,
) -> QueryResult<Vec<(Option<UserId>, String)>> {
    let mut rows: Vec<(Option<UserId>, String)> = scoped_audit_events(tenant)
        .distinct_on(audit_events::actor_user_id)
        .order((audit_events::actor_user_id, audit_events::created_at.desc()))
        .select((audit_events::actor_user_id, audit_events::actor_label))
        .load(conn)?;
    rows.sort_by_key(|a| a.1.to_lowercase());
    Ok(rows)
}

/// Every `audit_events` query of a tenant starts here.
fn scoped_audit_events(
    tenant: &Tenant,
) -> diesel::dsl::Filter<audit_events::table, Eq<audit_events::organization_id, OrgId>> {
    audit_events::table.filter(scoped_audit_events_rows(tenant))
}

/// The condition every `audit_events` row of a tenant meets (for joined queries).
fn scoped_audit_events_rows(tenant: &Tenant) -> Eq<audit_events::organization_id, OrgId> {
    audit_events::organization_id.eq(tenant.org_id())
}
