//! The offline provider: the owner puts a card number on file, and charges
//! behave like Stripe's test cards — 4242 4242 4242 4242 pays,
//! 4000 0000 0000 0002 and 4000 0000 0000 9995 are declined,
//! 4000 0025 0000 3155 needs the cardholder's confirmation (which an
//! off-session charge cannot get, so it fails too). A paid charge is
//! recorded as a paid invoice and mailed to the owners.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use super::{CheckoutOutcome, PaymentProvider, Purchase};
use crate::db::{billing, payments, Tenant};
use crate::db::{DbError, DbResult};
use crate::domain::vat::VatSetup;

#[derive(Debug, Clone, Default)]
pub struct LocalProvider {
    pub public_url: String,
    /// The VAT rule's setup for the invoices of its charges.
    pub vat: VatSetup,
}

/// What charging a test card does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardOutcome {
    Paid,
    Declined,
    NeedsAction,
}

impl CardOutcome {
    /// What the owner is told when the charge did not go through.
    pub fn problem(self) -> Option<&'static str> {
        match self {
            CardOutcome::Paid => None,
            CardOutcome::Declined => Some("The card was declined."),
            CardOutcome::NeedsAction => {
                Some("The bank asks the cardholder to confirm this payment.")
            }
        }
    }
}

/// The outcome of charging the test card ending in `last4`.
pub fn card_outcome(last4: &str) -> CardOutcome {
    match last4 {
        "0002" | "9995" => CardOutcome::Declined,
        "3155" => CardOutcome::NeedsAction,
        _ => CardOutcome::Paid,
    }
}

impl LocalProvider {
    /// Charges the card on file for `purchase`; the problem when it did not pay.
    pub fn charge(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<Result<(), &'static str>> {
        if purchase.interval.price_cents(purchase.plan) == 0 {
            return Ok(Ok(()));
        }
        let Some(card) = billing::card_on_file(conn, tenant)? else {
            return Ok(Err("There is no payment method on file."));
        };
        if let Some(problem) = card_outcome(&card).problem() {
            return Ok(Err(problem));
        }
        let invoice = payments::record_payment(conn, tenant, purchase, &self.vat)?;
        let site = &self.public_url;
        super::billing_mail::invoice_issued(conn, tenant, &invoice, site, purchase.made_at)?;
        Ok(Ok(()))
    }
}

impl PaymentProvider for LocalProvider {
    fn start_checkout(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<CheckoutOutcome> {
        if billing::card_on_file(conn, tenant)?.is_none() {
            billing::record_payment_method(conn, tenant, "4242")?;
        }
        if purchase.charge_now {
            self.charge(conn, tenant, purchase)?
                .map_err(|problem| DbError::Conflict(format!("{problem} Nothing was changed.")))?;
        }
        Ok(CheckoutOutcome::Completed)
    }

    fn collect_renewal(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<bool> {
        Ok(self.charge(conn, tenant, purchase)?.is_ok())
    }

    fn end_subscription(&self, _: &mut PgConnection, _: &Tenant, _: DateTime<Utc>) -> DbResult<()> {
        Ok(())
    }

    fn public_url(&self) -> &str {
        &self.public_url
    }

    fn portal_url(&self, _tenant: &Tenant) -> Option<String> {
        None
    }
}

/// "Pay now" on the local provider: charges the card on file for the
/// current period of a PAST_DUE subscription. Paid: ACTIVE again. Not paid:
/// the attempt is told to the owners like any failed payment, and the
/// problem is returned (the subscription stays PAST_DUE).
pub fn pay_now(
    conn: &mut PgConnection,
    tenant: &Tenant,
    provider: &LocalProvider,
    now: chrono::DateTime<chrono::Utc>,
) -> DbResult<Result<(), &'static str>> {
    let sub = crate::db::plans::lock(conn, tenant)?;
    if sub.status != crate::domain::subscription::Status::PastDue {
        return Err(DbError::Conflict(
            "Nothing is overdue: there is nothing to pay.".into(),
        ));
    }
    let purchase = Purchase {
        plan: sub.plan,
        interval: sub.billing_interval,
        period_start: sub.current_period_start,
        period_end: sub.current_period_end,
        charge_now: true,
        made_at: now,
    };
    if let Err(problem) = provider.charge(conn, tenant, &purchase)? {
        let attempt = format!("pay_now:{}", now.timestamp());
        let site = &provider.public_url;
        super::billing_mail::payment_failed(conn, tenant, &attempt, site, now)?;
        return Ok(Err(problem));
    }
    billing::settle_past_due(conn, tenant, now)?;
    Ok(Ok(()))
}
