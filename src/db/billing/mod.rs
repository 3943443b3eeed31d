//! Payment-provider events (Stripe's shape) applied to subscriptions and
//! invoices. Each event id is recorded in `payment_events` in the same
//! transaction as its effect, so a redelivery — even a concurrent one — has
//! no second effect; and an event older than the last one applied to a
//! subscription never rolls its state back (`provider_state_at`).

use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use serde_json::Value;

use crate::db::invoices::{self, InvoiceStatus, NewLine};
use crate::db::schema::{organizations, payment_events, subscriptions, users};
use crate::db::{audit, Tenant};
use crate::domain::plans::Plan;
use crate::domain::subscription::Status;
use crate::ids::OrgId;

/// A provider event as delivered to the webhook.
#[derive(Debug, Clone)]
pub struct ProviderEvent {
    pub id: String,
    pub kind: String,
    pub created: DateTime<Utc>,
    pub object: Value,
}

impl ProviderEvent {
    /// Reads the fields we use from an event's JSON; `None` if malformed.
    pub fn parse(body: &[u8]) -> Option<ProviderEvent> {
        let v: Value = serde_json::from_slice(body).ok()?;
        Some(ProviderEvent {
            id: v.get("id")?.as_str()?.to_string(),
            kind: v.get("type")?.as_str()?.to_string(),
            created: Utc.timestamp_opt(v.get("created")?.as_i64()?, 0).single()?,
            object: v.get("data")?.get("object")?.clone(),
        })
    }

    fn str_at(&self, path: &[&str]) -> Option<&str> {
        path.iter()
            .try_fold(&self.object, |v, key| v.get(*key))
            .and_then(Value::as_str)
    }

    fn time_at(&self, key: &str) -> Option<DateTime<Utc>> {
        let secs = self.object.get(key).and_then(Value::as_i64).or_else(|| {
            // Newer API versions keep the period on the subscription item.
            self.object
                .pointer(&format!("/items/data/0/{key}"))
                .and_then(Value::as_i64)
        })?;
        Utc.timestamp_opt(secs, 0).single()
    }
}

/// What processing an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Seen before: nothing done.
    Duplicate,
    /// Older than the state already applied: recorded, state untouched.
    Stale,
    /// Not about a known organization or not a type we handle.
    Ignored,
}

/// Processes one event in its own transaction.
pub fn process(
    conn: &mut PgConnection,
    event: &ProviderEvent,
    now: DateTime<Utc>,
) -> QueryResult<Outcome> {
    conn.transaction(|conn| {
        let org = organization_of(conn, event)?;
        let inserted = diesel::insert_into(payment_events::table)
            .values(NewPaymentEvent {
                event_id: &event.id,
                organization_id: org,
                type_: &event.kind,
                provider_created_at: event.created,
            })
            .on_conflict_do_nothing()
            .execute(conn)?;
        if inserted == 0 {
            return Ok(Outcome::Duplicate);
        }
        let Some(org) = org else {
            return Ok(Outcome::Ignored);
        };
        apply(conn, Tenant::system(org), event, now)
    })
}

/// A received event: its id (the idempotency key) and the organization the
/// signed event names, if any.
#[derive(Insertable)]
#[diesel(table_name = payment_events)]
struct NewPaymentEvent<'a> {
    event_id: &'a str,
    organization_id: Option<OrgId>,
    type_: &'a str,
    provider_created_at: DateTime<Utc>,
}

/// The organization an event is about: client_reference_id on checkout,
/// our metadata, or the provider customer id we stored.
fn organization_of(conn: &mut PgConnection, event: &ProviderEvent) -> QueryResult<Option<OrgId>> {
    let explicit = event
        .str_at(&["client_reference_id"])
        .or_else(|| event.str_at(&["metadata", "organization_id"]))
        .and_then(|s| s.parse::<OrgId>().ok());
    if let Some(id) = explicit {
        let known: Option<OrgId> = organizations::table
            .find(id)
            .select(organizations::id)
            .first(conn)
            .optional()?;
        return Ok(known);
    }
    let Some(customer) = event.str_at(&["customer"]) else {
        return Ok(None);
    };
    subscriptions::table
        .filter(subscriptions::provider_customer_id.eq(customer))
        .select(subscriptions::organization_id)
        .first::<OrgId>(conn)
        .optional()
}

fn apply(
    conn: &mut PgConnection,
    tenant: Tenant,
    event: &ProviderEvent,
    now: DateTime<Utc>,
) -> QueryResult<Outcome> {
    let org = tenant.org_id();
    // Lock the subscription and refuse to go back in time.
    let (state_at, status): (Option<DateTime<Utc>>, String) = subscriptions::table
        .find(org)
        .select((subscriptions::provider_state_at, subscriptions::status))
        .for_update()
        .first(conn)?;
    let handled = matches!(
        event.kind.as_str(),
        "checkout.session.completed"
            | "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "invoice.paid"
            | "invoice.payment_failed"
    );
    if !handled {
        return Ok(Outcome::Ignored);
    }
    if event.kind.starts_with("invoice.") {
        record_invoice(conn, &tenant, event, now)?;
    }
    if state_at.is_some_and(|t| event.created < t) {
        return Ok(Outcome::Stale);
    }
    let before = serde_json::json!({ "status": status });
    match event.kind.as_str() {
        "checkout.session.completed" => checkout_completed(conn, org, event)?,
        "customer.subscription.deleted" => set_status(conn, org, Status::Canceled, None, now)?,
        "customer.subscription.created" | "customer.subscription.updated" => {
            subscription_changed(conn, org, event, now)?
        }
        "invoice.paid" => set_status(conn, org, Status::Active, None, now)?,
        _ => set_status(conn, org, Status::PastDue, Some(event.created), now)?,
    }
    diesel::update(subscriptions::table.find(org))
        .set((
            subscriptions::provider_state_at.eq(Some(event.created)),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)?;
    let after: String = subscriptions::table
        .find(org)
        .select(subscriptions::status)
        .first(conn)?;
    audit::record(
        conn,
        &tenant,
        &format!("billing.{}", event.kind),
        &event.id,
        Some(before),
        Some(serde_json::json!({ "status": after })),
    )?;
    Ok(Outcome::Applied)
}

fn plan_of(event: &ProviderEvent) -> Option<Plan> {
    event
        .str_at(&["metadata", "plan"])
        .and_then(|p| p.parse().ok())
}

fn checkout_completed(
    conn: &mut PgConnection,
    org: OrgId,
    event: &ProviderEvent,
) -> QueryResult<()> {
    let plan = plan_of(event);
    diesel::update(subscriptions::table.find(org))
        .set((
            subscriptions::provider.eq("stripe"),
            subscriptions::provider_customer_id.eq(event.str_at(&["customer"])),
            subscriptions::provider_subscription_id.eq(event.str_at(&["subscription"])),
            subscriptions::has_payment_method.eq(true),
            subscriptions::status.eq(Status::Active),
            subscriptions::past_due_since.eq(None::<DateTime<Utc>>),
            subscriptions::scheduled_plan.eq(None::<Plan>),
        ))
        .execute(conn)?;
    if let Some(plan) = plan {
        diesel::update(subscriptions::table.find(org))
            .set(subscriptions::plan.eq(plan))
            .execute(conn)?;
    }
    if let Some(interval) = event
        .str_at(&["metadata", "interval"])
        .filter(|i| *i == "month" || *i == "year")
    {
        diesel::update(subscriptions::table.find(org))
            .set(subscriptions::billing_interval.eq(interval))
            .execute(conn)?;
    }
    Ok(())
}

/// Stripe subscription status → ours.
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

fn subscription_changed(
    conn: &mut PgConnection,
    org: OrgId,
    event: &ProviderEvent,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    if let Some(status) = event.str_at(&["status"]).and_then(map_status) {
        set_status(conn, org, status, Some(event.created), now)?;
    }
    if let Some(plan) = plan_of(event) {
        diesel::update(subscriptions::table.find(org))
            .set(subscriptions::plan.eq(plan))
            .execute(conn)?;
    }
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
    if let Some(cancel) = event
        .object
        .get("cancel_at_period_end")
        .and_then(Value::as_bool)
    {
        diesel::update(subscriptions::table.find(org))
            .set(subscriptions::cancel_at_period_end.eq(cancel))
            .execute(conn)?;
    }
    Ok(())
}

/// Sets the status; PAST_DUE keeps the first moment it became past due.
fn set_status(
    conn: &mut PgConnection,
    org: OrgId,
    status: Status,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let since: Option<DateTime<Utc>> = subscriptions::table
        .find(org)
        .select(subscriptions::past_due_since)
        .first(conn)?;
    let past_due_since = match status {
        Status::PastDue => since.or(at).or(Some(now)),
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

/// Mirrors a provider invoice locally: updates the one we have, or creates it numbered.
fn record_invoice(
    conn: &mut PgConnection,
    tenant: &Tenant,
    event: &ProviderEvent,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let Some(provider_id) = event.str_at(&["id"]) else {
        return Ok(());
    };
    let status = if event.kind == "invoice.paid" {
        InvoiceStatus::Paid
    } else {
        InvoiceStatus::Open
    };
    if invoices::set_status_by_provider_id(conn, tenant, provider_id, status, now)? {
        return Ok(());
    }
    let lines = invoice_lines(event);
    let start = event.time_at("period_start").unwrap_or(event.created);
    let end = event.time_at("period_end").unwrap_or(event.created);
    invoices::create(
        conn,
        tenant,
        &lines,
        (start, end),
        status,
        Some(provider_id),
        now,
    )?;
    Ok(())
}

fn invoice_lines(event: &ProviderEvent) -> Vec<NewLine> {
    let lines: Vec<NewLine> = event
        .object
        .pointer("/lines/data")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|l| {
                    let quantity = l
                        .get("quantity")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                        .max(1);
                    let amount = l.get("amount").and_then(Value::as_i64).unwrap_or(0).max(0);
                    NewLine {
                        description: l
                            .get("description")
                            .and_then(Value::as_str)
                            .unwrap_or("Subscription")
                            .to_string(),
                        quantity: quantity as i32,
                        unit_cents: amount / quantity,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if lines.is_empty() {
        let total = event
            .object
            .get("amount_due")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .max(0);
        return vec![NewLine {
            description: "Subscription".into(),
            quantity: 1,
            unit_cents: total,
        }];
    }
    lines
}

/// The organization's billing details: (company, address, VAT id).
pub fn details(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<(String, String, String)> {
    let (c, a, v): (Option<String>, Option<String>, Option<String>) = organizations::table
        .find(tenant.org_id())
        .select((
            organizations::billing_company,
            organizations::billing_address,
            organizations::billing_vat_id,
        ))
        .first(conn)?;
    Ok((
        c.unwrap_or_default(),
        a.unwrap_or_default(),
        v.unwrap_or_default(),
    ))
}

pub fn save_details(
    conn: &mut PgConnection,
    tenant: &Tenant,
    company: &str,
    address: &str,
    vat: &str,
) -> QueryResult<()> {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    diesel::update(organizations::table.find(tenant.org_id()))
        .set((
            organizations::billing_company.eq(opt(company)),
            organizations::billing_address.eq(opt(address)),
            organizations::billing_vat_id.eq(opt(vat)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Local provider: a payment method is now on file.
pub fn record_payment_method(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set(subscriptions::has_payment_method.eq(true))
        .execute(conn)?;
    Ok(())
}

/// Marks the tenant's payment method as on file (the offline provider).
pub fn set_payment_method_on_file(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set(subscriptions::has_payment_method.eq(true))
        .execute(conn)?;
    Ok(())
}

/// Whether the tenant has a payment method on file.
pub fn payment_method_on_file(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<bool> {
    subscriptions::table
        .find(tenant.org_id())
        .select(subscriptions::has_payment_method)
        .first(conn)
}

/// For a checkout: the provider's customer id of the tenant (if any) and
/// the acting user's email (empty for the system).
pub fn checkout_contact(
    conn: &mut PgConnection,
    tenant: &Tenant,
) -> QueryResult<(Option<String>, String)> {
    let customer: Option<String> = subscriptions::table
        .find(tenant.org_id())
        .select(subscriptions::provider_customer_id)
        .first(conn)?;
    let email = match tenant.user_id() {
        Some(user) => users::table.find(user).select(users::email).first(conn)?,
        None => String::new(),
    };
    Ok((customer, email))
}
