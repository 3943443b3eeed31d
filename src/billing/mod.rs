//! Payments behind one small trait, so the plan flows do not care who takes the
//! money. `LocalProvider` (no Stripe keys configured) charges a test card on
//! file, so each flow works offline; `StripeProvider` makes Stripe the source
//! of truth: changes go to Stripe and come back through its webhook
//! (`stripe_flows` for the owner's plan changes, `db::billing` for events).

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::config::Config;
use crate::db::DbResult;
use crate::db::Tenant;
use crate::domain::billing::Interval;
use crate::domain::plans::Plan;

pub mod billing_mail;
mod local;
pub mod signature;
pub mod stripe;
pub mod stripe_flows;
mod stripe_provider;

pub use local::{card_outcome, pay_now as local_pay_now, CardOutcome, LocalProvider};
pub use stripe_provider::StripeProvider;

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
    /// The local provider only; Stripe's Checkout is opened by its plan
    /// flows outside any transaction (`stripe_flows`), and refuses here.
    fn start_checkout(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<CheckoutOutcome>;

    /// Charges the payment method on file for a new period; false when that
    /// failed (the subscription then becomes PAST_DUE). Never assumed: a
    /// provider that cannot charge here answers false.
    fn collect_renewal(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<bool>;

    /// The grace period is over or the organization is being deleted: stop
    /// collecting. Stripe: the cancellation is recorded as an operation in
    /// the caller's transaction and made by the lifecycle job, retried until
    /// Stripe confirms it (never a Stripe call inside the transaction).
    fn end_subscription(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        now: DateTime<Utc>,
    ) -> DbResult<()>;

    /// The site's public URL, for links in billing mail.
    fn public_url(&self) -> &str;

    /// Where the customer manages payment methods, when the provider has such a page.
    fn portal_url(&self, tenant: &Tenant) -> Option<String>;
}

/// The provider this instance uses: Stripe when both of its keys are
/// configured, the local provider otherwise.
pub fn provider(config: &Config) -> Box<dyn PaymentProvider> {
    match stripe_provider(config) {
        Some(stripe) => Box::new(stripe),
        None => Box::new(local_provider(config)),
    }
}

/// Says loudly at start-up when no payment provider is configured: the
/// local provider only simulates payments, and an operator must not take
/// it for a working billing set-up.
pub fn announce_provider(config: &Config) {
    if stripe_provider(config).is_none() {
        tracing::warn!(
            "PAYMENTS ARE SIMULATED: STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are not both \
             set, so the local provider charges test cards and no money is collected"
        );
    }
}

/// The local provider of this configuration.
pub fn local_provider(config: &Config) -> LocalProvider {
    LocalProvider {
        public_url: config.public_url.trim_end_matches('/').to_string(),
        vat: config.vat.clone(),
    }
}

/// The Stripe provider, when Stripe is configured.
pub fn stripe_provider(config: &Config) -> Option<StripeProvider> {
    stripe::StripeClient::from_config(config).map(|client| StripeProvider {
        client,
        public_url: config.public_url.trim_end_matches('/').to_string(),
    })
}
