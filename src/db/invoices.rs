//! Invoices: one per paid period, numbered per organization and year without
//! gaps (`BEH-2026-0001`). The number is taken while holding the
//! organization row lock, inside the transaction that inserts the invoice,
//! so concurrent creations get consecutive numbers and a rolled-back
//! creation leaves no hole. The VAT is decided in the same place, from the
//! billing details read under that lock, and stored with the invoice, as
//! are the customer and the seller it names (snapshots: a later change of
//! billing details or configuration never rewrites an issued invoice).

use chrono::{DateTime, Datelike, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::db::schema::{invoice_lines, invoices, organizations};
use crate::db::Tenant;
use crate::domain::seller::Seller;
use crate::domain::vat::{self, Country, VatSetup};
use crate::ids::{InvoiceId, OrgId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invoices)]
pub struct Invoice {
    pub id: InvoiceId,
    pub number: String,
    pub status: String,
    pub currency: String,
    /// The gross: what was charged.
    pub total_cents: i64,
    pub net_cents: i64,
    /// Basis points: 1900 = 19 %.
    pub vat_rate_bp: i32,
    pub vat_cents: i64,
    /// Reverse charge or "not subject to EU VAT", printed with the totals.
    pub vat_note: Option<String>,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub customer: Value,
    pub issued_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The seller as issued (`Seller`); none on invoices from before
    /// snapshots were kept.
    pub seller: Option<Value>,
}

impl Invoice {
    /// The seller this invoice names: its snapshot, or, for an invoice from
    /// before snapshots were kept, only `current_name` (the configured one).
    pub fn seller_or(&self, current_name: &str) -> Seller {
        self.seller
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_else(|| Seller::named(current_name))
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invoice_lines)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: i32,
    pub unit_cents: i64,
    pub amount_cents: i64,
}

/// A line to bill.
#[derive(Debug, Clone)]
pub struct NewLine {
    pub description: String,
    pub quantity: i32,
    pub unit_cents: i64,
}

impl NewLine {
    fn amount_cents(&self) -> i64 {
        self.unit_cents * i64::from(self.quantity)
    }
}

/// Invoice status as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }
}

/// How an invoice's VAT is found: the rule applied to the amount charged
/// (the lines' sum is the gross), or the provider's own tax figures.
#[derive(Debug, Clone, Copy)]
pub struct Taxing {
    pub seller: Country,
    pub provider: Option<ProviderTax>,
}

impl Taxing {
    /// The VAT rule, for a seller in `seller`.
    pub fn rule(seller: Country) -> Taxing {
        Taxing {
            seller,
            provider: None,
        }
    }
}

/// Where an invoice comes from: the provider's invoice id (none for the
/// local provider's charges), how its VAT is found and the seller it names
/// (from the configuration at the moment of issue).
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub provider_invoice_id: Option<&'a str>,
    pub taxing: Taxing,
    pub seller: Seller,
}

impl Source<'static> {
    /// A charge the app took itself (the local provider): the VAT rule
    /// applies, the seller is the one configured now.
    pub fn local(vat: &VatSetup) -> Source<'static> {
        Source {
            provider_invoice_id: None,
            taxing: Taxing::rule(vat.seller),
            seller: vat.seller_snapshot(),
        }
    }
}

/// VAT and gross as the provider computed them (Stripe Tax), in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderTax {
    pub vat_cents: i64,
    pub gross_cents: i64,
}

/// The VAT columns of a new invoice.
struct Vat {
    gross: i64,
    vat: i64,
    rate_bp: i32,
    note: Option<&'static str>,
}

/// Applies `taxing` to lines summing to `lines_sum` for the `billed` customer.
fn vat_of(taxing: &Taxing, billed: &Billed, lines_sum: i64) -> Vat {
    let country = billed.country.as_deref().and_then(Country::parse);
    let rule = vat::treatment(taxing.seller, country, billed.vat.as_deref());
    let Some(p) = taxing.provider else {
        let (_, vat) = vat::split_gross(lines_sum, rule.rate_bp);
        return Vat {
            gross: lines_sum,
            vat,
            rate_bp: rule.rate_bp,
            note: rule.note,
        };
    };
    let net = p.gross_cents - p.vat_cents;
    // The provider reports amounts, not a rate: the rate they imply, rounded.
    let rate_bp = if net > 0 {
        ((p.vat_cents * 10_000 + net / 2) / net).clamp(0, 10_000) as i32
    } else {
        0
    };
    Vat {
        gross: p.gross_cents,
        vat: p.vat_cents,
        rate_bp,
        note: (p.vat_cents == 0).then_some(rule.note).flatten(),
    }
}

/// "behar-s-organization" → "BEH" (letters and digits, padded with X).
pub fn number_prefix(slug: &str) -> String {
    let mut prefix: String = slug
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(3)
        .collect::<String>()
        .to_uppercase();
    while prefix.len() < 3 {
        prefix.push('X');
    }
    prefix
}

/// Creates an invoice with the next number. Run inside a transaction. The
/// one place invoices are numbered, whichever provider took the payment.
pub fn create(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lines: &[NewLine],
    period: (DateTime<Utc>, DateTime<Utc>),
    status: InvoiceStatus,
    source: &Source,
    now: DateTime<Utc>,
) -> QueryResult<Invoice> {
    let billed = lock_billed_organization(conn, tenant)?;
    let provider_invoice_id = source.provider_invoice_id;
    let vat = vat_of(
        &source.taxing,
        &billed,
        lines.iter().map(NewLine::amount_cents).sum(),
    );
    let year = period.0.year();
    let seq = next_seq(conn, tenant, year)?;
    let id = InvoiceId::new();
    diesel::insert_into(invoices::table)
        .values(NewInvoice {
            organization_id: tenant.org_id(),
            id,
            number: format!("{}-{year}-{seq:04}", number_prefix(&billed.slug)),
            year,
            seq,
            status: status.as_str(),
            total_cents: vat.gross,
            vat_rate_bp: vat.rate_bp,
            vat_cents: vat.vat,
            vat_note: vat.note,
            period_start: period.0,
            period_end: period.1,
            customer: billed.customer(),
            seller: snapshot(&source.seller),
            provider_invoice_id,
            issued_at: (status != InvoiceStatus::Draft).then_some(now),
            paid_at: (status == InvoiceStatus::Paid).then_some(now),
        })
        .execute(conn)?;
    let rows: Vec<_> = lines
        .iter()
        .map(|line| NewInvoiceLine::of(tenant, id, line))
        .collect();
    diesel::insert_into(invoice_lines::table)
        .values(rows)
        .execute(conn)?;
    find(conn, tenant, id)
}

/// The seller as the `invoices.seller` column keeps it.
fn snapshot(seller: &Seller) -> Value {
    serde_json::to_value(seller).unwrap_or(Value::Null)
}

/// The organization as an invoice names it.
struct Billed {
    slug: String,
    name: String,
    company: Option<String>,
    address: Option<String>,
    vat: Option<String>,
    country: Option<String>,
}

impl Billed {
    fn customer(&self) -> Value {
        serde_json::json!({
            "name": self.company.as_deref().unwrap_or(&self.name),
            "address": self.address,
            "vat_id": self.vat,
            "country": self.country,
        })
    }
}

/// Reads the billed organization, taking its row lock: the lock serialises
/// numbering per organization until the inserting transaction ends.
fn lock_billed_organization(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Billed> {
    let (slug, name, company, address, vat, country) = organizations::table
        .find(tenant.org_id())
        .select((
            organizations::slug,
            organizations::name,
            organizations::billing_company,
            organizations::billing_address,
            organizations::billing_vat_id,
            organizations::billing_country,
        ))
        .for_no_key_update()
        .first(conn)?;
    Ok(Billed {
        slug,
        name,
        company,
        address,
        vat,
        country,
    })
}

/// The next sequence number of the tenant's invoices in `year`.
fn next_seq(conn: &mut PgConnection, tenant: &Tenant, year: i32) -> QueryResult<i32> {
    let last: Option<i32> = scoped_invoices(tenant)
        .filter(invoices::year.eq(year))
        .select(diesel::dsl::max(invoices::seq))
        .first(conn)?;
    Ok(last.unwrap_or(0) + 1)
}

/// An invoice as created, in the tenant's organization.
#[derive(Insertable)]
#[diesel(table_name = invoices)]
struct NewInvoice<'a> {
    organization_id: OrgId,
    id: InvoiceId,
    number: String,
    year: i32,
    seq: i32,
    status: &'a str,
    total_cents: i64,
    vat_rate_bp: i32,
    vat_cents: i64,
    vat_note: Option<&'a str>,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    customer: Value,
    seller: Value,
    provider_invoice_id: Option<&'a str>,
    issued_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
}

/// A line of a new invoice, in the tenant's organization.
#[derive(Insertable)]
#[diesel(table_name = invoice_lines)]
struct NewInvoiceLine<'a> {
    organization_id: OrgId,
    id: Uuid,
    invoice_id: InvoiceId,
    description: &'a str,
    quantity: i32,
    unit_cents: i64,
    amount_cents: i64,
}

impl NewInvoiceLine<'_> {
    fn of<'a>(tenant: &Tenant, invoice_id: InvoiceId, line: &'a NewLine) -> NewInvoiceLine<'a> {
        NewInvoiceLine {
            organization_id: tenant.org_id(),
            id: Uuid::now_v7(),
            invoice_id,
            description: &line.description,
            quantity: line.quantity,
            unit_cents: line.unit_cents,
            amount_cents: line.amount_cents(),
        }
    }
}

/// A position in the newest-first invoice list.
pub type Cursor = crate::db::cursor::Cursor<InvoiceId>;

/// Where a page of the invoice list starts.
pub type Position = crate::db::cursor::Position<InvoiceId>;

/// One page of the tenant's invoices at `position`, newest first. Keyset on
/// (created_at, id), so a page costs the same however many invoices came
/// before it.
pub fn list(
    conn: &mut PgConnection,
    tenant: &Tenant,
    position: Position,
    limit: i64,
) -> QueryResult<crate::db::cursor::Page<Invoice>> {
    let mut query = scoped_invoices(tenant).into_boxed();
    if let Some((op, c)) = position.bound() {
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "(invoices.created_at, invoices.id) {op} ("
            ))
            .bind::<diesel::sql_types::Timestamptz, _>(c.created_at)
            .sql(", ")
            .bind::<diesel::sql_types::Uuid, _>(c.id)
            .sql(")"),
        );
    }
    query = if position.reads_newest_first() {
        query.order((invoices::created_at.desc(), invoices::id.desc()))
    } else {
        query.order((invoices::created_at.asc(), invoices::id.asc()))
    };
    let rows = query
        .select(Invoice::as_select())
        .limit(limit + 1)
        .load(conn)?;
    Ok(crate::db::cursor::Page::from_rows(rows, &position, limit))
}

/// One invoice of the tenant; NotFound for another organization's.
pub fn find(conn: &mut PgConnection, tenant: &Tenant, id: InvoiceId) -> QueryResult<Invoice> {
    scoped_invoices(tenant)
        .filter(invoices::id.eq(id))
        .select(Invoice::as_select())
        .first(conn)
}

pub fn lines(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: InvoiceId,
) -> QueryResult<Vec<InvoiceLine>> {
    scoped_invoice_lines(tenant)
        .filter(invoice_lines::invoice_id.eq(id))
        .order(invoice_lines::id.asc())
        .select(InvoiceLine::as_select())
        .load(conn)
}

/// An invoice as the payment provider reports it in one event.
pub struct ProviderInvoice<'a> {
    pub id: &'a str,
    pub status: InvoiceStatus,
    /// The event's version for this invoice (time plus rank).
    pub version: DateTime<Utc>,
    pub hosted_url: Option<&'a str>,
    pub lines: &'a [NewLine],
    pub period: (DateTime<Utc>, DateTime<Utc>),
    pub taxing: Taxing,
    /// The seller as configured now.
    pub seller: &'a Seller,
}

/// What mirroring a provider invoice did.
#[derive(Debug, Clone)]
pub enum Synced {
    /// Older than the stored state, or the stored state is final.
    Unchanged,
    Updated,
    /// It left draft (or arrived already open or paid): the invoice to mail.
    Issued(Box<Invoice>),
}

/// Mirrors a provider invoice: creates it numbered the first time, else
/// moves it to the reported status unless the stored state is newer or
/// final (paid and void never change).
pub fn sync_provider_invoice(
    conn: &mut PgConnection,
    tenant: &Tenant,
    p: &ProviderInvoice,
    now: DateTime<Utc>,
) -> QueryResult<Synced> {
    let row = scoped_invoices(tenant).filter(invoices::provider_invoice_id.eq(p.id));
    let stored: Option<(InvoiceId, String, Option<DateTime<Utc>>)> = row
        .select((invoices::id, invoices::status, invoices::provider_state_at))
        .for_update()
        .first(conn)
        .optional()?;
    let issues = p.status != InvoiceStatus::Draft && p.status != InvoiceStatus::Void;
    let (id, issued) = match stored {
        None => {
            let source = Source {
                provider_invoice_id: Some(p.id),
                taxing: p.taxing,
                seller: p.seller.clone(),
            };
            let id = create(conn, tenant, p.lines, p.period, p.status, &source, now)?.id;
            (id, issues)
        }
        Some((_, status, _)) if status == "paid" || status == "void" => {
            return Ok(Synced::Unchanged)
        }
        Some((_, _, Some(at))) if p.version < at => return Ok(Synced::Unchanged),
        Some((id, status, _)) => {
            if status == "draft" {
                // Stripe computes tax (and may change lines) until it
                // finalizes: a draft takes each newer event's amounts, and
                // the amounts freeze when it leaves draft.
                refresh_draft(conn, tenant, id, p)?;
            }
            let issued = issues && status == "draft";
            if issued {
                // Issued now, not when the draft was made: the seller as configured now.
                diesel::update(scoped_invoices(tenant).filter(invoices::id.eq(id)))
                    .set(invoices::seller.eq(Some(snapshot(p.seller))))
                    .execute(conn)?;
            }
            set_status(conn, tenant, id, p.status, now)?;
            (id, issued)
        }
    };
    diesel::update(scoped_invoices(tenant).filter(invoices::id.eq(id)))
        .set(invoices::provider_state_at.eq(Some(p.version)))
        .execute(conn)?;
    if let Some(url) = p.hosted_url {
        diesel::update(scoped_invoices(tenant).filter(invoices::id.eq(id)))
            .set(invoices::hosted_url.eq(Some(url)))
            .execute(conn)?;
    }
    if issued {
        return Ok(Synced::Issued(Box::new(find(conn, tenant, id)?)));
    }
    Ok(Synced::Updated)
}

/// Replaces a draft's lines, totals, VAT and period with the provider's newer figures.
fn refresh_draft(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: InvoiceId,
    p: &ProviderInvoice,
) -> QueryResult<()> {
    let billed = lock_billed_organization(conn, tenant)?;
    let vat = vat_of(
        &p.taxing,
        &billed,
        p.lines.iter().map(NewLine::amount_cents).sum(),
    );
    diesel::update(scoped_invoices(tenant).filter(invoices::id.eq(id)))
        .set((
            invoices::total_cents.eq(vat.gross),
            invoices::vat_rate_bp.eq(vat.rate_bp),
            invoices::vat_cents.eq(vat.vat),
            invoices::vat_note.eq(vat.note),
            invoices::period_start.eq(p.period.0),
            invoices::period_end.eq(p.period.1),
        ))
        .execute(conn)?;
    diesel::delete(scoped_invoice_lines(tenant).filter(invoice_lines::invoice_id.eq(id)))
        .execute(conn)?;
    let rows: Vec<_> = p
        .lines
        .iter()
        .map(|line| NewInvoiceLine::of(tenant, id, line))
        .collect();
    diesel::insert_into(invoice_lines::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

/// Moves one invoice to `status`; issued when it leaves draft, paid when paid.
pub fn set_status(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: InvoiceId,
    status: InvoiceStatus,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let row = scoped_invoices(tenant).filter(invoices::id.eq(id));
    diesel::update(row)
        .set((
            invoices::status.eq(status.as_str()),
            invoices::paid_at.eq((status == InvoiceStatus::Paid).then_some(now)),
        ))
        .execute(conn)?;
    if status != InvoiceStatus::Draft {
        diesel::update(row.filter(invoices::issued_at.is_null()))
            .set(invoices::issued_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok(())
}

/// Where the newest open invoice can be paid on the provider's page.
pub fn open_hosted_url(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Option<String>> {
    newest_open_hosted_url(conn, tenant, false)
}

/// Where the newest open invoice waiting for the cardholder's confirmation
/// can be confirmed (the provider's hosted invoice page), if there is one.
pub fn confirmation_url(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Option<String>> {
    newest_open_hosted_url(conn, tenant, true)
}

/// The hosted page of the newest open invoice (only of those waiting for a
/// confirmation when `needing_confirmation`).
fn newest_open_hosted_url(
    conn: &mut PgConnection,
    tenant: &Tenant,
    needing_confirmation: bool,
) -> QueryResult<Option<String>> {
    let mut query = scoped_invoices(tenant)
        .filter(invoices::status.eq(InvoiceStatus::Open.as_str()))
        .filter(invoices::hosted_url.is_not_null())
        .into_boxed();
    if needing_confirmation {
        query = query.filter(invoices::needs_confirmation);
    }
    let url: Option<Option<String>> = query
        .order((invoices::created_at.desc(), invoices::id.desc()))
        .select(invoices::hosted_url)
        .first(conn)
        .optional()?;
    Ok(url.flatten())
}

/// The bank asks the cardholder to confirm the payment of the provider
/// invoice `provider_id` (shown while the invoice is open).
pub fn mark_needs_confirmation(
    conn: &mut PgConnection,
    tenant: &Tenant,
    provider_id: &str,
) -> QueryResult<()> {
    diesel::update(scoped_invoices(tenant).filter(invoices::provider_invoice_id.eq(provider_id)))
        .set(invoices::needs_confirmation.eq(true))
        .execute(conn)
        .map(drop)
}

/// Every `invoice_lines` query of a tenant starts here.
fn scoped_invoice_lines(
    tenant: &Tenant,
) -> Filter<invoice_lines::table, Eq<invoice_lines::organization_id, OrgId>> {
    invoice_lines::table.filter(scoped_invoice_lines_rows(tenant))
}

/// Every `invoices` query of a tenant starts here.
fn scoped_invoices(
    tenant: &Tenant,
) -> Filter<invoices::table, Eq<invoices::organization_id, OrgId>> {
    invoices::table.filter(scoped_invoices_rows(tenant))
}

/// The condition every `invoice_lines` row of a tenant meets (for joined queries).
fn scoped_invoice_lines_rows(tenant: &Tenant) -> Eq<invoice_lines::organization_id, OrgId> {
    invoice_lines::organization_id.eq(tenant.org_id())
}

/// The condition every `invoices` row of a tenant meets (for joined queries).
fn scoped_invoices_rows(tenant: &Tenant) -> Eq<invoices::organization_id, OrgId> {
    invoices::organization_id.eq(tenant.org_id())
}

#[cfg(test)]
mod tests {
    use super::number_prefix;

    #[test]
    fn prefixes() {
        assert_eq!(number_prefix("behar-s-organization"), "BEH");
        assert_eq!(number_prefix("a-b"), "ABX");
        assert_eq!(number_prefix("x"), "XXX");
    }
}
