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

use crate::billing::stripe::{CheckoutRequest, StripeClient, UNKNOWN_OUTCOME};
use crate::billing::{CheckoutOutcome, PaymentProvider, Purchase};
use crate::db::{billing, plans, Tenant};
use crate::db::{DbError, DbResult};
use crate::domain::subscription::Status;

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

impl StripeProvider {
    /// A Checkout Session for `purchase`; charged now unless it only
    /// collects a card during the trial. The organization's previous session
    /// is expired first, so of two tabs only the newest Checkout can be paid.
    pub fn checkout(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<String> {
        let sub = plans::lock(conn, tenant)?;
        let trial_end = match (purchase.charge_now, sub.status, sub.trial_ends_at) {
            (false, Status::Trial, Some(end)) => checkout_trial_end(end, purchase.made_at),
            _ => None,
        };
        let (customer, email) = billing::checkout_contact(conn, tenant)?;
        let price = self
            .client
            .price_id(purchase.plan, purchase.interval)
            .map_err(refused)?;
        let request = CheckoutRequest {
            org: tenant.org_id(),
            plan: purchase.plan,
            interval: purchase.interval,
            price,
            customer,
            customer_email: email,
            trial_end,
            success_url: format!("{}/billing?checkout=success", self.public_url),
            cancel_url: format!("{}/plans?checkout=canceled", self.public_url),
            automatic_tax: self.client.automatic_tax,
        };
        self.expire_previous_checkout(conn, tenant)?;
        let session = self
            .client
            .create_checkout_session(&request)
            .map_err(refused)?;
        billing::set_checkout_session(conn, tenant, Some(&session.id))?;
        Ok(session.url)
    }

    /// Expires the organization's previous Checkout Session. Stripe refuses
    /// when it is no longer open (completed, expired): then it cannot be
    /// paid any more, or its completion meets the second-subscription guard
    /// at the webhook (`checkout.session.completed`).
    fn expire_previous_checkout(&self, conn: &mut PgConnection, tenant: &Tenant) -> DbResult<()> {
        if let Some(previous) = billing::stripe_link(conn, tenant)?.checkout_session {
            if let Err(e) = self.client.expire_checkout_session(&previous) {
                tracing::info!(error = %e, session = %previous, "previous Checkout not expired");
            }
            billing::set_checkout_session(conn, tenant, None)?;
        }
        Ok(())
    }
}

impl PaymentProvider for StripeProvider {
    fn start_checkout(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<CheckoutOutcome> {
        Ok(CheckoutOutcome::Redirect(
            self.checkout(conn, tenant, purchase)?,
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
