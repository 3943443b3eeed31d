//! The owner's plan changes (docs/product.md, "Limits"): upgrade at once (through the payment
//! provider, free during the trial), downgrade at the end of the period,
//! cancel at period end, resume. Each runs in the caller's transaction with
//! the subscription row locked, and writes exactly one audit event.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use crate::billing::{CheckoutOutcome, PaymentProvider, Purchase};
use crate::db::error::{DbError, DbResult};
use crate::db::models::Subscription;
use crate::db::schema::subscriptions;
use crate::db::usage::{effective_limits, org_and_subscription, used_in};
use crate::db::{audit, webhooks, Tenant};
use crate::domain::billing::{
    decide_change, downgrade_impact, ChangeDecision, Excess, Interval, SubscriptionState,
    DOWNGRADE_CHECKS,
};
use crate::domain::plans::Plan;
use crate::domain::subscription::Status;

/// The subscription as the pure rules see it.
pub fn state_of(sub: &Subscription) -> SubscriptionState {
    SubscriptionState {
        plan: sub.plan,
        status: sub.status,
        interval: sub.billing_interval,
        trial_ends_at: sub.trial_ends_at,
        current_period_end: sub.current_period_end,
        past_due_since: sub.past_due_since,
        cancel_at_period_end: sub.cancel_at_period_end,
        scheduled_plan: sub.scheduled_plan,
        has_payment_method: sub.has_payment_method,
    }
}

/// The tenant's subscription, locked for the rest of the transaction.
pub fn lock(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Subscription> {
    subscriptions::table
        .find(tenant.org_id())
        .select(Subscription::as_select())
        .for_update()
        .first(conn)
}

/// The fields an audit event shows before and after a change.
pub fn audit_json(sub: &SubscriptionState) -> serde_json::Value {
    json!({
        "plan": sub.plan.as_str(),
        "status": sub.status.as_str(),
        "interval": sub.interval.as_str(),
        "scheduled_plan": sub.scheduled_plan.map(Plan::as_str),
        "cancel_at_period_end": sub.cancel_at_period_end,
    })
}

/// What `change_plan` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// The new plan is in force now.
    Applied { from: Plan, to: Plan },
    /// The downgrade happens at `at` (the end of the current period).
    Scheduled { to: Plan, at: DateTime<Utc> },
    /// Nothing to change.
    Unchanged,
    /// Payment continues on the provider's page.
    Redirect(String),
}

/// Moves the tenant to `target` billed every `interval`, per `decide_change`.
/// A downgrade must have been confirmed by the caller.
pub fn change_plan(
    conn: &mut PgConnection,
    tenant: &Tenant,
    provider: &dyn PaymentProvider,
    target: Plan,
    interval: Interval,
    now: DateTime<Utc>,
) -> DbResult<ChangeOutcome> {
    let sub = lock(conn, tenant)?;
    let before = state_of(&sub);
    match decide_change(&before, target, interval, now) {
        ChangeDecision::Unchanged => Ok(ChangeOutcome::Unchanged),
        ChangeDecision::ScheduleAtPeriodEnd => {
            schedule_downgrade(conn, tenant, &before, target, now)
        }
        ChangeDecision::ApplyNow { payment } => {
            let mut after = SubscriptionState {
                plan: target,
                interval,
                scheduled_plan: None,
                cancel_at_period_end: false,
                ..before
            };
            if before.status == Status::Trial {
                set_plan_in_trial(conn, tenant, &after, now)?;
            } else {
                let start = now;
                let purchase = Purchase {
                    plan: target,
                    interval,
                    period_start: start,
                    period_end: interval.period_end(start),
                    charge_now: true,
                    made_at: now,
                };
                if payment {
                    if let CheckoutOutcome::Redirect(url) =
                        provider.start_checkout(conn, tenant, &purchase)?
                    {
                        return Ok(ChangeOutcome::Redirect(url));
                    }
                }
                after.status = Status::Active;
                after.past_due_since = None;
                start_new_period(conn, tenant, &after, &purchase, now)?;
            }
            let (b, a) = (audit_json(&before), audit_json(&after));
            audit::record(
                conn,
                tenant,
                "plan.changed",
                "subscription",
                Some(b),
                Some(a),
            )?;
            webhooks::subscription_updated(conn, tenant, now)?;
            Ok(ChangeOutcome::Applied {
                from: before.plan,
                to: target,
            })
        }
    }
}

fn set_plan_in_trial(
    conn: &mut PgConnection,
    tenant: &Tenant,
    after: &SubscriptionState,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set((
            subscriptions::plan.eq(after.plan),
            subscriptions::billing_interval.eq(after.interval),
            subscriptions::scheduled_plan.eq(None::<Plan>),
            subscriptions::cancel_at_period_end.eq(false),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

fn start_new_period(
    conn: &mut PgConnection,
    tenant: &Tenant,
    after: &SubscriptionState,
    purchase: &Purchase,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set((
            subscriptions::plan.eq(after.plan),
            subscriptions::status.eq(after.status),
            subscriptions::billing_interval.eq(after.interval),
            subscriptions::current_period_start.eq(purchase.period_start),
            subscriptions::current_period_end.eq(purchase.period_end),
            subscriptions::past_due_since.eq(None::<DateTime<Utc>>),
            subscriptions::scheduled_plan.eq(None::<Plan>),
            subscriptions::cancel_at_period_end.eq(false),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

fn schedule_downgrade(
    conn: &mut PgConnection,
    tenant: &Tenant,
    before: &SubscriptionState,
    target: Plan,
    now: DateTime<Utc>,
) -> DbResult<ChangeOutcome> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set((
            subscriptions::scheduled_plan.eq(Some(target)),
            subscriptions::cancel_at_period_end.eq(false),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)?;
    let after = SubscriptionState {
        scheduled_plan: Some(target),
        cancel_at_period_end: false,
        ..*before
    };
    let mut a = audit_json(&after);
    a["effective_at"] = json!(before.current_period_end);
    let b = audit_json(before);
    audit::record(
        conn,
        tenant,
        "plan.downgrade_scheduled",
        "subscription",
        Some(b),
        Some(a),
    )?;
    webhooks::subscription_updated(conn, tenant, now)?;
    Ok(ChangeOutcome::Scheduled {
        to: target,
        at: before.current_period_end,
    })
}

/// Cancels at the end of the period (a paid plan that is running); a
/// scheduled downgrade is dropped, since the subscription ends instead.
pub fn cancel(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> DbResult<DateTime<Utc>> {
    let before = state_of(&lock(conn, tenant)?);
    let running = matches!(before.status, Status::Active | Status::PastDue);
    if !running || !before.plan.is_paid() {
        return Err(DbError::Conflict(
            "Only a running paid subscription can be canceled.".into(),
        ));
    }
    if before.cancel_at_period_end {
        return Ok(before.current_period_end);
    }
    set_cancel_at_period_end(conn, tenant, &before, true, "plan.canceled", now)?;
    Ok(before.current_period_end)
}

/// Withdraws a pending cancellation or scheduled downgrade; false when there was none.
pub fn resume(conn: &mut PgConnection, tenant: &Tenant, now: DateTime<Utc>) -> DbResult<bool> {
    let before = state_of(&lock(conn, tenant)?);
    if !before.cancel_at_period_end && before.scheduled_plan.is_none() {
        return Ok(false);
    }
    set_cancel_at_period_end(conn, tenant, &before, false, "plan.resumed", now)?;
    Ok(true)
}

/// Sets or withdraws the cancellation at period end; either way a scheduled
/// downgrade is dropped. Records `action` with the state before and after.
fn set_cancel_at_period_end(
    conn: &mut PgConnection,
    tenant: &Tenant,
    before: &SubscriptionState,
    cancel: bool,
    action: &str,
    now: DateTime<Utc>,
) -> DbResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set((
            subscriptions::cancel_at_period_end.eq(cancel),
            subscriptions::scheduled_plan.eq(None::<Plan>),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)?;
    let after = SubscriptionState {
        cancel_at_period_end: cancel,
        scheduled_plan: None,
        ..*before
    };
    let (b, a) = (audit_json(before), audit_json(&after));
    audit::record(conn, tenant, action, "subscription", Some(b), Some(a))?;
    webhooks::subscription_updated(conn, tenant, now)?;
    Ok(())
}

/// Puts a payment method on file for the current plan without charging (the
/// charge comes at the end of the trial or period).
pub fn add_payment_method(
    conn: &mut PgConnection,
    tenant: &Tenant,
    provider: &dyn PaymentProvider,
    now: DateTime<Utc>,
) -> DbResult<CheckoutOutcome> {
    let sub = lock(conn, tenant)?;
    let state = state_of(&sub);
    let purchase = Purchase {
        plan: state.plan,
        interval: state.interval,
        period_start: sub.current_period_start,
        period_end: sub.current_period_end,
        charge_now: false,
        made_at: now,
    };
    let outcome = provider.start_checkout(conn, tenant, &purchase)?;
    if outcome == CheckoutOutcome::Completed && !sub.has_payment_method {
        let after = json!({ "has_payment_method": true });
        let before = json!({ "has_payment_method": false });
        audit::record(
            conn,
            tenant,
            "billing.payment_method_added",
            "subscription",
            Some(before),
            Some(after),
        )?;
    }
    Ok(outcome)
}

/// What exceeds `target`'s limits (with this organization's overrides) right now.
pub fn downgrade_impact_of(
    conn: &mut PgConnection,
    tenant: &Tenant,
    target: Plan,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Excess>> {
    let (organization, sub) = org_and_subscription(conn, tenant)?;
    let mut limits = target.spec().limits;
    for o in effective_limits(conn, tenant, &sub, now)?.overrides {
        limits.set(o.kind, o.value);
    }
    let tz = organization.tz();
    let used = DOWNGRADE_CHECKS
        .into_iter()
        .map(|kind| Ok((kind, used_in(conn, tenant, tz, kind, now)?)))
        .collect::<QueryResult<Vec<_>>>()?;
    Ok(downgrade_impact(&used, &limits))
}
