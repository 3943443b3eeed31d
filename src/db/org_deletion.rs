//! Deleting an organization (docs/product.md, "Data rights"): an OWNER schedules it seven days
//! ahead (the subscription ends at once, every member is mailed), any OWNER
//! may cancel until the date, and then `erase_due` removes every row of the
//! organization except its invoices, which the law says we keep
//! (docs/decisions.md "Organization deletion").
//!
//! The erasure walks the catalogue, not a hand-made list, so a table added
//! later is erased too. It deletes in small batches, one transaction each,
//! holding the organization row with `FOR UPDATE SKIP LOCKED`: several
//! instances never work on the same organization at once, and a pass that
//! stops half-way is simply continued by the next one.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use serde_json::json;

use crate::billing::PaymentProvider;
use crate::db::error::DbResult;
use crate::db::outbox::{self, MailKind, OutgoingMail};
use crate::db::schema::{organization_members, organizations, subscriptions, users};
use crate::db::{audit, plans, SystemAccess, Tenant};
use crate::domain::subscription::Status;
use crate::ids::OrgId;

/// Days between the request and the erasure: the time to change one's mind.
pub const GRACE_DAYS: i64 = 7;

/// Tables whose rows outlive the organization (legal retention).
const KEPT: [&str; 2] = ["invoices", "invoice_lines"];

/// Rows deleted per transaction.
const BATCH: i64 = 500;

/// Upper bound of batches per pass; the next pass continues.
const MAX_BATCHES: usize = 2_000;

/// What `cancel` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    Done,
    NotScheduled,
    /// The date has passed: the erasure has begun and cannot be undone.
    TooLate,
}

/// Schedules the erasure of the tenant's organization `GRACE_DAYS` after
/// `now`; returns its date (the earlier one when it was already scheduled).
/// Ends the subscription with the provider at once, mails every member and
/// audits. Run inside a transaction.
pub fn schedule(
    conn: &mut PgConnection,
    tenant: &Tenant,
    provider: &dyn PaymentProvider,
    site: &str,
    now: DateTime<Utc>,
) -> DbResult<DateTime<Utc>> {
    if let Some(date) = lock(conn, tenant)? {
        return Ok(date);
    }
    let date = now + Duration::days(GRACE_DAYS);
    diesel::update(scoped(tenant))
        .set(organizations::deletion_scheduled_at.eq(date))
        .execute(conn)?;
    let ended = end_subscription(conn, tenant, provider, now)?;
    mail_members(conn, tenant, date, site, now)?;
    let after = json!({ "deletion_scheduled_at": date, "subscription_ended": ended });
    audit::record(
        conn,
        tenant,
        "organization.deletion_scheduled",
        "organization",
        None,
        Some(after),
    )?;
    Ok(date)
}

/// Clears a scheduled deletion whose date has not come; audits it.
pub fn cancel(conn: &mut PgConnection, tenant: &Tenant, now: DateTime<Utc>) -> DbResult<Cancelled> {
    let Some(date) = lock(conn, tenant)? else {
        return Ok(Cancelled::NotScheduled);
    };
    if date <= now {
        return Ok(Cancelled::TooLate);
    }
    diesel::update(scoped(tenant))
        .set(organizations::deletion_scheduled_at.eq(None::<DateTime<Utc>>))
        .execute(conn)?;
    let before = json!({ "deletion_scheduled_at": date });
    audit::record(
        conn,
        tenant,
        "organization.deletion_cancelled",
        "organization",
        Some(before),
        None,
    )?;
    Ok(Cancelled::Done)
}

fn scoped(tenant: &Tenant) -> diesel::dsl::Find<organizations::table, OrgId> {
    organizations::table.find(tenant.org_id())
}

/// Every `organization_members` query of this module starts here.
fn scoped_members(
    tenant: &Tenant,
) -> diesel::dsl::Filter<
    organization_members::table,
    diesel::dsl::Eq<organization_members::organization_id, OrgId>,
> {
    organization_members::table.filter(organization_members::organization_id.eq(tenant.org_id()))
}

/// Locks the organization row; its scheduled deletion date, if any.
fn lock(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Option<DateTime<Utc>>> {
    scoped(tenant)
        .select(organizations::deletion_scheduled_at)
        .for_update()
        .first(conn)
}

/// Stops all further charges: the provider ends its subscription (Stripe:
/// cancelled now, not at the period end) and the local row is CANCELED, so
/// the lifecycle job renews nothing. True when a live subscription ended.
fn end_subscription(
    conn: &mut PgConnection,
    tenant: &Tenant,
    provider: &dyn PaymentProvider,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    let sub = plans::lock(conn, tenant)?;
    if matches!(sub.status, Status::Canceled | Status::Expired) {
        return Ok(false);
    }
    provider.end_subscription(conn, tenant, now)?;
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set((
            subscriptions::status.eq(Status::Canceled),
            subscriptions::past_due_since.eq(None::<DateTime<Utc>>),
            subscriptions::cancel_at_period_end.eq(false),
            subscriptions::scheduled_plan.eq(None::<String>),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

fn mail_members(
    conn: &mut PgConnection,
    tenant: &Tenant,
    date: DateTime<Utc>,
    site: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let name: String = scoped(tenant).select(organizations::name).first(conn)?;
    let emails: Vec<String> = scoped_members(tenant)
        .inner_join(users::table)
        .order(users::email)
        .select(users::email)
        .load(conn)?;
    let day = date.format("%-d %B %Y");
    let subject = format!("{name} will be deleted on {day}");
    let body = format!(
        "Hello,\n\nan owner of {name} asked Lead Dashboard to delete the organization. \
         On {day} (UTC) all of its data will be erased: leads, templates, sequences, \
         messages, the team and the audit log. Only its invoices are kept, as the law requires.\n\n\
         Your own account stays, with your other organizations.\n\n\
         Changed your mind? An owner can cancel the deletion until then: {site}/settings\n"
    );
    for to in &emails {
        let mail = OutgoingMail {
            kind: MailKind::Account,
            org: Some(tenant.org_id()),
            message: None,
            to,
            subject: &subject,
            body: &body,
            html: None,
        };
        outbox::enqueue(conn, &mail, now)?;
    }
    Ok(())
}

/// Erases the organizations whose date has come; returns how many rows
/// went. Each batch is its own transaction.
pub fn erase_due(conn: &mut PgConnection, _: &SystemAccess, now: DateTime<Utc>) -> DbResult<usize> {
    let tables = erasure_order(conn)?;
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let erased = conn.transaction(|conn| erase_batch(conn, &tables, now))?;
        if erased == 0 {
            break;
        }
        total += erased;
    }
    Ok(total)
}

/// One batch of one due organization that no other runner holds: up to
/// `BATCH` rows of the first table that still has some, or, when none is
/// left, the organization row itself.
fn erase_batch(
    conn: &mut PgConnection,
    tables: &[String],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let due: Option<OrgId> = organizations::table
        .filter(organizations::deletion_scheduled_at.le(now))
        .order(organizations::deletion_scheduled_at)
        .select(organizations::id)
        .limit(1)
        .for_update()
        .skip_locked()
        .first(conn)
        .optional()?;
    let Some(org) = due else { return Ok(0) };
    for table in tables {
        // Table names come from the catalogue; quoted all the same.
        let sql = format!(
            "DELETE FROM \"{table}\" WHERE ctid IN (SELECT ctid FROM \"{table}\" \
             WHERE organization_id = $1 LIMIT {BATCH})"
        );
        let n = diesel::sql_query(sql)
            .bind::<SqlUuid, _>(org.uuid())
            .execute(conn)?;
        if n > 0 {
            return Ok(n);
        }
    }
    tracing::info!(organization = %org, "organization erased");
    diesel::delete(organizations::table.find(org)).execute(conn)
}

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Edge {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

/// The tables holding an `organization_id` (except the kept ones), each
/// before the tables it references, so no foreign key stops a batch.
fn erasure_order(conn: &mut PgConnection) -> QueryResult<Vec<String>> {
    let tables: Vec<String> = diesel::sql_query(
        "SELECT c.relname AS name FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         WHERE c.relkind = 'r' AND c.relname <> 'organizations' AND EXISTS (
             SELECT FROM pg_attribute a WHERE a.attrelid = c.oid
             AND a.attname = 'organization_id' AND NOT a.attisdropped)
         ORDER BY 1",
    )
    .load::<Table>(conn)?
    .into_iter()
    .map(|t| t.name)
    .filter(|t| !KEPT.contains(&t.as_str()))
    .collect();
    let edges: Vec<Edge> = diesel::sql_query(
        "SELECT ch.relname AS child, pa.relname AS parent FROM pg_constraint k
         JOIN pg_class ch ON ch.oid = k.conrelid JOIN pg_class pa ON pa.oid = k.confrelid
         WHERE k.contype = 'f' AND k.conrelid <> k.confrelid",
    )
    .load(conn)?;
    let pairs: Vec<(String, String)> = edges.into_iter().map(|e| (e.child, e.parent)).collect();
    Ok(children_first(tables, &pairs))
}

/// Orders `tables` so that every table comes before those it references
/// (`edges` are child → parent); a cycle, if one ever appears, keeps its order.
fn children_first(mut left: Vec<String>, edges: &[(String, String)]) -> Vec<String> {
    let mut order = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let referenced = |t: &String| {
            edges
                .iter()
                .any(|(child, parent)| parent == t && child != t && left.contains(child))
        };
        let next = left.iter().position(|t| !referenced(t)).unwrap_or(0);
        order.push(left.remove(next));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::children_first;

    #[test]
    fn children_come_before_their_parents() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let edges = vec![
            ("messages".to_string(), "leads".to_string()),
            ("mail_outbox".to_string(), "messages".to_string()),
        ];
        let order = children_first(s(&["leads", "mail_outbox", "messages"]), &edges);
        assert_eq!(order, s(&["mail_outbox", "messages", "leads"]));
    }
}
