//! The audit log: who did what, when, to what. `record` is called inside the
//! transaction of the change it describes, so a change and its event are
//! stored together or not at all.

use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::{audit_events, users};
use crate::db::Tenant;

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
            .find(user.uuid())
            .select((users::name, users::email))
            .first::<(String, String)>(conn)
            .map(|(name, email)| format!("{name} <{email}>"))?,
        None => "system".to_string(),
    };
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::organization_id.eq(tenant.org_id().uuid()),
            audit_events::actor_user_id.eq(tenant.user_id().map(|u| u.uuid())),
            audit_events::actor_label.eq(label),
            audit_events::action.eq(action),
            audit_events::target.eq(target),
            audit_events::before.eq(before),
            audit_events::after.eq(after),
        ))
        .execute(conn)?;
    Ok(())
}
