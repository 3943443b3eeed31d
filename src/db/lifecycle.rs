//! Moves subscriptions through docs/product.md, "Limits" when their time comes: trial end, grace
//! expiry, cancellation, scheduled downgrade and period roll-over. Due rows are
//! claimed with `FOR UPDATE SKIP LOCKED` and re-checked under the lock, so any
//! number of runners apply each transition exactly once, each with one audit event.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::json;

use crate::billing::{billing_mail, PaymentProvider, Purchase};
use crate::db::error::DbResult;
use crate::db::models::Subscription;
use crate::db::plans::{audit_json, state_of};
use crate::db::schema::subscriptions;
use crate::db::{audit, SystemAccess, Tenant};
use crate::domain::billing::{due_transition, SubscriptionState, Transition};
use crate::domain::plans::Plan;
use crate::domain::subscription::{Status, GRACE_DAYS};

/// Rows claimed per transaction.
const BATCH: i64 = 100;
/// Upper bound of batches per pass (a row missed for many periods catches up
/// one period per batch; the next pass continues).
const MAX_BATCHES: usize = 200;

/// Applies every transition due at `now`; returns how many were applied.
pub fn advance_due(
    conn: &mut PgConnection,
    access: &SystemAccess,
    provider: &dyn PaymentProvider,
    now: DateTime<Utc>,
) -> DbResult<usize> {
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let applied = conn.transaction(|conn| advance_batch(conn, access, provider, now))?;
        total += applied;
        if applied == 0 {
            break;
        }
    }
    Ok(total)
}

fn advance_batch(
    conn: &mut PgConnection,
    access: &SystemAccess,
    provider: &dyn PaymentProvider,
    now: DateTime<Utc>,
) -> DbResult<usize> {
    let grace_cutoff = now - Duration::days(GRACE_DAYS);
    let due: Vec<Subscription> = subscriptions::table
        .filter(
            (subscriptions::status
                .eq(Status::Trial)
                .and(subscriptions::trial_ends_at.le(now)))
            .or(subscriptions::status
                .eq(Status::PastDue)
                .and(subscriptions::past_due_since.le(grace_cutoff)))
            .or(subscriptions::status
                .eq(Status::Active)
                .and(subscriptions::current_period_end.le(now))),
        )
        // A Stripe subscription renews, converts its trial and ends itself
        // (its webhook reports it); only its grace period is ours to end.
        .filter(
            subscriptions::provider_subscription_id
                .is_null()
                .or(subscriptions::status.eq(Status::PastDue)),
        )
        .order(subscriptions::organization_id)
        .limit(BATCH)
        .select(Subscription::as_select())
        .for_update()
        .skip_locked()
        .load(conn)?;
    let mut applied = 0;
    for sub in &due {
        let state = state_of(sub);
        if let Some(step) = due_transition(&state, now) {
            apply(
                conn,
                &access.tenant(sub.organization_id),
                provider,
                sub,
                &state,
                step,
                now,
            )?;
            applied += 1;
        }
    }
    Ok(applied)
}

/// The new row values of one transition.
struct Change {
    state: SubscriptionState,
    period: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

fn apply(
    conn: &mut PgConnection,
    tenant: &Tenant,
    provider: &dyn PaymentProvider,
    sub: &Subscription,
    before: &SubscriptionState,
    step: Transition,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let change = match step {
        Transition::TrialEnded { to: Status::Active } => {
            let start = before.trial_ends_at.unwrap_or(now);
            renew(conn, provider, tenant, before, before.plan, start, now)?
        }
        Transition::TrialEnded { to } => ended(before, to),
        Transition::GraceExpired => {
            provider.end_subscription(conn, tenant, now)?;
            billing_mail::grace_expired(conn, tenant, provider.public_url(), now)?;
            ended(before, Status::Expired)
        }
        Transition::CanceledAtPeriodEnd => ended(before, Status::Canceled),
        Transition::Downgraded { to } => {
            let start = sub.current_period_end;
            renew(conn, provider, tenant, before, to, start, now)?
        }
        Transition::Renewed => {
            let start = sub.current_period_end;
            renew(conn, provider, tenant, before, before.plan, start, now)?
        }
    };
    store(conn, tenant, &change, now)?;
    if change.state.status == Status::PastDue && before.status != Status::PastDue {
        let attempt = format!("renewal:{}", sub.current_period_end.timestamp());
        billing_mail::payment_failed(conn, tenant, &attempt, provider.public_url(), now)?;
    }
    let mut after = audit_json(&change.state);
    if let Some((start, end)) = change.period {
        after["period_start"] = json!(start);
        after["period_end"] = json!(end);
    }
    let b = audit_json(before);
    audit::record(
        conn,
        tenant,
        step.audit_action(),
        "subscription",
        Some(b),
        Some(after),
    )?;
    crate::db::webhooks::subscription_updated(conn, tenant, now)?;
    Ok(())
}

/// The subscription ends as `status`; the plan stays on record (the effective plan is FREE).
fn ended(before: &SubscriptionState, status: Status) -> Change {
    Change {
        state: SubscriptionState {
            status,
            past_due_since: None,
            cancel_at_period_end: false,
            scheduled_plan: None,
            ..*before
        },
        period: None,
    }
}

/// A new period on `plan` from `start`: paid plans are charged; a failed
/// charge makes the subscription PAST_DUE from `now`.
fn renew(
    conn: &mut PgConnection,
    provider: &dyn PaymentProvider,
    tenant: &Tenant,
    before: &SubscriptionState,
    plan: Plan,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DbResult<Change> {
    let purchase = Purchase {
        plan,
        interval: before.interval,
        period_start: start,
        period_end: before.interval.period_end(start),
        charge_now: true,
        made_at: now,
    };
    let paid = provider.collect_renewal(conn, tenant, &purchase)?;
    let (status, past_due_since) = if paid {
        (Status::Active, None)
    } else {
        (Status::PastDue, Some(now))
    };
    Ok(Change {
        state: SubscriptionState {
            plan,
            status,
            past_due_since,
            cancel_at_period_end: false,
            scheduled_plan: None,
            ..*before
        },
        period: Some((purchase.period_start, purchase.period_end)),
    })
}

fn store(
    conn: &mut PgConnection,
    tenant: &Tenant,
    change: &Change,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let s = &change.state;
    let row = subscriptions::table.find(tenant.org_id());
    diesel::update(row)
        .set((
            subscriptions::plan.eq(s.plan),
            subscriptions::status.eq(s.status),
            subscriptions::past_due_since.eq(s.past_due_since),
            subscriptions::cancel_at_period_end.eq(s.cancel_at_period_end),
            subscriptions::scheduled_plan.eq(s.scheduled_plan.map(Plan::as_str)),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)?;
    if let Some((start, end)) = change.period {
        diesel::update(row)
            .set((
                subscriptions::current_period_start.eq(start),
                subscriptions::current_period_end.eq(end),
            ))
            .execute(conn)?;
    }
    Ok(())
}
