//! The Stripe implementation of `PaymentProvider`: a purchase becomes a
//! Checkout Session (the owner continues on Stripe's page) and the change
//! is applied when Stripe's webhook confirms it. Renewals are collected by
//! Stripe itself; their outcome arrives as `invoice.paid` /
//! `invoice.payment_failed` events.

use diesel::prelude::*;

use crate::billing::stripe::{CheckoutRequest, StripeClient};
use crate::billing::{CheckoutOutcome, PaymentProvider, Purchase};
use crate::db::{billing, Tenant};
use crate::db::{DbError, DbResult};

pub struct StripeProvider {
    pub client: StripeClient,
    pub public_url: String,
}

impl PaymentProvider for StripeProvider {
    fn start_checkout(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<CheckoutOutcome> {
        let org = tenant.org_id();
        let (customer, email) = billing::checkout_contact(conn, tenant)?;
        let request = CheckoutRequest {
            org,
            plan: purchase.plan,
            interval: purchase.interval.as_str().to_string(),
            customer,
            customer_email: email,
            success_url: format!("{}/billing?checkout=success", self.public_url),
            cancel_url: format!("{}/plans?checkout=canceled", self.public_url),
        };
        let url = self
            .client
            .create_checkout_session(&request)
            .map_err(|e| DbError::Upstream(e.to_string()))?;
        Ok(CheckoutOutcome::Redirect(url))
    }

    fn collect_renewal(&self, _: &mut PgConnection, _: &Tenant, _: &Purchase) -> DbResult<bool> {
        // Stripe charges the renewal; a failure arrives as a webhook event.
        Ok(true)
    }

    fn portal_url(&self, _: &Tenant) -> Option<String> {
        // The portal session is created on demand from /billing.
        None
    }
}
