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
//! "waiting for confirmation".
//!
//! No Stripe call is made inside a database transaction: a Stripe call may
//! take seconds, and a transaction holding the subscription row and a pooled
//! connection that long stalls everything else that needs them. Each action
//! is three steps: a short transaction locks the row, decides and marks the
//! change as on its way (`pending_change`, so a second click is refused);
//! Stripe is called holding no connection and no lock; a second short
//! transaction records the outcome, or withdraws the mark on failure.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::PgConnection;
use serde_json::json;

use super::stripe::{PriceChange, StripeClient};
use super::stripe_provider::{refused, CheckoutWork, StripeProvider};
use super::Purchase;
use crate::db::models::Subscription;
use crate::db::plans::{self, ChangeOutcome};
use crate::db::{audit, billing, invoices, Db, DbError, DbResult, Tenant};
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

/// What the deciding transaction left to do.
enum Decided {
    /// Nothing to ask Stripe: the outcome is known.
    Done(FlowOutcome),
    /// Open a customer-portal session for `customer` (nothing to record).
    Portal { customer: String },
    /// Ask Stripe, with the change marked as on its way.
    Call(Work, Mark),
}

/// What is to be asked of Stripe.
enum Work {
    /// Move the subscription to another price, now or at the period end.
    Change(PriceMove),
    /// End the subscription at the period end (its schedule released first).
    Cancel {
        live: String,
        schedule: Option<String>,
    },
    /// Drop the change scheduled for the period end.
    KeepPlan {
        schedule: String,
        scheduled: Option<Plan>,
    },
    /// Withdraw a pending cancellation.
    Withdraw { live: String },
    /// Open a Checkout Session.
    Checkout(CheckoutWork),
}

/// A price change decided for the live subscription.
struct PriceMove {
    live: String,
    target: Plan,
    interval: Interval,
    /// `Some(proration_behavior)` to move now, `None` to schedule it.
    now: Option<&'static str>,
    /// The plan and interval before, and when the current period ends.
    from: (Plan, Interval),
    period_end: DateTime<Utc>,
}

/// What the Stripe step did: whether a schedule was released on the way
/// (that stands even when the main call failed), and the main call's result.
struct Called<T> {
    released: bool,
    result: Result<T, String>,
}

/// How a price change ended at Stripe.
enum Moved {
    Now(PriceChange),
    Scheduled(String),
}

/// The mark of an action on its way to Stripe: shown as "waiting for
/// confirmation", refusing a second action, withdrawn when Stripe fails.
#[derive(Debug, Clone)]
struct Mark {
    what: String,
    at: DateTime<Utc>,
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
    if live.is_some() {
        refuse_while_waiting(&link, now)?;
    }
    Ok((sub, link, live))
}

/// One change at a time: refused while another is on its way to Stripe or
/// waiting for its webhook.
fn refuse_while_waiting(link: &billing::StripeLink, now: DateTime<Utc>) -> DbResult<()> {
    match link.waiting(now) {
        Some(what) => Err(DbError::Conflict(format!(
            "{what} is still waiting for Stripe's confirmation; try again in a moment."
        ))),
        None => Ok(()),
    }
}

/// Marks `what` as on its way to Stripe (in the deciding transaction).
fn mark(
    conn: &mut PgConnection,
    tenant: &Tenant,
    what: &str,
    now: DateTime<Utc>,
) -> DbResult<Mark> {
    // The database keeps microseconds: the mark is found again by its instant.
    let at = now.trunc_subsecs(6);
    billing::set_pending(conn, tenant, what, at)?;
    Ok(Mark {
        what: what.to_string(),
        at,
    })
}

/// Withdraws the mark, unless a newer one (or Stripe's webhook) replaced it.
fn unmark(conn: &mut PgConnection, tenant: &Tenant, mark: &Mark) -> DbResult<()> {
    billing::clear_pending(conn, tenant, &mark.what, mark.at)?;
    Ok(())
}

/// Runs a Stripe call on the blocking pool, holding no database connection.
async fn outside<T, F>(call: F) -> DbResult<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    actix_web::web::block(call)
        .await
        .map_err(|e| DbError::Blocking(e.to_string()))
}

/// Moves the organization to `target` billed every `interval`.
pub async fn change_plan(
    db: &Db,
    tenant: Tenant,
    stripe: &StripeProvider,
    target: Plan,
    interval: Interval,
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    let provider = stripe.clone();
    let work = db
        .tx(move |conn| decide_plan_change(conn, &tenant, &provider, (target, interval), now))
        .await?;
    perform(db, tenant, stripe, work).await
}

/// Cancels at the end of the period.
pub async fn cancel(
    db: &Db,
    tenant: Tenant,
    stripe: &StripeProvider,
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    let work = db
        .tx(move |conn| {
            let (sub, link, live) = locked(conn, &tenant, now)?;
            match live {
                Some(live) => decide_cancel(conn, &tenant, &sub, &link, live, now),
                None => Ok(Decided::Done(FlowOutcome::EndsAt(plans::cancel(
                    conn, &tenant, now,
                )?))),
            }
        })
        .await?;
    perform(db, tenant, stripe, work).await
}

/// Withdraws a scheduled change (released at Stripe, confirmed by its
/// answer) or a pending cancellation (confirmed by the webhook).
pub async fn resume(
    db: &Db,
    tenant: Tenant,
    stripe: &StripeProvider,
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    let work = db.tx(move |conn| decide_resume(conn, &tenant, now)).await?;
    perform(db, tenant, stripe, work).await
}

/// Where the owner manages the payment method: the customer portal once
/// Stripe knows the customer; during the trial on a paid plan, a Checkout
/// that only collects the card (`trial_end` = the local trial end).
pub async fn payment_method(
    db: &Db,
    tenant: Tenant,
    stripe: &StripeProvider,
    now: DateTime<Utc>,
) -> DbResult<String> {
    let work = db
        .tx(move |conn| decide_payment_method(conn, &tenant, now))
        .await?;
    match perform(db, tenant, stripe, work).await? {
        FlowOutcome::Redirect(url) => Ok(url),
        _ => Err(DbError::Conflict(
            "Stripe did not open the payment page; try again.".into(),
        )),
    }
}

/// "Pay now": the newest open invoice on Stripe's hosted page.
pub fn pay_now(conn: &mut PgConnection, tenant: &Tenant) -> DbResult<String> {
    invoices::open_hosted_url(conn, tenant)?
        .ok_or_else(|| DbError::Conflict("There is no open invoice to pay.".into()))
}

/// Steps two and three: asks Stripe with no connection held, then records
/// the outcome in a short transaction (a failure withdraws the mark and
/// is told to the owner after that transaction committed).
async fn perform(
    db: &Db,
    tenant: Tenant,
    stripe: &StripeProvider,
    decided: Decided,
) -> DbResult<FlowOutcome> {
    let client = stripe.client.clone();
    let (work, mark) = match decided {
        Decided::Done(outcome) => return Ok(outcome),
        Decided::Portal { customer } => {
            let return_url = format!("{}/billing", stripe.public_url);
            return outside(move || client.create_portal_session(&customer, &return_url))
                .await?
                .map(FlowOutcome::Redirect)
                .map_err(refused);
        }
        Decided::Call(work, mark) => (work, mark),
    };
    let result = match work {
        Work::Change(change) => {
            let called = outside(move || {
                let called = call_price_move(&client, &change);
                (change, called)
            })
            .await?;
            db.tx(move |conn| record_price_move(conn, &tenant, called, &mark))
                .await?
        }
        Work::Cancel { live, schedule } => {
            let called = outside(move || call_cancel(&client, &live, schedule.as_deref())).await?;
            db.tx(move |conn| record_cancel(conn, &tenant, called, &mark))
                .await?
        }
        Work::KeepPlan {
            schedule,
            scheduled,
        } => {
            let called = outside(move || client.release_schedule(&schedule).map(drop)).await?;
            db.tx(move |conn| record_kept(conn, &tenant, called, scheduled, &mark))
                .await?
        }
        Work::Withdraw { live } => {
            let called = outside(move || client.withdraw_cancellation_of(&live)).await?;
            db.tx(move |conn| record_withdrawn(conn, &tenant, called, &mark))
                .await?
        }
        Work::Checkout(checkout) => {
            let provider = stripe.clone();
            let called = outside(move || {
                let (previous_gone, result) = provider.open_checkout(&checkout);
                Called {
                    released: previous_gone,
                    result,
                }
            })
            .await?;
            db.tx(move |conn| record_checkout(conn, &tenant, called, &mark))
                .await?
        }
    };
    result.map_err(refused)
}

/// Step one of a plan change, in the transaction holding the row.
fn decide_plan_change(
    conn: &mut PgConnection,
    tenant: &Tenant,
    stripe: &StripeProvider,
    (target, interval): (Plan, Interval),
    now: DateTime<Utc>,
) -> DbResult<Decided> {
    let (sub, link, live) = locked(conn, tenant, now)?;
    let decision = decide_change(&plans::state_of(&sub), target, interval, now);
    let Some(live) = live else {
        return decide_without_subscription(
            conn,
            tenant,
            stripe,
            (&sub, &link),
            decision,
            (target, interval),
            now,
        );
    };
    if sub.status == Status::PastDue {
        return Err(DbError::Conflict(
            "Pay the open invoice first (Pay now on the billing page), then change the plan."
                .into(),
        ));
    }
    if decision == ChangeDecision::Unchanged {
        return Ok(Decided::Done(FlowOutcome::Local(ChangeOutcome::Unchanged)));
    }
    if !target.is_paid() {
        return decide_cancel(conn, tenant, &sub, &link, live, now);
    }
    let upgrade = target.rank() > sub.plan.rank();
    let proration = match decision {
        // Trial: the price changes, nothing is owed until the trial ends.
        ChangeDecision::ApplyNow { payment: false } => Some("none"),
        ChangeDecision::ApplyNow { payment: true } if upgrade => Some("always_invoice"),
        _ => None,
    };
    let mark = mark(conn, tenant, &format!("Change to {}", target.name()), now)?;
    let change = PriceMove {
        live,
        target,
        interval,
        now: proration,
        from: (sub.plan, sub.billing_interval),
        period_end: sub.current_period_end,
    };
    Ok(Decided::Call(Work::Change(change), mark))
}

/// No Stripe subscription yet: a charged change opens Checkout; anything
/// else (a trial's change, a scheduled downgrade) follows the local rules.
fn decide_without_subscription(
    conn: &mut PgConnection,
    tenant: &Tenant,
    stripe: &StripeProvider,
    (sub, link): (&Subscription, &billing::StripeLink),
    decision: ChangeDecision,
    (target, interval): (Plan, Interval),
    now: DateTime<Utc>,
) -> DbResult<Decided> {
    let charged =
        decision == ChangeDecision::ApplyNow { payment: true } && sub.status != Status::Trial;
    if !charged {
        let outcome = plans::change_plan(conn, tenant, stripe, target, interval, now)?;
        return Ok(Decided::Done(FlowOutcome::Local(outcome)));
    }
    let purchase = Purchase {
        plan: target,
        interval,
        period_start: now,
        period_end: interval.period_end(now),
        charge_now: true,
        made_at: now,
    };
    decide_checkout(conn, tenant, sub, link, purchase, now)
}

/// A Checkout Session is decided: what it needs is read here, the call
/// made after this transaction.
fn decide_checkout(
    conn: &mut PgConnection,
    tenant: &Tenant,
    sub: &Subscription,
    link: &billing::StripeLink,
    purchase: Purchase,
    now: DateTime<Utc>,
) -> DbResult<Decided> {
    refuse_while_waiting(link, now)?;
    let work = CheckoutWork::of(conn, tenant, sub, link, purchase)?;
    let mark = mark(conn, tenant, "Checkout", now)?;
    Ok(Decided::Call(Work::Checkout(work), mark))
}

/// Asks Stripe to end the subscription at the period end (a scheduled change
/// is released first: the subscription ends instead).
fn decide_cancel(
    conn: &mut PgConnection,
    tenant: &Tenant,
    sub: &Subscription,
    link: &billing::StripeLink,
    live: String,
    now: DateTime<Utc>,
) -> DbResult<Decided> {
    if sub.cancel_at_period_end {
        return Ok(Decided::Done(FlowOutcome::EndsAt(sub.current_period_end)));
    }
    let mark = mark(conn, tenant, "Cancellation", now)?;
    let schedule = link.schedule.clone();
    Ok(Decided::Call(Work::Cancel { live, schedule }, mark))
}

fn decide_resume(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> DbResult<Decided> {
    let (sub, link, live) = locked(conn, tenant, now)?;
    let Some(live) = live else {
        let resumed = plans::resume(conn, tenant, now)?;
        return Ok(Decided::Done(FlowOutcome::Resumed(resumed)));
    };
    if let Some(schedule) = link.schedule.filter(|_| sub.scheduled_plan.is_some()) {
        let mark = mark(conn, tenant, "Keeping your plan", now)?;
        let scheduled = sub.scheduled_plan;
        return Ok(Decided::Call(
            Work::KeepPlan {
                schedule,
                scheduled,
            },
            mark,
        ));
    }
    if !sub.cancel_at_period_end {
        return Ok(Decided::Done(FlowOutcome::Resumed(false)));
    }
    let mark = mark(conn, tenant, "Resumption", now)?;
    Ok(Decided::Call(Work::Withdraw { live }, mark))
}

fn decide_payment_method(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> DbResult<Decided> {
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
        return decide_checkout(conn, tenant, &sub, &link, purchase, now);
    }
    match link.customer {
        Some(customer) => Ok(Decided::Portal { customer }),
        None => Err(DbError::Conflict(
            "Choose a paid plan first; the payment method is added at checkout.".into(),
        )),
    }
}

/// Step two of a price change: read the subscription, find the price, then
/// move it now (a kept schedule released first) or schedule it.
fn call_price_move(client: &StripeClient, change: &PriceMove) -> Called<Moved> {
    let mut released = false;
    let mut attempt = || -> Result<Moved, String> {
        let live = client.subscription(&change.live)?;
        let price = client.price_id(change.target, change.interval)?;
        let Some(proration) = change.now else {
            let id = client.schedule_price_change(&live, &price, change.interval)?;
            return Ok(Moved::Scheduled(id));
        };
        if let Some(schedule) = &live.schedule {
            client.release_schedule(schedule)?;
            released = true;
        }
        Ok(Moved::Now(client.move_price(&live, &price, proration)?))
    };
    let result = attempt();
    Called { released, result }
}

fn call_cancel(client: &StripeClient, live: &str, schedule: Option<&str>) -> Called<()> {
    if let Some(schedule) = schedule {
        if let Err(e) = client.release_schedule(schedule) {
            return Called {
                released: false,
                result: Err(e),
            };
        }
    }
    Called {
        released: schedule.is_some(),
        result: client.request_cancellation(live),
    }
}

/// Step three of a price change.
fn record_price_move(
    conn: &mut PgConnection,
    tenant: &Tenant,
    (change, called): (PriceMove, Called<Moved>),
    mark: &Mark,
) -> DbResult<Result<FlowOutcome, String>> {
    if called.released {
        billing::set_scheduled(conn, tenant, None, mark.at)?;
    }
    let moved = match called.result {
        Ok(moved) => moved,
        Err(e) => return failed(conn, tenant, mark, e),
    };
    let what = format!("Change to {}", change.target.name());
    match moved {
        Moved::Now(PriceChange::Applied) => {
            // The mark stays: the change now waits for Stripe's webhook.
            requested(conn, tenant, "plan.change_requested", &what).map(Ok)
        }
        Moved::Now(PriceChange::PaymentPending { invoice }) => {
            unmark(conn, tenant, mark)?;
            payment_declined(conn, tenant, change.target, invoice).map(Ok)
        }
        Moved::Scheduled(id) => {
            unmark(conn, tenant, mark)?;
            scheduled(conn, tenant, &change, &id, mark.at).map(Ok)
        }
    }
}

/// Stripe failed: the mark is withdrawn (the owner may try again), and the
/// error goes back to be told once this transaction has committed.
fn failed(
    conn: &mut PgConnection,
    tenant: &Tenant,
    mark: &Mark,
    error: String,
) -> DbResult<Result<FlowOutcome, String>> {
    unmark(conn, tenant, mark)?;
    Ok(Err(error))
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

/// Stripe's answer confirmed the schedule `id` for the period end.
fn scheduled(
    conn: &mut PgConnection,
    tenant: &Tenant,
    change: &PriceMove,
    id: &str,
    now: DateTime<Utc>,
) -> DbResult<FlowOutcome> {
    let to = (change.target, change.interval);
    billing::set_scheduled(conn, tenant, Some((to.0, to.1, id)), now)?;
    let before = json!({ "plan": change.from.0.as_str(), "interval": change.from.1.as_str() });
    let after = json!({ "scheduled_plan": to.0.as_str(), "scheduled_interval": to.1.as_str(),
        "effective_at": change.period_end, "schedule": id });
    audit::record(
        conn,
        tenant,
        "plan.downgrade_scheduled",
        "subscription",
        Some(before),
        Some(after),
    )?;
    Ok(FlowOutcome::Scheduled {
        to: to.0,
        interval: to.1,
        at: change.period_end,
    })
}

/// Stripe accepted `what`; it waits for the webhook (the mark stays), with
/// one audit event.
fn requested(
    conn: &mut PgConnection,
    tenant: &Tenant,
    action: &str,
    what: &str,
) -> DbResult<FlowOutcome> {
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

fn record_cancel(
    conn: &mut PgConnection,
    tenant: &Tenant,
    called: Called<()>,
    mark: &Mark,
) -> DbResult<Result<FlowOutcome, String>> {
    if called.released {
        billing::set_scheduled(conn, tenant, None, mark.at)?;
    }
    match called.result {
        Ok(()) => requested(conn, tenant, "plan.cancel_requested", "Cancellation").map(Ok),
        Err(e) => failed(conn, tenant, mark, e),
    }
}

fn record_kept(
    conn: &mut PgConnection,
    tenant: &Tenant,
    called: Result<(), String>,
    scheduled: Option<Plan>,
    mark: &Mark,
) -> DbResult<Result<FlowOutcome, String>> {
    if let Err(e) = called {
        return failed(conn, tenant, mark, e);
    }
    unmark(conn, tenant, mark)?;
    billing::set_scheduled(conn, tenant, None, mark.at)?;
    let before = json!({ "scheduled_plan": scheduled.map(Plan::as_str) });
    audit::record(
        conn,
        tenant,
        "plan.resumed",
        "subscription",
        Some(before),
        None,
    )?;
    Ok(Ok(FlowOutcome::Resumed(true)))
}

fn record_withdrawn(
    conn: &mut PgConnection,
    tenant: &Tenant,
    called: Result<(), String>,
    mark: &Mark,
) -> DbResult<Result<FlowOutcome, String>> {
    match called {
        Ok(()) => requested(conn, tenant, "plan.resume_requested", "Resumption").map(Ok),
        Err(e) => failed(conn, tenant, mark, e),
    }
}

fn record_checkout(
    conn: &mut PgConnection,
    tenant: &Tenant,
    called: Called<super::stripe::CheckoutSession>,
    mark: &Mark,
) -> DbResult<Result<FlowOutcome, String>> {
    unmark(conn, tenant, mark)?;
    match called.result {
        Ok(session) => {
            billing::set_checkout_session(conn, tenant, Some(&session.id))?;
            Ok(Ok(FlowOutcome::Redirect(session.url)))
        }
        Err(e) => {
            if called.released {
                // The previous session was expired (or is no longer open).
                billing::set_checkout_session(conn, tenant, None)?;
            }
            Ok(Err(e))
        }
    }
}
