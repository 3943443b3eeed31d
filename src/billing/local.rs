//! The offline provider: a payment method is "on file" once the owner adds
//! it, and every charge succeeds at once and is recorded as a paid invoice.

use diesel::prelude::*;

use super::{CheckoutOutcome, PaymentProvider, Purchase};
use crate::db::schema::subscriptions;
use crate::db::DbResult;
use crate::db::{payments, Tenant};

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
        diesel::update(subscriptions::table.find(tenant.org_id().uuid()))
            .set(subscriptions::has_payment_method.eq(true))
            .execute(conn)?;
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
        let on_file: bool = subscriptions::table
            .find(tenant.org_id().uuid())
            .select(subscriptions::has_payment_method)
            .first(conn)?;
        if on_file {
            Self::charge(conn, tenant, purchase)?;
        }
        Ok(on_file)
    }

    fn portal_url(&self, _tenant: &Tenant) -> Option<String> {
        None
    }
}
