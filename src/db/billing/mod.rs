//! Billing data of an organization: billing details, the payment method on
//! file (the local provider's test card), the link to Stripe and a change
//! sent to Stripe and waiting for its webhook. Provider events are applied
//! in `events` (idempotent, pending until linked) and `sync` (per-object order).

use chrono::{DateTime, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;

use crate::db::schema::{organization_members, organizations, subscriptions, users};
use crate::db::Tenant;
use crate::domain::billing::Interval;
use crate::domain::plans::Plan;
use crate::domain::roles::Role;
use crate::ids::OrgId;

mod events;
pub mod operations;
mod provider_event;
mod sync;

pub use events::process;
pub use provider_event::{Outcome, ProviderEvent, Setting};

/// The organization's billing details: (company, address, VAT id).
/// The billing details an invoice names, empty strings where unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Details {
    pub company: String,
    pub address: String,
    pub vat_id: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

pub fn details(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Details> {
    let (company, address, vat_id, country): (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = organizations::table
        .find(tenant.org_id())
        .select((
            organizations::billing_company,
            organizations::billing_address,
            organizations::billing_vat_id,
            organizations::billing_country,
        ))
        .first(conn)?;
    Ok(Details {
        company: company.unwrap_or_default(),
        address: address.unwrap_or_default(),
        vat_id: vat_id.unwrap_or_default(),
        country: country.unwrap_or_default(),
    })
}

/// Stores validated details; empty fields are stored as unset.
pub fn save_details(conn: &mut PgConnection, tenant: &Tenant, d: &Details) -> QueryResult<()> {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    diesel::update(organizations::table.find(tenant.org_id()))
        .set((
            organizations::billing_company.eq(opt(&d.company)),
            organizations::billing_address.eq(opt(&d.address)),
            organizations::billing_vat_id.eq(opt(&d.vat_id)),
            organizations::billing_country.eq(opt(&d.country)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The billing details changed from `before` to `after`: when the VAT id
/// (or the country that decides whether it is an EU one) differs and Stripe
/// knows the customer, the customer's VAT id at Stripe is brought in line by
/// a durable operation (made by the lifecycle job, never in this transaction).
pub fn vat_id_changed(
    conn: &mut PgConnection,
    tenant: &Tenant,
    (before, after): (&Details, &Details),
    now: DateTime<Utc>,
) -> QueryResult<()> {
    if (&before.vat_id, &before.country) == (&after.vat_id, &after.country) {
        return Ok(());
    }
    let customer: Option<String> = subscriptions::table
        .find(tenant.org_id())
        .select(subscriptions::provider_customer_id)
        .first(conn)?;
    match customer {
        Some(customer) => operations::sync_tax_id(conn, tenant, &customer, now),
        None => Ok(()),
    }
}

/// Local provider: `card_last4` is now the payment method on file.
pub fn record_payment_method(
    conn: &mut PgConnection,
    tenant: &Tenant,
    card_last4: &str,
) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set((
            subscriptions::has_payment_method.eq(true),
            subscriptions::card_last4.eq(Some(card_last4)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The last four digits of the local provider's card on file, if any.
pub fn card_on_file(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Option<String>> {
    let (on_file, last4): (bool, Option<String>) = subscriptions::table
        .find(tenant.org_id())
        .select((subscriptions::has_payment_method, subscriptions::card_last4))
        .first(conn)?;
    // A method recorded before test cards existed behaves like the one that pays.
    Ok(on_file.then(|| last4.unwrap_or_else(|| "4242".into())))
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

/// The owners' email addresses (billing mail goes to them).
pub fn owner_emails(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<String>> {
    scoped_members(tenant)
        .inner_join(users::table)
        .filter(organization_members::role.eq(Role::Owner.as_str()))
        .order(users::email.asc())
        .select(users::email)
        .load(conn)
}

/// Every `organization_members` query of this module starts here.
fn scoped_members(
    tenant: &Tenant,
) -> Filter<organization_members::table, Eq<organization_members::organization_id, OrgId>> {
    organization_members::table.filter(organization_members::organization_id.eq(tenant.org_id()))
}

/// The organization's link to Stripe and what is waiting on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripeLink {
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub schedule: Option<String>,
    /// A change sent to Stripe, shown as waiting until its webhook arrives.
    pub pending_change: Option<String>,
    pub pending_since: Option<DateTime<Utc>>,
    pub scheduled_interval: Option<Interval>,
    /// The newest Checkout Session, until it completes or a newer replaces it.
    pub checkout_session: Option<String>,
}

/// How long a change sent to Stripe blocks the next one while its webhook
/// has not come (Stripe retries deliveries; a lost one must not lock the owner out).
pub const PENDING_FOR: chrono::Duration = chrono::Duration::minutes(15);

impl StripeLink {
    /// The change still waiting for Stripe's confirmation at `now`, if any.
    pub fn waiting(&self, now: DateTime<Utc>) -> Option<&str> {
        let recent = self.pending_since.is_some_and(|t| now - t < PENDING_FOR);
        self.pending_change.as_deref().filter(|_| recent)
    }
}

pub fn stripe_link(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<StripeLink> {
    type Text = Option<String>;
    let row: (Text, Text, Text, Text, Text, Option<DateTime<Utc>>, Text) = subscriptions::table
        .find(tenant.org_id())
        .select((
            subscriptions::provider_customer_id,
            subscriptions::provider_subscription_id,
            subscriptions::provider_schedule_id,
            subscriptions::pending_change,
            subscriptions::scheduled_interval,
            subscriptions::pending_since,
            subscriptions::checkout_session_id,
        ))
        .first(conn)?;
    let (customer, subscription, schedule, pending_change, interval, pending_since, checkout) = row;
    Ok(StripeLink {
        checkout_session: checkout,
        customer,
        subscription,
        schedule,
        pending_change,
        pending_since,
        scheduled_interval: interval
            .and_then(|i| Interval::ALL.into_iter().find(|x| x.as_str() == i)),
    })
}

/// Notes a change Stripe accepted but its webhook has not confirmed yet.
pub fn set_pending(
    conn: &mut PgConnection,
    tenant: &Tenant,
    what: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set((
            subscriptions::pending_change.eq(Some(what)),
            subscriptions::pending_since.eq(Some(now)),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Withdraws the change `what` marked at `since`, unless it was replaced
/// meanwhile (a newer change, or Stripe's webhook confirming it).
pub fn clear_pending(
    conn: &mut PgConnection,
    tenant: &Tenant,
    what: &str,
    since: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(
        subscriptions::table
            .find(tenant.org_id())
            .filter(subscriptions::pending_change.eq(what))
            .filter(subscriptions::pending_since.eq(since)),
    )
    .set((
        subscriptions::pending_change.eq(None::<String>),
        subscriptions::pending_since.eq(None::<DateTime<Utc>>),
    ))
    .execute(conn)
    .map(drop)
}

/// Remembers the organization's newest Checkout Session (`None`: none open).
pub fn set_checkout_session(
    conn: &mut PgConnection,
    tenant: &Tenant,
    session: Option<&str>,
) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set(subscriptions::checkout_session_id.eq(session))
        .execute(conn)
        .map(drop)
}

/// Records the change Stripe scheduled for the period end (`None`: none any more).
pub fn set_scheduled(
    conn: &mut PgConnection,
    tenant: &Tenant,
    change: Option<(Plan, Interval, &str)>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set((
            subscriptions::scheduled_plan.eq(change.map(|c| c.0)),
            subscriptions::scheduled_interval.eq(change.map(|c| c.1.as_str())),
            subscriptions::provider_schedule_id.eq(change.map(|c| c.2)),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// A PAST_DUE subscription was paid: ACTIVE again, with one audit event.
pub fn settle_past_due(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set((
            subscriptions::status.eq(crate::domain::subscription::Status::Active),
            subscriptions::past_due_since.eq(None::<DateTime<Utc>>),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)?;
    crate::db::audit::record(
        conn,
        tenant,
        "billing.paid_now",
        "subscription",
        Some(serde_json::json!({ "status": "PAST_DUE" })),
        Some(serde_json::json!({ "status": "ACTIVE" })),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_change_stops_waiting_after_a_while() {
        let sent = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let link = StripeLink {
            pending_change: Some("Cancellation".into()),
            pending_since: Some(sent),
            ..StripeLink::default()
        };
        assert_eq!(link.waiting(sent), Some("Cancellation"));
        assert_eq!(
            link.waiting(sent + PENDING_FOR - chrono::Duration::seconds(1)),
            Some("Cancellation")
        );
        assert_eq!(link.waiting(sent + PENDING_FOR), None);
        assert_eq!(StripeLink::default().waiting(sent), None);
    }
}
