//! Payments the local provider takes, recorded as paid invoices through
//! `invoices::create`, so they are numbered exactly like the invoices a
//! payment provider reports (`BEH-2026-0001`).

use diesel::prelude::*;

use crate::billing::Purchase;
use crate::db::invoices::{self, InvoiceStatus, NewLine};
use crate::db::Tenant;

/// Records a paid invoice for `purchase`; returns its number. Run inside a
/// transaction.
pub fn record_payment(
    conn: &mut PgConnection,
    tenant: &Tenant,
    purchase: &Purchase,
) -> QueryResult<String> {
    let line = NewLine {
        description: line_text(purchase),
        quantity: 1,
        unit_cents: purchase.interval.price_cents(purchase.plan),
    };
    let period = (purchase.period_start, purchase.period_end);
    let invoice = invoices::create(
        conn,
        tenant,
        &[line],
        period,
        InvoiceStatus::Paid,
        None,
        purchase.made_at,
    )?;
    Ok(invoice.number)
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
