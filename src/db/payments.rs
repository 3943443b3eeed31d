//! Payments the local provider takes, recorded as paid invoices numbered per
//! organization and year without gaps (`BEH-2026-0001`). The caller holds the
//! organization's subscription row, which serialises the numbering; the unique
//! (organization, year, seq) key backs it up.

use chrono::{Datelike, Utc};
use diesel::dsl::Eq;
use diesel::prelude::*;
use uuid::Uuid;

use crate::billing::Purchase;
use crate::db::schema::{invoice_lines, invoices, organizations};
use crate::db::Tenant;

/// "BEH" from "behar-s-organization": the first three letters or digits of the slug.
pub fn number_prefix(slug: &str) -> String {
    let prefix: String = slug
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(3)
        .collect::<String>()
        .to_ascii_uppercase();
    if prefix.is_empty() {
        "INV".into()
    } else {
        prefix
    }
}

/// Records a paid invoice for `purchase`; returns its number.
pub fn record_payment(
    conn: &mut PgConnection,
    tenant: &Tenant,
    purchase: &Purchase,
) -> QueryResult<String> {
    let org = tenant.org_id().uuid();
    let (slug, name): (String, String) = organizations::table
        .find(org)
        .select((organizations::slug, organizations::name))
        .first(conn)?;
    let now = Utc::now();
    let year = purchase.period_start.year();
    let last: Option<i32> = invoices::table
        .filter(scoped_invoices_rows(tenant))
        .filter(invoices::year.eq(year))
        .select(diesel::dsl::max(invoices::seq))
        .first(conn)?;
    let seq = last.unwrap_or(0) + 1;
    let number = format!("{}-{year}-{seq:04}", number_prefix(&slug));
    let amount = purchase.interval.price_cents(purchase.plan);
    let id = Uuid::now_v7();
    diesel::insert_into(invoices::table)
        .values((
            invoices::organization_id.eq(org),
            invoices::id.eq(id),
            invoices::number.eq(&number),
            invoices::year.eq(year),
            invoices::seq.eq(seq),
            invoices::status.eq("paid"),
            invoices::total_cents.eq(amount),
            invoices::period_start.eq(purchase.period_start),
            invoices::period_end.eq(purchase.period_end),
            invoices::customer.eq(serde_json::json!({ "name": name })),
            invoices::issued_at.eq(Some(now)),
            invoices::paid_at.eq(Some(now)),
        ))
        .execute(conn)?;
    diesel::insert_into(invoice_lines::table)
        .values((
            invoice_lines::organization_id.eq(org),
            invoice_lines::id.eq(Uuid::now_v7()),
            invoice_lines::invoice_id.eq(id),
            invoice_lines::description.eq(line_text(purchase)),
            invoice_lines::quantity.eq(1),
            invoice_lines::unit_cents.eq(amount),
            invoice_lines::amount_cents.eq(amount),
        ))
        .execute(conn)?;
    Ok(number)
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

/// The condition every `invoices` row of a tenant meets.
fn scoped_invoices_rows(tenant: &Tenant) -> Eq<invoices::organization_id, Uuid> {
    invoices::organization_id.eq(tenant.org_id().uuid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(number_prefix("behar-s-organization"), "BEH");
        assert_eq!(number_prefix("a-b"), "AB");
        assert_eq!(number_prefix("-"), "INV");
    }
}
