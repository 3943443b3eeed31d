//! What one provider event changes, applied under the subscription row lock.
//! Order safety is per object: a subscription keeps the version of the last
//! of its own events applied to it (`provider_state_at`: the event's
//! `created` plus a microsecond rank created < updated < deleted, so
//! same-second events still order), an invoice keeps its own
//! (`invoices.provider_state_at`), and an older event never rolls either
//! back. Invoice events drive invoices and dunning only (a failed payment
//! makes a running subscription PAST_DUE and tells the owners once per
//! attempt; a payment ends PAST_DUE); they never stamp the subscription's
//! version, so they cannot make its own events look stale. An invoice of
//! another subscription than the linked one is filed but moves nothing.

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::provider_event::{Outcome, ProviderEvent, Setting};
use crate::billing::billing_mail;
use crate::billing::stripe::parse_lookup_key;
use crate::db::invoices::{
    self, InvoiceStatus, NewLine, ProviderInvoice, ProviderTax, Synced, Taxing,
};
use crate::db::schema::subscriptions;
use crate::db::{audit, notices, Tenant};
use crate::domain::billing::Interval;
use crate::domain::plans::Plan;
use crate::domain::subscription::Status;
use crate::ids::OrgId;

/// Links the customer an event names to the organization it names, once.
/// Returns the customer when this event made the link (pending events may
/// now be applied).
pub(super) fn link_customer(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
) -> QueryResult<Option<String>> {
    let Some(customer) = event.customer() else {
        return Ok(None);
    };
    let names_org = event.str_at(&["client_reference_id"]).is_some()
        || event.str_at(&["metadata", "organization_id"]).is_some();
    if !names_org {
        return Ok(None);
    }
    let linked = diesel::update(
        subscriptions::table
            .find(tenant.org_id())
            .filter(subscriptions::provider_customer_id.is_null()),
    )
    .set((
        subscriptions::provider_customer_id.eq(customer),
        subscriptions::provider.eq("stripe"),
    ))
    .execute(conn)?;
    Ok((linked == 1).then(|| customer.to_string()))
}

/// Applies one event to the organization's subscription and invoices.
pub(super) fn apply(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
    site: &Setting,
    now: DateTime<Utc>,
) -> QueryResult<Outcome> {
    let before = lock_status(conn, tenant.org_id())?;
    let outcome = match event.kind.as_str() {
        "checkout.session.completed" => checkout_session_completed(conn, tenant, event, site, now)?,
        "customer.subscription.created" => subscription_event(conn, tenant, event, 1)?,
        "customer.subscription.updated" => subscription_event(conn, tenant, event, 2)?,
        "customer.subscription.deleted" => subscription_event(conn, tenant, event, 3)?,
        "customer.subscription.trial_will_end" => trial_will_end(conn, tenant, event, now)?,
        "payment_method.attached" => payment_method_attached(conn, tenant)?,
        "subscription_schedule.released" | "subscription_schedule.completed" => {
            schedule_ended(conn, tenant, event)?
        }
        kind if kind.starts_with("invoice.") => invoice_event(conn, tenant, event, site, now)?,
        _ => Outcome::Ignored,
    };
    if outcome == Outcome::Applied {
        let after = lock_status(conn, tenant.org_id())?;
        diesel::update(subscriptions::table.find(tenant.org_id()))
            .set(subscriptions::updated_at.eq(now))
            .execute(conn)?;
        audit::record(
            conn,
            tenant,
            &format!("billing.{}", event.kind),
            &event.id,
            Some(serde_json::json!({ "status": before })),
            Some(serde_json::json!({ "status": after })),
        )?;
        crate::db::webhooks::subscription_updated(conn, tenant, now)?;
    }
    Ok(outcome)
}

/// Locks the subscription row (every event of an organization waits here)
/// and reads its status.
fn lock_status(conn: &mut PgConnection, org: OrgId) -> QueryResult<Status> {
    subscriptions::table
        .find(org)
        .select(subscriptions::status)
        .for_update()
        .first(conn)
}

/// The version of `event` for an object: its time plus a rank in microseconds.
fn version(event: &ProviderEvent, rank: i64) -> DateTime<Utc> {
    event.created + Duration::microseconds(rank)
}

/// True (and the version stored) when `event` is not older than the last
/// event applied to the subscription.
fn claim_subscription_version(
    conn: &mut PgConnection,
    org: OrgId,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    let last: Option<DateTime<Utc>> = subscriptions::table
        .find(org)
        .select(subscriptions::provider_state_at)
        .first(conn)?;
    if last.is_some_and(|t| at < t) {
        return Ok(false);
    }
    diesel::update(subscriptions::table.find(org))
        .set(subscriptions::provider_state_at.eq(Some(at)))
        .execute(conn)?;
    Ok(true)
}

type Effect = fn(&mut PgConnection, OrgId, &ProviderEvent) -> QueryResult<()>;

/// Runs `effect` when the event is the newest the subscription has seen.
fn gated(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
    rank: i64,
    effect: Effect,
) -> QueryResult<Outcome> {
    let org = tenant.org_id();
    if !claim_subscription_version(conn, org, version(event, rank))? {
        return Ok(Outcome::Stale);
    }
    effect(conn, org, event)?;
    Ok(Outcome::Applied)
}

/// created / updated / deleted of the organization's subscription; events
/// of another (an earlier, ended) subscription are only recorded.
fn subscription_event(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
    rank: i64,
) -> QueryResult<Outcome> {
    let current: Option<String> = subscriptions::table
        .find(tenant.org_id())
        .select(subscriptions::provider_subscription_id)
        .first(conn)?;
    let id = event.str_at(&["id"]);
    if current.is_some() && current.as_deref() != id {
        return Ok(Outcome::Stale);
    }
    let effect: Effect = if rank == 3 {
        subscription_deleted
    } else {
        subscription_changed
    };
    gated(conn, tenant, event, rank, effect)
}

/// The plan and interval of a subscription object: its item's price lookup
/// key, else our metadata.
fn plan_of(event: &ProviderEvent) -> Option<(Plan, Option<Interval>)> {
    let price = event.object.pointer("/items/data/0/price");
    if let Some((plan, interval)) = price
        .and_then(|p| p.get("lookup_key"))
        .and_then(Value::as_str)
        .and_then(parse_lookup_key)
    {
        return Some((plan, Some(interval)));
    }
    let plan = event.str_at(&["metadata", "plan"])?.parse().ok()?;
    let interval = event
        .str_at(&["metadata", "interval"])
        .and_then(|i| Interval::ALL.into_iter().find(|x| x.as_str() == i));
    Some((plan, interval))
}

/// Stripe subscription status → ours (`incomplete` changes nothing).
fn map_status(stripe: &str) -> Option<Status> {
    Some(match stripe {
        "active" => Status::Active,
        "trialing" => Status::Trial,
        "past_due" | "unpaid" => Status::PastDue,
        "canceled" => Status::Canceled,
        "incomplete_expired" => Status::Expired,
        _ => return None,
    })
}

/// Checkout completed. The guard against a second subscription comes
/// before the order check: whichever of two completed Checkouts arrives
/// second, its subscription must end.
fn checkout_session_completed(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
    setting: &Setting,
    now: DateTime<Utc>,
) -> QueryResult<Outcome> {
    let org = tenant.org_id();
    if let Some(session) = event.str_at(&["id"]) {
        diesel::update(
            subscriptions::table
                .find(org)
                .filter(subscriptions::checkout_session_id.eq(session)),
        )
        .set(subscriptions::checkout_session_id.eq(None::<String>))
        .execute(conn)?;
    }
    if let Some(pair) = second_subscription(conn, org, event)? {
        end_second_subscription(conn, tenant, pair, setting, now)?;
        return Ok(Outcome::Applied);
    }
    gated(conn, tenant, event, 0, checkout_completed)
}

/// (the live subscription, the session's other one) when the organization
/// already runs a different subscription than the one this Checkout made.
fn second_subscription(
    conn: &mut PgConnection,
    org: OrgId,
    event: &ProviderEvent,
) -> QueryResult<Option<(String, String)>> {
    let Some(new) = event.str_at(&["subscription"]) else {
        return Ok(None);
    };
    let (status, current): (Status, Option<String>) = subscriptions::table
        .find(org)
        .select((
            subscriptions::status,
            subscriptions::provider_subscription_id,
        ))
        .first(conn)?;
    Ok(current
        .filter(|c| running(status) && c != new)
        .map(|c| (c, new.to_string())))
}

/// Ends the second subscription at Stripe now (its unused time credited),
/// with an audit entry and a notice to owners and admins. Until Stripe has
/// ended it the event is not done: the error rolls it back, the webhook
/// answers 500 and Stripe delivers it again.
fn end_second_subscription(
    conn: &mut PgConnection,
    tenant: &Tenant,
    (kept, second): (String, String),
    setting: &Setting,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let ended = match setting.stripe {
        Some(stripe) => stripe.cancel_second(&second),
        None => Err("Stripe is not configured".into()),
    };
    if let Err(e) = ended {
        tracing::warn!(error = %e, subscription = %second, "ending a second subscription failed");
        return Err(diesel::result::Error::RollbackTransaction);
    }
    audit::record(
        conn,
        tenant,
        "billing.second_subscription_canceled",
        "subscription",
        Some(serde_json::json!({ "subscription": kept })),
        Some(serde_json::json!({ "canceled": second })),
    )?;
    let message = "A second subscription was started from another Checkout page. It was \
                   canceled at once and its unused time credited at Stripe; your plan is unchanged.";
    let key = format!("second_subscription:{second}");
    notices::notify_admins(conn, tenant, "billing", message, &key, now)?;
    Ok(())
}

fn checkout_completed(
    conn: &mut PgConnection,
    org: OrgId,
    event: &ProviderEvent,
) -> QueryResult<()> {
    let payment_status = event.str_at(&["payment_status"]);
    let settled = matches!(payment_status, Some("paid" | "no_payment_required"));
    confirmed(conn, org, event.str_at(&["subscription"]))?;
    if settled {
        diesel::update(subscriptions::table.find(org))
            .set(subscriptions::has_payment_method.eq(true))
            .execute(conn)?;
    }
    if payment_status != Some("paid") {
        return Ok(());
    }
    set_status(conn, org, Status::Active, event.created)?;
    if let Some((plan, interval)) = plan_of(event) {
        set_plan(conn, org, plan, interval)?;
    }
    Ok(())
}

/// Stripe confirmed the subscription `id`: linked, nothing waiting any more.
fn confirmed(conn: &mut PgConnection, org: OrgId, id: Option<&str>) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(org))
        .set((
            subscriptions::provider.eq("stripe"),
            subscriptions::provider_subscription_id.eq(id),
            subscriptions::pending_change.eq(None::<String>),
            subscriptions::pending_since.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .map(drop)
}

fn subscription_changed(
    conn: &mut PgConnection,
    org: OrgId,
    event: &ProviderEvent,
) -> QueryResult<()> {
    confirmed(conn, org, event.str_at(&["id"]))?;
    if let Some(status) = event.str_at(&["status"]).and_then(map_status) {
        set_status(conn, org, status, event.created)?;
    }
    if let Some((plan, interval)) = plan_of(event) {
        set_plan(conn, org, plan, interval)?;
    }
    set_period(conn, org, event)?;
    if let Some(schedule) = event.object.get("schedule") {
        // Stripe's word on the attached schedule (null once released).
        diesel::update(subscriptions::table.find(org))
            .set(subscriptions::provider_schedule_id.eq(schedule.as_str()))
            .execute(conn)?;
    }
    if let Some(cancel) = event
        .object
        .get("cancel_at_period_end")
        .and_then(Value::as_bool)
    {
        // In flexible billing mode the customer portal cancels with a date
        // (`cancel_at`) and leaves `cancel_at_period_end` false: either one
        // is a pending end.
        let dated = event.object.get("cancel_at").is_some_and(|v| !v.is_null());
        diesel::update(subscriptions::table.find(org))
            .set(subscriptions::cancel_at_period_end.eq(cancel || dated))
            .execute(conn)?;
    }
    Ok(())
}

/// The current period the subscription object reports, if it does.
fn set_period(conn: &mut PgConnection, org: OrgId, event: &ProviderEvent) -> QueryResult<()> {
    if let (Some(start), Some(end)) = (
        event.time_at("current_period_start"),
        event.time_at("current_period_end"),
    ) {
        diesel::update(subscriptions::table.find(org))
            .set((
                subscriptions::current_period_start.eq(start),
                subscriptions::current_period_end.eq(end),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The subscription ended: CANCELED (the Free limits apply, nothing is
/// deleted) and unlinked, so a later plan starts a new one. A subscription
/// that had already EXPIRED here (its grace period ran out and the app ended
/// it at Stripe) keeps that cause: CANCELED means the owner chose to end it.
fn subscription_deleted(
    conn: &mut PgConnection,
    org: OrgId,
    event: &ProviderEvent,
) -> QueryResult<()> {
    if let Some((plan, interval)) = plan_of(event) {
        set_plan(conn, org, plan, interval)?;
    }
    set_period(conn, org, event)?;
    let ended = match lock_status(conn, org)? {
        Status::Expired => Status::Expired,
        _ => Status::Canceled,
    };
    diesel::update(subscriptions::table.find(org))
        .set((
            subscriptions::status.eq(ended),
            subscriptions::past_due_since.eq(None::<DateTime<Utc>>),
            subscriptions::cancel_at_period_end.eq(false),
            subscriptions::scheduled_plan.eq(None::<Plan>),
            subscriptions::scheduled_interval.eq(None::<String>),
            subscriptions::provider_schedule_id.eq(None::<String>),
            subscriptions::provider_subscription_id.eq(None::<String>),
            subscriptions::pending_change.eq(None::<String>),
            subscriptions::pending_since.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets plan and interval; a scheduled change that has now happened is done.
fn set_plan(
    conn: &mut PgConnection,
    org: OrgId,
    plan: Plan,
    interval: Option<Interval>,
) -> QueryResult<()> {
    let row = subscriptions::table.find(org);
    diesel::update(row)
        .set(subscriptions::plan.eq(plan))
        .execute(conn)?;
    if let Some(interval) = interval {
        diesel::update(row)
            .set(subscriptions::billing_interval.eq(interval))
            .execute(conn)?;
    }
    let (scheduled, scheduled_interval): (Option<Plan>, Option<String>) = row
        .select((
            subscriptions::scheduled_plan,
            subscriptions::scheduled_interval,
        ))
        .first(conn)?;
    let reached = scheduled == Some(plan)
        && (scheduled_interval.is_none()
            || scheduled_interval.as_deref() == interval.map(Interval::as_str));
    if reached {
        // The schedule itself stays attached at Stripe until its last phase
        // ends (then it is released): its id is kept, so a later cancel or
        // change releases it first.
        diesel::update(row)
            .set((
                subscriptions::scheduled_plan.eq(None::<Plan>),
                subscriptions::scheduled_interval.eq(None::<String>),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Sets the status; PAST_DUE keeps the first moment it became past due.
fn set_status(
    conn: &mut PgConnection,
    org: OrgId,
    status: Status,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    let since: Option<DateTime<Utc>> = subscriptions::table
        .find(org)
        .select(subscriptions::past_due_since)
        .first(conn)?;
    let past_due_since = match status {
        Status::PastDue => since.or(Some(at)),
        _ => None,
    };
    diesel::update(subscriptions::table.find(org))
        .set((
            subscriptions::status.eq(status),
            subscriptions::past_due_since.eq(past_due_since),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stripe released (or completed) a schedule: it no longer manages the
/// subscription, so nothing needs releasing before a cancel.
fn schedule_ended(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
) -> QueryResult<Outcome> {
    let Some(id) = event.str_at(&["id"]) else {
        return Ok(Outcome::Ignored);
    };
    let cleared = diesel::update(
        subscriptions::table
            .find(tenant.org_id())
            .filter(subscriptions::provider_schedule_id.eq(id)),
    )
    .set(subscriptions::provider_schedule_id.eq(None::<String>))
    .execute(conn)?;
    Ok(if cleared == 1 {
        Outcome::Applied
    } else {
        Outcome::Ignored
    })
}

fn payment_method_attached(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Outcome> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set(subscriptions::has_payment_method.eq(true))
        .execute(conn)?;
    Ok(Outcome::Applied)
}

/// Three days before a Stripe trial ends: a notice for owners and admins.
fn trial_will_end(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
    now: DateTime<Utc>,
) -> QueryResult<Outcome> {
    let ends = event
        .time_at("trial_end")
        .map(|t| t.format("%-d %B %Y").to_string())
        .unwrap_or_else(|| "soon".into());
    let message = format!(
        "Your trial ends on {ends}. The payment method on file is charged then; \
         cancel before if you do not want to continue."
    );
    let key = format!("trial_will_end:{}", event.str_at(&["id"]).unwrap_or(""));
    notices::notify_admins(conn, tenant, "billing", &message, &key, now)?;
    Ok(Outcome::Applied)
}

/// The local status an invoice event means, and its rank among the events
/// of one invoice (created < finalized < payment_failed, payment_action_required
/// < paid / voided / deleted). A deleted draft becomes void: drafts are
/// numbered when mirrored, so removing the row would leave a gap in the
/// sequence; void is final, so a late `invoice.created` cannot bring it back.
fn invoice_status(kind: &str) -> Option<(InvoiceStatus, i64)> {
    Some(match kind {
        "invoice.created" => (InvoiceStatus::Draft, 1),
        "invoice.finalized" => (InvoiceStatus::Open, 2),
        "invoice.payment_failed" | "invoice.payment_action_required" => (InvoiceStatus::Open, 3),
        "invoice.paid" => (InvoiceStatus::Paid, 4),
        "invoice.voided" | "invoice.deleted" => (InvoiceStatus::Void, 4),
        _ => return None,
    })
}

/// Mirrors the invoice (per-invoice order), then lets a payment or a failed
/// payment move the subscription (per-subscription order).
fn invoice_event(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
    setting: &Setting,
    now: DateTime<Utc>,
) -> QueryResult<Outcome> {
    let site = setting.site;
    let (Some((status, rank)), Some(id)) = (invoice_status(&event.kind), event.str_at(&["id"]))
    else {
        return Ok(Outcome::Ignored);
    };
    let lines = invoice_lines(event);
    let taxing = Taxing {
        seller: setting.vat.seller,
        provider: setting.vat.stripe_tax.then(|| stripe_tax(event)).flatten(),
    };
    let seller = setting.vat.seller_snapshot();
    let total: i64 = lines
        .iter()
        .map(|l| l.unit_cents * i64::from(l.quantity))
        .sum();
    if total <= 0 {
        // Nothing billed (the zero invoice that opens a trial, a credit): not an invoice to file.
        return Ok(Outcome::Ignored);
    }
    let invoice = ProviderInvoice {
        id,
        status,
        version: version(event, rank),
        hosted_url: event.str_at(&["hosted_invoice_url"]),
        lines: &lines,
        taxing,
        seller: &seller,
        period: billed_period(event),
    };
    match invoices::sync_provider_invoice(conn, tenant, &invoice, now)? {
        Synced::Unchanged => return Ok(Outcome::Stale),
        Synced::Issued(issued) => billing_mail::invoice_issued(conn, tenant, &issued, site, now)?,
        Synced::Updated => {}
    }
    if event.kind == "invoice.payment_action_required" {
        confirmation_requested(conn, tenant, event, id, site, now)?;
    }
    // Ordered by the invoice's own version above; the subscription's version
    // is its own events' alone, so an invoice event never makes a
    // subscription event look stale (nor the reverse).
    let paid_or_failed = matches!(
        event.kind.as_str(),
        "invoice.paid" | "invoice.payment_failed"
    );
    if paid_or_failed && of_linked_subscription(conn, tenant.org_id(), event)? {
        payment_outcome(conn, tenant, event, id, site, now)?;
    }
    Ok(Outcome::Applied)
}

/// The subscription an invoice bills: `subscription` (older API versions)
/// or `parent.subscription_details.subscription` (2025-03-31 and later).
fn invoice_subscription(event: &ProviderEvent) -> Option<&str> {
    event
        .str_at(&["subscription"])
        .or_else(|| event.str_at(&["parent", "subscription_details", "subscription"]))
}

/// Whether the invoice bills the organization's linked subscription (or
/// names none): an ended or second subscription's invoice is filed, but its
/// payment outcome must not move the current subscription.
fn of_linked_subscription(
    conn: &mut PgConnection,
    org: OrgId,
    event: &ProviderEvent,
) -> QueryResult<bool> {
    let Some(billed) = invoice_subscription(event) else {
        return Ok(true);
    };
    let linked: Option<String> = subscriptions::table
        .find(org)
        .select(subscriptions::provider_subscription_id)
        .first(conn)?;
    Ok(linked.is_none_or(|l| l == billed))
}

/// A payment settles PAST_DUE (or an expired grace whose Stripe subscription
/// could not be ended and was paid after all); a failed one makes a running
/// (or converting trial) subscription PAST_DUE and tells the owners (once
/// per attempt).
fn payment_outcome(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
    invoice: &str,
    site: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let org = tenant.org_id();
    let status = lock_status(conn, org)?;
    if event.kind == "invoice.paid" {
        if status == Status::PastDue || (status == Status::Expired && still_linked(conn, org)?) {
            set_status(conn, org, Status::Active, event.created)?;
        }
        return Ok(());
    }
    // A declined upgrade's invoice (`subscription_update`) leaves a pending
    // update at Stripe and the subscription as paid: the owner was told on
    // the spot, and nothing is past due.
    if event.str_at(&["billing_reason"]) == Some("subscription_update") {
        return Ok(());
    }
    // A failure while trialing is the first charge at the trial's end.
    if running(status) {
        set_status(conn, org, Status::PastDue, event.created)?;
        billing_mail::payment_failed(conn, tenant, &attempt_key(event, invoice), site, now)?;
    }
    Ok(())
}

/// A subscription that is still being paid for (a trial converts at its end).
fn running(status: Status) -> bool {
    matches!(status, Status::Trial | Status::Active | Status::PastDue)
}

/// One payment attempt of an invoice (`attempt_count`): owners are told once per attempt.
fn attempt_key(event: &ProviderEvent, invoice: &str) -> String {
    let attempt = event.object.get("attempt_count").and_then(Value::as_i64);
    format!("{invoice}:{}", attempt.unwrap_or(1))
}

/// The bank asks the cardholder to confirm a renewal (3-D Secure): the
/// invoice offers "Confirm payment" on its hosted page, and the owners hear
/// of it once per attempt. The subscription's status is left to Stripe's
/// own subscription events.
fn confirmation_requested(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
    invoice: &str,
    site: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    invoices::mark_needs_confirmation(conn, tenant, invoice)?;
    if !running(lock_status(conn, tenant.org_id())?) {
        return Ok(());
    }
    let confirm_url = event
        .str_at(&["hosted_invoice_url"])
        .map(str::to_string)
        .unwrap_or_else(|| format!("{site}/billing"));
    let key = attempt_key(event, invoice);
    billing_mail::payment_action_required(conn, tenant, &key, &confirm_url, now)
}

/// Whether a Stripe subscription is still linked (one that ended was unlinked).
fn still_linked(conn: &mut PgConnection, org: OrgId) -> QueryResult<bool> {
    let sub: Option<String> = subscriptions::table
        .find(org)
        .select(subscriptions::provider_subscription_id)
        .first(conn)?;
    Ok(sub.is_some())
}

/// Stripe Tax's figures on an invoice: the VAT is the sum of `total_taxes`
/// (API 2025-03-31 and later) or the older `tax` field, the gross is
/// `total`. None when the invoice carries neither (no tax was computed).
fn stripe_tax(event: &ProviderEvent) -> Option<ProviderTax> {
    let object = &event.object;
    let gross_cents = object.get("total").and_then(Value::as_i64)?;
    let vat_cents = match object.get("total_taxes").and_then(Value::as_array) {
        Some(taxes) => taxes
            .iter()
            .filter_map(|t| t.get("amount").and_then(Value::as_i64))
            .sum(),
        None => object.get("tax").and_then(Value::as_i64)?,
    };
    Some(ProviderTax {
        vat_cents,
        gross_cents,
    })
}

/// The period an invoice bills: its lines' `period` (earliest start, latest
/// end). Stripe's invoice-level `period_start`/`period_end` look back one
/// period on subscription invoices (a January renewal reports December), so
/// they are only the fallback, and the event's time after them.
fn billed_period(event: &ProviderEvent) -> (DateTime<Utc>, DateTime<Utc>) {
    let lines = event
        .object
        .pointer("/lines/data")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let at = |l: &Value, key: &str| l.pointer(&format!("/period/{key}")).and_then(Value::as_i64);
    let time = |secs: Option<i64>| secs.and_then(|s| Utc.timestamp_opt(s, 0).single());
    let start = time(lines.iter().filter_map(|l| at(l, "start")).min());
    let end = time(lines.iter().filter_map(|l| at(l, "end")).max());
    match (start, end) {
        (Some(start), Some(end)) => (start, end),
        _ => (
            event.time_at("period_start").unwrap_or(event.created),
            event.time_at("period_end").unwrap_or(event.created),
        ),
    }
}

fn invoice_lines(event: &ProviderEvent) -> Vec<NewLine> {
    let lines: Vec<NewLine> = event
        .object
        .pointer("/lines/data")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(line_of).collect())
        .unwrap_or_default();
    if !lines.is_empty() {
        return lines;
    }
    let total = event
        .object
        .get("amount_due")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(0);
    vec![NewLine {
        description: "Subscription".into(),
        quantity: 1,
        unit_cents: total,
    }]
}

fn line_of(l: &Value) -> NewLine {
    let quantity = l
        .get("quantity")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(1);
    // Proration credits are negative lines; the invoice total stays positive.
    let amount = l.get("amount").and_then(Value::as_i64).unwrap_or(0);
    NewLine {
        description: l
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("Subscription")
            .to_string(),
        quantity: quantity as i32,
        unit_cents: amount / quantity,
    }
}
