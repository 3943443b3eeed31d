//! The offline provider: a payment method is "on file" once the owner adds
//! it, and every charge succeeds at once and is recorded as a paid invoice.

use diesel::PgConnection;

use super::{CheckoutOutcome, PaymentProvider, Purchase};
use crate::db::DbResult;
use crate::db::{billing, payments, Tenant};

#[derive(Debug, Clone, Copy, Default)]
pub struct LocalProvider;

impl LocalProvider {
    fn charge(conn: &mut PgConnection, tenant: &Tenant, purchase: &Purchase) -> DbResult<()> {
        if purchase.interval.price_cents(purchase.plan) > 0 {
            payments::record_payment(conn, tenant, purchase)?;
        }
        Ok(())
    }
}

impl PaymentProvider for LocalProvider {
    fn start_checkout(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<CheckoutOutcome> {
        billing::set_payment_method_on_file(conn, tenant)?;
        if purchase.charge_now {
            Self::charge(conn, tenant, purchase)?;
        }
        Ok(CheckoutOutcome::Completed)
    }

    fn collect_renewal(
        &self,
        conn: &mut PgConnection,
        tenant: &Tenant,
        purchase: &Purchase,
    ) -> DbResult<bool> {
        if purchase.interval.price_cents(purchase.plan) == 0 {
            return Ok(true);
        }
        let on_file = billing::payment_method_on_file(conn, tenant)?;
        if on_file {
            Self::charge(conn, tenant, purchase)?;
        }
        Ok(on_file)
    }

    fn portal_url(&self, _tenant: &Tenant) -> Option<String> {
        None
    }
}
