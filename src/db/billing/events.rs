//! Payment-provider events (Stripe's shape) as they arrive at the webhook.
//! Each event id is recorded in `payment_events` in the transaction of its
//! effect, so a redelivery — even a concurrent one — has no second effect.
//! Events about one customer are serialised by an advisory lock on it; an
//! event whose organization is not known yet is kept pending with its
//! payload and applied, in event order, when an event links the customer.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::provider_event::{Outcome, ProviderEvent, Setting};
use super::sync;
use crate::db::payments;
use crate::db::schema::payment_events;
use crate::db::{wall, Tenant};
use crate::ids::OrgId;

/// Processes one event in its own transaction.
pub fn process(
    conn: &mut PgConnection,
    event: &ProviderEvent,
    site: &Setting,
    now: DateTime<Utc>,
) -> QueryResult<Outcome> {
    conn.transaction(|conn| {
        if let Some(customer) = event.customer() {
            payments::lock_customer(conn, customer)?;
        }
        if !record(conn, event)? {
            return Ok(Outcome::Duplicate);
        }
        // The signed event names its organization; finding it by the
        // provider's ids reads beyond any organization, then the event's
        // organization is the one its changes are held to (`wall`).
        let Some(org) = wall::lifted(conn, |conn| organization_of(conn, event))? else {
            return keep_pending(conn, event);
        };
        wall::enter_org(conn, org)?;
        payments::assign_event(conn, &event.id, org)?;
        let tenant = Tenant::system(org);
        let newly_linked = sync::link_customer(conn, &tenant, event)?;
        let outcome = sync::apply(conn, &tenant, event, site, now)?;
        if let Some(customer) = newly_linked {
            if site.vat.stripe_tax && !super::details(conn, &tenant)?.vat_id.is_empty() {
                // Stripe Tax reads the reverse charge from the customer's VAT id.
                super::operations::sync_tax_id(conn, &tenant, &customer, now)?;
            }
            replay_pending(conn, &tenant, &customer, site, now)?;
        }
        Ok(outcome)
    })
}

/// Records the event id; false when it was recorded before.
fn record(conn: &mut PgConnection, event: &ProviderEvent) -> QueryResult<bool> {
    let inserted = diesel::insert_into(payment_events::table)
        .values((
            payment_events::event_id.eq(&event.id),
            payment_events::type_.eq(&event.kind),
            payment_events::provider_created_at.eq(event.created),
            payment_events::customer.eq(event.customer()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(inserted == 1)
}

/// The organization an event is about: the one it names (checkout's
/// client_reference_id, our metadata) if it exists, else the one linked to
/// its customer.
fn organization_of(conn: &mut PgConnection, event: &ProviderEvent) -> QueryResult<Option<OrgId>> {
    if let Some(id) = event.named_org() {
        return payments::existing_org(conn, id);
    }
    match event.customer() {
        Some(customer) => payments::org_of_customer(conn, customer),
        None => Ok(None),
    }
}

/// An event for an unknown customer waits with its payload; one with no
/// customer at all can never be linked and is only recorded.
fn keep_pending(conn: &mut PgConnection, event: &ProviderEvent) -> QueryResult<Outcome> {
    if event.customer().is_none() || event.named_org().is_some() {
        return Ok(Outcome::Ignored);
    }
    payments::mark_pending(conn, &event.id, &event.to_value())?;
    Ok(Outcome::Pending)
}

/// Applies, oldest first, the events that waited for `customer`.
fn replay_pending(
    conn: &mut PgConnection,
    tenant: &Tenant,
    customer: &str,
    site: &Setting,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    for payload in payments::take_pending(conn, customer, tenant.org_id())? {
        if let Some(event) = ProviderEvent::from_value(&payload) {
            sync::apply(conn, tenant, &event, site, now)?;
        }
    }
    Ok(())
}
