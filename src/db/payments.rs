//! Payments the local provider takes, recorded as paid invoices through
//! `invoices::create`, so they are numbered exactly like the invoices a
//! payment provider reports (`BEH-2026-0001`); and the cross-organization
//! lookups a payment-provider webhook needs, each in one small function.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use crate::billing::Purchase;
use crate::db::invoices::{self, InvoiceStatus, NewLine, Source};
use crate::db::schema::{organizations, payment_events, subscriptions};
use crate::db::Tenant;
use crate::domain::vat::VatSetup;
use crate::ids::OrgId;

/// Records a paid invoice for `purchase` and returns it. Run inside a
/// transaction.
pub fn record_payment(
    conn: &mut PgConnection,
    tenant: &Tenant,
    purchase: &Purchase,
    vat: &VatSetup,
) -> QueryResult<invoices::Invoice> {
    let line = NewLine {
        description: line_text(purchase),
        quantity: 1,
        unit_cents: purchase.interval.price_cents(purchase.plan),
    };
    let period = (purchase.period_start, purchase.period_end);
    invoices::create(
        conn,
        tenant,
        &[line],
        period,
        InvoiceStatus::Paid,
        &Source::local(vat),
        purchase.made_at,
    )
}

/// "Starter plan, monthly · 1 Nov 2026 – 1 Dec 2026".
fn line_text(p: &Purchase) -> String {
    format!(
        "{} plan, {} · {} – {}",
        p.plan.name(),
        p.interval.label().to_lowercase(),
        p.period_start.format("%-d %b %Y"),
        p.period_end.format("%-d %b %Y")
    )
}

// Cross-organization lookups. A webhook request has no signed-in
// organization: these find it from what Stripe names (an organization id in
// our metadata, a customer id) or keep an event until they can. Each reads
// or writes across organizations, so each stays one small function here.

/// Serialises, until the transaction ends, every event about `customer`, so
/// an event that links it and one that waits for the link cannot miss each
/// other. Cross-organization: keyed by the provider's customer id.
pub fn lock_customer(conn: &mut PgConnection, customer: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7310))")
        .bind::<diesel::sql_types::Text, _>(customer)
        .execute(conn)
        .map(drop)
}

/// `id` if such an organization exists. Cross-organization: the id comes
/// from a signed event, not from a membership.
pub fn existing_org(conn: &mut PgConnection, id: OrgId) -> QueryResult<Option<OrgId>> {
    organizations::table
        .find(id)
        .select(organizations::id)
        .first(conn)
        .optional()
}

/// The organization whose subscription is linked to the provider customer.
/// Cross-organization: searches every subscription.
pub fn org_of_customer(conn: &mut PgConnection, customer: &str) -> QueryResult<Option<OrgId>> {
    subscriptions::table
        .filter(subscriptions::provider_customer_id.eq(customer))
        .select(subscriptions::organization_id)
        .first(conn)
        .optional()
}

/// Files a received event under the organization it turned out to be about.
/// Cross-organization: the event row had no organization when recorded.
pub fn assign_event(conn: &mut PgConnection, event_id: &str, org: OrgId) -> QueryResult<()> {
    diesel::update(payment_events::table.find(event_id))
        .set(&Filed::under(org))
        .execute(conn)
        .map(drop)
}

/// A waiting event filed under the organization it turned out to be about.
#[derive(AsChangeset)]
#[diesel(table_name = payment_events)]
struct Filed {
    organization_id: Option<OrgId>,
    pending: bool,
}

impl Filed {
    fn under(org: OrgId) -> Filed {
        Filed {
            organization_id: Some(org),
            pending: false,
        }
    }
}

/// Keeps an event about a not-yet-linked customer, with its payload.
/// Cross-organization: it belongs to no organization yet.
pub fn mark_pending(conn: &mut PgConnection, event_id: &str, payload: &Value) -> QueryResult<()> {
    diesel::update(payment_events::table.find(event_id))
        .set((
            payment_events::pending.eq(true),
            payment_events::payload.eq(Some(payload)),
        ))
        .execute(conn)
        .map(drop)
}

/// Takes the events that waited for `customer`, oldest first, filing them
/// under `org`. Cross-organization: pending events have no organization.
pub fn take_pending(
    conn: &mut PgConnection,
    customer: &str,
    org: OrgId,
) -> QueryResult<Vec<Value>> {
    let mut taken: Vec<(DateTime<Utc>, Option<Value>)> = diesel::update(
        payment_events::table
            .filter(payment_events::pending)
            .filter(payment_events::customer.eq(customer)),
    )
    .set(&Filed::under(org))
    .returning((payment_events::provider_created_at, payment_events::payload))
    .get_results(conn)?;
    taken.sort_by_key(|(at, _)| *at);
    Ok(taken.into_iter().filter_map(|(_, p)| p).collect())
}
