//! The subscription lifecycle job: every pass applies the transitions that are
//! due (trial end, grace expiry, cancellation, scheduled downgrade, period
//! roll-over) through `db::lifecycle`, which makes it safe on many instances,
//! then makes the Stripe operations those transitions (and organization
//! deletions) recorded. Each operation is claimed in a short transaction,
//! called with no transaction open, and its outcome recorded in another:
//! a failure is retried with backoff on a later pass until Stripe confirms.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::billing::stripe::StripeClient;
use crate::config::Config;
use crate::db::billing::operations::{self, Operation};
use crate::db::SystemAccess;

/// Operations made per pass at most (the next pass continues).
const OPERATIONS_PER_PASS: usize = 50;

/// One pass as if it were `now` (the scheduled `JobFn`): transitions
/// applied plus Stripe operations made.
pub fn run_at(
    conn: &mut PgConnection,
    access: &SystemAccess,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let provider = crate::billing::provider(config);
    let applied = crate::db::lifecycle::advance_due(conn, access, provider.as_ref(), now)
        .map_err(|e| e.to_string())?;
    let made = match StripeClient::from_config(config) {
        Some(stripe) => make_operations(conn, &stripe, now).map_err(|e| e.to_string())?,
        None => 0,
    };
    Ok(applied + made)
}

/// Makes the due Stripe operations; returns how many Stripe confirmed.
pub fn make_operations(
    conn: &mut PgConnection,
    stripe: &StripeClient,
    now: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    let mut confirmed = 0;
    for _ in 0..OPERATIONS_PER_PASS {
        let Some(op) = operations::claim_due(conn, now)? else {
            break;
        };
        match make(conn, stripe, &op) {
            Ok(()) => {
                operations::mark_done(conn, &op, now)?;
                confirmed += 1;
            }
            Err(error) => {
                tracing::warn!(%error, operation = %op.id, attempt = op.attempts,
                    "Stripe operation failed; retried later");
                operations::mark_failed(conn, &op, &error, now)?;
            }
        }
    }
    Ok(confirmed)
}

/// One operation's Stripe calls (no transaction open: `conn` only reads).
fn make(conn: &mut PgConnection, stripe: &StripeClient, op: &Operation) -> Result<(), String> {
    match op.kind.as_str() {
        "cancel_subscription" => stripe.end_for_good(&op.target),
        "sync_tax_id" => {
            let vat_id =
                operations::eu_vat_id_of(conn, op.organization_id).map_err(|e| e.to_string())?;
            stripe.sync_tax_id(&op.target, &vat_id)
        }
        other => Err(format!("unknown operation {other}")),
    }
}
