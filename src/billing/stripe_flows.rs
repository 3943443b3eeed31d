//! The owner's plan actions when Stripe is configured. One Stripe
//! subscription per organization: the first paid plan goes through Checkout
//! (with `trial_end` during the trial); afterwards the subscription is changed
//! in place — an upgrade moves its item to the new price with
//! `proration_behavior=always_invoice` (the difference charged now) and
//! `payment_behavior=pending_if_incomplete` (a declined payment leaves the
//! plan as paid and the change pending at Stripe, never granted), a
//! downgrade or interval switch is a subscription schedule for the period end,
//! cancel and resume set `cancel_at_period_end`. The plan and status change
//! locally only when Stripe's webhook confirms; meanwhile the change is
//! "waiting for confirmation". Each action runs in the caller's transaction
//! with the subscription row locked, so two clicks cannot start two.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde_json::json;

use super::stripe::{LiveSubscription, PriceChange};
use super::stripe_provider::{refused, StripeProvider};
use super::Purchase;
use crate::db::models::Subscription;
use crate::db::plans::{self, ChangeOutcome};
use crate::db::{audit, billing, invoices, DbError, DbResult, Tenant};
use crate::domain::billing::{decide_change, ChangeDecision, Interval};
use crate::domain::plans::Plan;
use crate::domain::subscription::Status;

/// What an owner's action did in Stripe mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowOutcome {
    /// Continue on Stripe's page (Checkout, the portal, the invoice).
    Redirect(String),
    /// Stripe accepted the change; the webhook applies it.
    Pending(String),
    /// The payment for an upgrade to `to` was declined: Stripe left the
    /// change pending and the plan stays as paid.
    PaymentDeclined { to: Plan },
    /// Stripe will switch to `to` billed every `interval` at `at`.
    Scheduled {
        to: Plan,
        interval: Interval,
        at: DateTime<Utc>,
    },
    /// No Stripe subscription is involved: the local rules applied.
    Local(ChangeOutcome),
    /// The subscription ends at the end of its period (local).
    EndsAt(DateTime<Utc>),
    /// A pending cancellation or scheduled change was withdrawn (false: none).
    Resumed(bool),
}

/// The subscription locked, with its Stripe subscription when one is running.
fn locked(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> DbResult<(Subscription, billing::StripeLink, Option<String>)> {
    let sub = plans::lock(conn, tenant)?;
    let link = billing::stripe_link(conn, tenant)?;
    let running = matches!(sub.status, Status::Trial | Status::Active | Status::PastDue);
    let live = link.subscription.clone().filter(|_| running);
    if live.is_some() && link.waiting(now).is_some() {
        return Err(DbError::Conflict(
            "A change is still waiting for Stripe's confirmation; try again in a moment.".into(),
        ));
    }
    Ok((sub, link, live))
}

/// Moves the organization to `target` billed every `interval`.
pub fn change_plan(
    conn: &mut PgConnection,
    tenant: &Tenant,
    stripe: &StripeProvider,
    target: Plan,
    interval: Interval,
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    let (sub, link, live) = locked(conn, tenant, now)?;
    let Some(live) = live else {
        let outcome = plans::change_plan(conn, tenant, stripe, target, interval, now)?;
        return Ok(match outcome {
            ChangeOutcome::Redirect(url) => FlowOutcome::Redirect(url),
            other => FlowOutcome::Local(other),
        });
    };
    if sub.status == Status::PastDue {
        return Err(DbError::Conflict(
            "Pay the open invoice first (Pay now on the billing page), then change the plan."
                .into(),
        ));
    }
    let decision = decide_change(&plans::state_of(&sub), target, interval, now);
    if decision == ChangeDecision::Unchanged {
        return Ok(FlowOutcome::Local(ChangeOutcome::Unchanged));
    }
    if !target.is_paid() {
        return request_cancel(conn, tenant, stripe, &sub, &link, &live, now);
    }
    let live = stripe.client.subscription(&live).map_err(refused)?;
    let price = stripe.client.price_id(target, interval).map_err(refused)?;
    let upgrade = target.rank() > sub.plan.rank();
    match decision {
        ChangeDecision::ApplyNow { payment: false } => {
            // Trial: the price changes, nothing is owed until the trial ends.
            move_price(conn, tenant, stripe, &live, &price, "none", target, now)
        }
        ChangeDecision::ApplyNow { payment: true } if upgrade => move_price(
            conn,
            tenant,
            stripe,
            &live,
            &price,
            "always_invoice",
            target,
            now,
        ),
        _ => schedule(
            conn,
            tenant,
            stripe,
            &sub,
            &live,
            &price,
            (target, interval),
            now,
        ),
    }
}

/// Moves the subscription item to `price` now (a scheduled change is dropped first).
#[allow(clippy::too_many_arguments)]
fn move_price(
    conn: &mut PgConnection,
    tenant: &Tenant,
    stripe: &StripeProvider,
    live: &LiveSubscription,
    price: &str,
    proration: &str,
    target: Plan,
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    if let Some(schedule) = &live.schedule {
        release(conn, tenant, stripe, schedule, now)?;
    }
    let change = stripe
        .client
        .change_price(live, price, proration)
        .map_err(refused)?;
    if let PriceChange::PaymentPending { invoice } = change {
        return payment_declined(conn, tenant, target, invoice);
    }
    let what = format!("Change to {}", target.name());
    requested(conn, tenant, "plan.change_requested", &what, now)
}

/// The upgrade's payment did not go through: Stripe kept the change pending
/// and the subscription on the plan already paid for. Nothing waits for a
/// webhook here (the plan does not change); the owner is told, and the
/// attempt is audited.
fn payment_declined(
    conn: &mut PgConnection,
    tenant: &Tenant,
    target: Plan,
    invoice: Option<String>,
) -> DbResult<FlowOutcome> {
    audit::record(
        conn,
        tenant,
        "plan.change_payment_declined",
        "subscription",
        None,
        Some(json!({ "requested": target.as_str(), "invoice": invoice })),
    )?;
    Ok(FlowOutcome::PaymentDeclined { to: target })
}

/// Drops the scheduled change at Stripe (its answer confirms it) and here.
fn release(
    conn: &mut PgConnection,
    tenant: &Tenant,
    stripe: &StripeProvider,
    schedule: &str,
    now: DateTime<Utc>,
) -> DbResult<()> {
    stripe.client.release_schedule(schedule).map_err(refused)?;
    billing::set_scheduled(conn, tenant, None, now)?;
    Ok(())
}

/// Schedules `to` for the end of the current period.
#[allow(clippy::too_many_arguments)]
fn schedule(
    conn: &mut PgConnection,
    tenant: &Tenant,
    stripe: &StripeProvider,
    sub: &Subscription,
    live: &LiveSubscription,
    price: &str,
    to: (Plan, Interval),
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    let id = stripe
        .client
        .schedule_price_change(live, price, to.1)
        .map_err(refused)?;
    billing::set_scheduled(conn, tenant, Some((to.0, to.1, &id)), now)?;
    let after = json!({ "scheduled_plan": to.0.as_str(), "scheduled_interval": to.1.as_str(),
        "effective_at": sub.current_period_end, "schedule": id });
    audit::record(
        conn,
        tenant,
        "plan.downgrade_scheduled",
        "subscription",
        Some(json!({ "plan": sub.plan.as_str(), "interval": sub.billing_interval.as_str() })),
        Some(after),
    )?;
    Ok(FlowOutcome::Scheduled {
        to: to.0,
        interval: to.1,
        at: sub.current_period_end,
    })
}

/// Marks the change as waiting for Stripe's webhook, with one audit event.
fn requested(
    conn: &mut PgConnection,
    tenant: &Tenant,
    action: &str,
    what: &str,
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    billing::set_pending(conn, tenant, what, now)?;
    audit::record(
        conn,
        tenant,
        action,
        "subscription",
        None,
        Some(json!({ "requested": what })),
    )?;
    Ok(FlowOutcome::Pending(what.to_string()))
}

/// Asks Stripe to end the subscription at the period end (a scheduled change
/// is released first: the subscription ends instead).
fn request_cancel(
    conn: &mut PgConnection,
    tenant: &Tenant,
    stripe: &StripeProvider,
    sub: &Subscription,
    link: &billing::StripeLink,
    live: &str,
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    if sub.cancel_at_period_end {
        return Ok(FlowOutcome::EndsAt(sub.current_period_end));
    }
    if let Some(schedule) = &link.schedule {
        release(conn, tenant, stripe, schedule, now)?;
    }
    stripe
        .client
        .set_cancel_at_period_end(live, true)
        .map_err(refused)?;
    requested(conn, tenant, "plan.cancel_requested", "Cancellation", now)
}

/// Cancels at the end of the period.
pub fn cancel(
    conn: &mut PgConnection,
    tenant: &Tenant,
    stripe: &StripeProvider,
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    let (sub, link, live) = locked(conn, tenant, now)?;
    match live {
        Some(live) => request_cancel(conn, tenant, stripe, &sub, &link, &live, now),
        None => Ok(FlowOutcome::EndsAt(plans::cancel(conn, tenant, now)?)),
    }
}

/// Withdraws a scheduled change (released at Stripe, confirmed by its
/// answer) or a pending cancellation (confirmed by the webhook).
pub fn resume(
    conn: &mut PgConnection,
    tenant: &Tenant,
    stripe: &StripeProvider,
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    let (sub, link, live) = locked(conn, tenant, now)?;
    let Some(live) = live else {
        return Ok(FlowOutcome::Resumed(plans::resume(conn, tenant, now)?));
    };
    if let Some(schedule) = link
        .schedule
        .as_ref()
        .filter(|_| sub.scheduled_plan.is_some())
    {
        release(conn, tenant, stripe, schedule, now)?;
        let before = json!({ "scheduled_plan": sub.scheduled_plan.map(Plan::as_str) });
        audit::record(
            conn,
            tenant,
            "plan.resumed",
            "subscription",
            Some(before),
            None,
        )?;
        return Ok(FlowOutcome::Resumed(true));
    }
    if !sub.cancel_at_period_end {
        return Ok(FlowOutcome::Resumed(false));
    }
    let live = stripe.client.subscription(&live).map_err(refused)?;
    stripe
        .client
        .withdraw_cancellation(&live)
        .map_err(refused)?;
    requested(conn, tenant, "plan.resume_requested", "Resumption", now)
}

/// Where the owner manages the payment method: the customer portal once
/// Stripe knows the customer; during the trial on a paid plan, a Checkout
/// that only collects the card (`trial_end` = the local trial end).
pub fn payment_method(
    conn: &mut PgConnection,
    tenant: &Tenant,
    stripe: &StripeProvider,
    now: DateTime<Utc>,
) -> DbResult<String> {
    let (sub, link, live) = locked(conn, tenant, now)?;
    if sub.status == Status::Trial && live.is_none() {
        if !sub.plan.is_paid() {
            return Err(DbError::Conflict(
                "Choose a paid plan to try first; its card is added for after the trial.".into(),
            ));
        }
        let purchase = Purchase {
            plan: sub.plan,
            interval: sub.billing_interval,
            period_start: now,
            period_end: sub.trial_ends_at.unwrap_or(now),
            charge_now: false,
            made_at: now,
        };
        return stripe.checkout(conn, tenant, &purchase);
    }
    let Some(customer) = link.customer else {
        return Err(DbError::Conflict(
            "Choose a paid plan first; the payment method is added at checkout.".into(),
        ));
    };
    let return_url = format!("{}/billing", stripe.public_url);
    stripe
        .client
        .create_portal_session(&customer, &return_url)
        .map_err(refused)
}

/// "Pay now": the newest open invoice on Stripe's hosted page.
pub fn pay_now(conn: &mut PgConnection, tenant: &Tenant) -> DbResult<String> {
    invoices::open_hosted_url(conn, tenant)?
        .ok_or_else(|| DbError::Conflict("There is no open invoice to pay.".into()))
}
