//! The Stripe implementation of `PaymentProvider`: a purchase becomes a
//! Checkout Session (the owner continues on Stripe's page; during the trial
//! with `subscription_data[trial_end]`, so nothing is charged before it ends,
//! except in the trial's last 49 hours, where Stripe refuses a `trial_end`
//! and the trial ends at Checkout with the first charge)
//! and the change is applied when Stripe's webhook confirms it. Renewals of a
//! linked subscription are Stripe's; their outcome arrives as `invoice.paid`
//! / `invoice.payment_failed`, and nothing here assumes them.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::billing::stripe::{CheckoutRequest, CheckoutSession, StripeClient, UNKNOWN_OUTCOME};
use crate::billing::{CheckoutOutcome, PaymentProvider, Purchase};
use crate::db::models::Subscription;
use crate::db::{billing, Tenant};
use crate::db::{DbError, DbResult};
use crate::domain::subscription::Status;

#[derive(Debug, Clone)]
pub struct StripeProvider {
    pub client: StripeClient,
    /// The site's public URL, without a trailing slash.
    pub public_url: String,
}

/// A refused or failed Stripe call, and the owner is told why: "nothing
/// was changed" only when Stripe said so (a 4xx); when the outcome is not
/// known the owner is asked to look again before repeating the change.
pub fn refused(message: String) -> DbError {
    tracing::warn!(error = %message, "Stripe call failed");
    if message.starts_with(UNKNOWN_OUTCOME) {
        return DbError::Conflict(format!(
            "Stripe did not confirm the change; it may still arrive. Reload this page \
             in a minute before trying again. ({message})"
        ));
    }
    DbError::Conflict(format!(
        "Stripe did not accept the change, so nothing was changed. ({message})"
    ))
}

/// Stripe refuses a Checkout `subscription_data[trial_end]` less than 48
/// hours ahead. Closer to the trial's end the trial ends at Checkout: no
/// `trial_end`, so the first period starts and is charged at once (the
/// Checkout page shows the amount). An hour of margin covers the time
/// between our clock and Stripe's check.
fn checkout_trial_end(end: DateTime<Utc>, now: DateTime<Utc>) -> Option<i64> {
    (end - now >= Duration::hours(49)).then(|| end.timestamp())
}

/// A Checkout Session decided in the plan transaction: everything read
/// from the database, so the Stripe calls need no connection.
#[derive(Debug, Clone)]
pub struct CheckoutWork {
    org: crate::ids::OrgId,
    purchase: Purchase,
    trial_end: Option<i64>,
    customer: Option<String>,
    email: String,
    /// The organization's newest session, expired before a new one opens.
    previous: Option<String>,
}

impl CheckoutWork {
    /// Reads what a Checkout for `purchase` needs (the row is locked by the caller).
    pub fn of(
        conn: &mut PgConnection,
        tenant: &Tenant,
        sub: &Subscription,
        link: &billing::StripeLink,
        purchase: Purchase,
    ) -> DbResult<CheckoutWork> {
        let trial_end = match (purchase.charge_now, sub.status, sub.trial_ends_at) {
            (false, Status::Trial, Some(end)) => checkout_trial_end(end, purchase.made_at),
            _ => None,
        };
        let (customer, email) = billing::checkout_contact(conn, tenant)?;
        Ok(CheckoutWork {
            org: tenant.org_id(),
            purchase,
            trial_end,
            customer,
            email,
            previous: link.checkout_session.clone(),
        })
    }
}

impl StripeProvider {
    /// Opens a Checkout Session for `work` (no transaction open); charged
    /// now unless it only collects a card during the trial. The
    /// organization's previous session is expired first, so of two tabs
    /// only the newest Checkout can be paid. Also answers whether the
    /// previous session is gone (expired, or no longer open).
    pub fn open_checkout(&self, work: &CheckoutWork) -> (bool, Result<CheckoutSession, String>) {
        let purchase = &work.purchase;
        let price = match self.client.price_id(purchase.plan, purchase.interval) {
            Ok(price) => price,
            Err(e) => return (false, Err(e)),
        };
        let request = CheckoutRequest {
            org: work.org,
            plan: purchase.plan,
            interval: purchase.interval,
            price,
            customer: work.customer.clone(),
            customer_email: work.email.clone(),
            trial_end: work.trial_end,
            success_url: format!("{}/billing?checkout=success", self.public_url),
            cancel_url: format!("{}/plans?checkout=canceled", self.public_url),
            automatic_tax: self.client.automatic_tax,
        };
        if let Some(previous) = &work.previous {
            self.expire_previous_checkout(previous);
        }
        (
            work.previous.is_some(),
            self.client.create_checkout_session(&request),
        )
    }

    /// Expires the organization's previous Checkout Session. Stripe refuses
    /// when it is no longer open (completed, expired): then it cannot be
    /// paid any more, or its completion meets the second-subscription guard
    /// at the webhook (`checkout.session.completed`).
    fn expire_previous_checkout(&self, previous: &str) {
        if let Err(e) = self.client.expire_checkout_session(previous) {
            tracing::info!(error = %e, session = %previous, "previous Checkout not expired");
        }
    }
}

impl PaymentProvider for StripeProvider {
    fn start_checkout(
        &self,
        _: &mut PgConnection,
        _: &Tenant,
        _: &Purchase,
    ) -> DbResult<CheckoutOutcome> {
        // Checkout is opened by the plan flows with no transaction open
        // (`stripe_flows`): a Stripe call never runs inside one.
        Err(DbError::Conflict(
            "Checkout opens from the plans page; try again there.".into(),
        ))
    }

    fn collect_renewal(
        &self,
        _: &mut PgConnection,
        _: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<bool> {
        // A linked subscription is renewed by Stripe and never reaches the
        // job; a paid plan without one cannot be charged from here.
        Ok(purchase.interval.price_cents(purchase.plan) == 0)
    }

    fn end_subscription(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        // The plan ends here at once; the Stripe call is a durable operation
        // the lifecycle job makes (and retries while Stripe is unreachable),
        // so the customer is never charged again for want of one call.
        if let Some(sub) = billing::stripe_link(conn, tenant)?.subscription {
            billing::operations::cancel_subscription(conn, tenant, &sub, now)?;
        }
        Ok(())
    }

    fn public_url(&self) -> &str {
        &self.public_url
    }

    fn portal_url(&self, _: &Tenant) -> Option<String> {
        // The portal session is created on demand (POST /billing/payment-method).
        None
    }
}
