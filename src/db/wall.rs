//! The second tenant wall: PostgreSQL row-level security (migration
//! `2026-12-01-300000_row_level_security`, docs/security.md "Second wall").
//!
//! Every connection `Db::run` hands out first becomes the non-owner role
//! `lead_dashboard_app`, with `app.organization_id` and `app.user_id` set to
//! the request's scope: the organization the session's membership row proved
//! and the signed-in user. The identity middleware sets that scope around the
//! handler (`within`), so even a query that forgot its organization filter
//! sees and changes only the current organization's rows; outside a request
//! (and before sign-in) nothing is set and no tenant row is visible.
//!
//! The few functions that must act beyond the request's scope say so
//! explicitly, inside a transaction: `enter_org` (creating an organization,
//! accepting an invitation, a verified payment event), `enter_user` (sign-in,
//! before the session exists) and `lifted` (reads keyed by a secret token or
//! across a user's organizations). A test lists their callers. Jobs and the CLI hold `SystemAccess`
//! and get owner connections from `Db::system`.

use std::future::Future;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::ids::{OrgId, UserId};

/// The role requests run as (created by the migration; cluster-wide).
pub const APP_ROLE: &str = "lead_dashboard_app";

/// Whose rows a request's database work may see. Built by the identity
/// middleware from the session (a structure test keeps it there); other code
/// only carries the current one along (`current`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope {
    org: Option<OrgId>,
    user: Option<UserId>,
}

impl Scope {
    pub fn new(org: Option<OrgId>, user: Option<UserId>) -> Scope {
        Scope { org, user }
    }
}

tokio::task_local! {
    static REQUEST_SCOPE: Scope;
}

/// Runs `fut` (a request's handler) with `scope` as the scope of every
/// `Db::run` it awaits.
pub async fn within<F: Future>(scope: Scope, fut: F) -> F::Output {
    REQUEST_SCOPE.scope(scope, fut).await
}

/// The scope of the request being handled; empty outside one. Work the
/// request defers (a streamed body is polled after the handler returned)
/// takes it along and runs `within` it.
pub fn current() -> Scope {
    REQUEST_SCOPE.try_with(|s| *s).unwrap_or_default()
}

/// Makes a checked-out connection the app role in `scope`: one round trip.
/// Session-level on purpose: every checkout sets it again, so nothing
/// carries over from the connection's previous use.
pub(crate) fn enter_scope(conn: &mut PgConnection, scope: Scope) -> QueryResult<()> {
    // Typed ids print as plain hex-and-dash uuids: nothing to escape.
    conn.batch_execute(&format!(
        "SET ROLE {APP_ROLE}; SET app.organization_id = '{}'; SET app.user_id = '{}'",
        scope.org.map(|o| o.to_string()).unwrap_or_default(),
        scope.user.map(|u| u.to_string()).unwrap_or_default(),
    ))
}

/// Makes a checked-out connection the owner, for `SystemAccess` holders.
pub(crate) fn enter_system(conn: &mut PgConnection) -> QueryResult<()> {
    conn.batch_execute("RESET ROLE; SET app.organization_id = ''; SET app.user_id = ''")
}

/// Sets the current organization until the end of the caller's transaction:
/// for work that creates `org` or was just authorized for it by something
/// other than a session (an invitation token, a signed payment event).
pub(in crate::db) fn enter_org(conn: &mut PgConnection, org: OrgId) -> QueryResult<()> {
    in_transaction(conn)?;
    set_local(conn, "app.organization_id", &org.to_string())
}

/// Sets the current user until the end of the caller's transaction: for
/// sign-in and sign-up, before the session that would carry it exists.
pub(in crate::db) fn enter_user(conn: &mut PgConnection, user: UserId) -> QueryResult<()> {
    in_transaction(conn)?;
    set_local(conn, "app.user_id", &user.to_string())
}

fn set_local(conn: &mut PgConnection, name: &str, value: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT set_config($1, $2, true)")
        .bind::<Text, _>(name)
        .bind::<Text, _>(value)
        .execute(conn)
        .map(|_| ())
}

/// Runs `work` with the wall lifted (as the owner), then puts it back.
/// Only for reads keyed by something no other organization can guess (a
/// token's hash, a verified payment event's ids) or a user's own rows across
/// organizations (account deletion); a test keeps the list of callers.
pub(in crate::db) fn lifted<T>(
    conn: &mut PgConnection,
    work: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    conn.transaction(|conn| {
        let role: RoleName =
            diesel::sql_query("SELECT current_user::text AS name").get_result(conn)?;
        conn.batch_execute("SET LOCAL ROLE NONE")?;
        let out = work(conn)?;
        diesel::sql_query("SELECT set_config('role', $1, true)")
            .bind::<Text, _>(role.name)
            .execute(conn)?;
        Ok(out)
    })
}

#[derive(QueryableByName)]
struct RoleName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The transaction-local settings above vanish at once outside a
/// transaction; refuse rather than silently do nothing.
fn in_transaction(conn: &mut PgConnection) -> QueryResult<()> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let depth = AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth()?;
    match depth {
        Some(_) => Ok(()),
        None => Err(diesel::result::Error::QueryBuilderError(
            "the wall can only be moved inside a transaction".into(),
        )),
    }
}
