//! Stripe operations that must happen (`stripe_operations`): recorded in the
//! transaction that decides them, made later outside any transaction. One
//! row per action and object, so deciding twice records it once. A claim
//! is a short transaction that pushes `next_attempt_at` past the call's
//! longest duration (a lease), so two workers never call for one row at the
//! same time and a worker that dies mid-call leaves the row due again.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamptz, Uuid as SqlUuid};

use crate::db::Tenant;
use crate::ids::{OrgId, StripeOperationId};

/// The longest one attempt may take (Stripe client retries included).
const LEASE_MINUTES: i64 = 5;
/// After this many failed attempts the operation is `failed` and waits for
/// an operator (at the longest backoff that is about two days of retries).
pub const MAX_ATTEMPTS: i32 = 30;

/// A claimed operation.
#[derive(Debug, Clone, QueryableByName)]
pub struct Operation {
    #[diesel(sql_type = SqlUuid)]
    pub organization_id: OrgId,
    #[diesel(sql_type = SqlUuid)]
    pub id: StripeOperationId,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub target: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// Records that the Stripe subscription `subscription` must be ended now;
/// due at once. Nothing when it was recorded before.
pub fn cancel_subscription(
    conn: &mut PgConnection,
    tenant: &Tenant,
    subscription: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO stripe_operations
             (organization_id, id, kind, target, next_attempt_at, created_at)
         VALUES ($1, $2, 'cancel_subscription', $3, $4, $4)
         ON CONFLICT (organization_id, kind, target) DO NOTHING",
    )
    .bind::<SqlUuid, _>(tenant.org_id())
    .bind::<SqlUuid, _>(StripeOperationId::new())
    .bind::<Text, _>(subscription)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .map(drop)
}

/// Records that the Stripe customer `customer` must carry the
/// organization's current VAT id (read when the operation is made, so the
/// newest value wins); due at once. Recorded again after a change, it is
/// due again from the start, and an attempt already under way cannot mark
/// it done (`mark_done` checks the attempt it claimed).
pub fn sync_tax_id(
    conn: &mut PgConnection,
    tenant: &Tenant,
    customer: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO stripe_operations
             (organization_id, id, kind, target, next_attempt_at, created_at)
         VALUES ($1, $2, 'sync_tax_id', $3, $4, $4)
         ON CONFLICT (organization_id, kind, target) DO UPDATE
         SET status = 'pending', attempts = 0, next_attempt_at = $4,
             last_error = NULL, done_at = NULL",
    )
    .bind::<SqlUuid, _>(tenant.org_id())
    .bind::<SqlUuid, _>(StripeOperationId::new())
    .bind::<Text, _>(customer)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .map(drop)
}

/// The EU VAT id the organization's Stripe customer must carry: its VAT id
/// when its billing country is an EU member state (Stripe's `eu_vat`),
/// otherwise none (empty). Read by the job with its system connection.
pub fn eu_vat_id_of(conn: &mut PgConnection, org: OrgId) -> QueryResult<String> {
    use crate::db::schema::organizations;
    use crate::domain::vat::Country;
    let (vat, country): (Option<String>, Option<String>) = organizations::table
        .find(org)
        .select((
            organizations::billing_vat_id,
            organizations::billing_country,
        ))
        .first(conn)?;
    let eu = country
        .as_deref()
        .and_then(Country::parse)
        .is_some_and(|c| c.eu_rate().is_some());
    Ok(vat.filter(|_| eu).unwrap_or_default())
}

/// Claims the next due operation (its own short transaction): counts the
/// attempt and leases it, so no other worker takes it meanwhile.
pub fn claim_due(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Option<Operation>> {
    conn.transaction(|conn| {
        diesel::sql_query(
            "UPDATE stripe_operations SET attempts = attempts + 1, next_attempt_at = $2
             WHERE (organization_id, id) = (
                 SELECT organization_id, id FROM stripe_operations
                 WHERE status = 'pending' AND next_attempt_at <= $1
                 ORDER BY next_attempt_at, created_at
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED)
             RETURNING organization_id, id, kind, target, attempts",
        )
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(now + Duration::minutes(LEASE_MINUTES))
        .get_result(conn)
        .optional()
    })
}

/// Stripe confirmed the operation (unless it was recorded again meanwhile:
/// then it stays due, for the newer value).
pub fn mark_done(conn: &mut PgConnection, op: &Operation, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE stripe_operations SET status = 'done', done_at = $3, last_error = NULL
         WHERE organization_id = $1 AND id = $2 AND attempts = $4",
    )
    .bind::<SqlUuid, _>(op.organization_id)
    .bind::<SqlUuid, _>(op.id)
    .bind::<Timestamptz, _>(now)
    .bind::<Integer, _>(op.attempts)
    .execute(conn)
    .map(drop)
}

/// The attempt failed: due again after a backoff (1, 2, 4 … 60 minutes),
/// or `failed` after `MAX_ATTEMPTS`, the error kept for operators.
pub fn mark_failed(
    conn: &mut PgConnection,
    op: &Operation,
    error: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let status = if op.attempts >= MAX_ATTEMPTS {
        "failed"
    } else {
        "pending"
    };
    diesel::sql_query(
        "UPDATE stripe_operations SET status = $3, last_error = $4, next_attempt_at = $5
         WHERE organization_id = $1 AND id = $2 AND attempts = $6",
    )
    .bind::<SqlUuid, _>(op.organization_id)
    .bind::<SqlUuid, _>(op.id)
    .bind::<Text, _>(status)
    .bind::<Text, _>(error)
    .bind::<Timestamptz, _>(now + backoff(op.attempts))
    .bind::<Integer, _>(op.attempts)
    .execute(conn)
    .map(drop)
}

/// The wait after `attempts` failed attempts: doubling from a minute, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 7) - 1).unwrap_or(0);
    Duration::minutes((1i64 << exponent).min(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_operations_back_off_to_an_hour() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(2), Duration::minutes(2));
        assert_eq!(backoff(4), Duration::minutes(8));
        assert_eq!(backoff(7), Duration::minutes(60));
        assert_eq!(backoff(30), Duration::minutes(60));
    }
}
