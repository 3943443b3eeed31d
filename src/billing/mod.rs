//! Payments behind one small trait, so the plan flows do not care who takes the
//! money. `LocalProvider` (no Stripe keys configured) records a payment method and
//! marks every payment as made, so each flow works offline; a Stripe provider
//! implements the same trait (Checkout as `Redirect`, the customer portal as `portal_url`).

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::config::Config;
use crate::db::DbResult;
use crate::db::Tenant;
use crate::domain::billing::Interval;
use crate::domain::plans::Plan;

mod local;
pub mod signature;
pub mod stripe;
mod stripe_provider;

pub use local::LocalProvider;

/// One paid period of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purchase {
    pub plan: Plan,
    pub interval: Interval,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// False when only a payment method is collected (during the trial: the
    /// first charge comes when the trial ends).
    pub charge_now: bool,
    /// When the purchase is made (the app's `now`): a charge is issued and
    /// paid at this instant.
    pub made_at: DateTime<Utc>,
}

/// What checkout did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutOutcome {
    /// Paid (or the payment method recorded): apply the change now.
    Completed,
    /// The customer continues on the provider's page; the change is applied
    /// when the provider confirms it.
    Redirect(String),
}

/// A payment provider. Methods run inside the caller's transaction, which
/// holds the organization's subscription row.
pub trait PaymentProvider: Send + Sync {
    /// Collects a payment method and, when `purchase.charge_now`, the payment.
    fn start_checkout(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<CheckoutOutcome>;

    /// Charges the payment method on file for a new period; false when that
    /// failed (the subscription then becomes PAST_DUE).
    fn collect_renewal(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<bool>;

    /// Where the customer manages payment methods, when the provider has such a page.
    fn portal_url(&self, tenant: &Tenant) -> Option<String>;
}

/// The provider this instance uses: Stripe when both of its keys are
/// configured, the local provider otherwise.
pub fn provider(config: &Config) -> Box<dyn PaymentProvider> {
    match stripe::StripeClient::from_config(config) {
        Some(client) => Box::new(stripe_provider::StripeProvider {
            client,
            public_url: config.public_url.clone(),
        }),
        None => Box::new(LocalProvider),
    }
}
