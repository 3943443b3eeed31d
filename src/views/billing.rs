//! Billing pages: subscription and payment method, billing details, the
//! invoice list, and the printable invoice (an A4 page with print styles).

use maud::{html, Markup, DOCTYPE};

use crate::assets;
use crate::db::billing::Details;
use crate::db::invoices::{Invoice, InvoiceLine};
use crate::db::models::{Organization, Subscription};
use crate::domain::billing::Interval;
use crate::domain::plans::format_euros;
use crate::domain::seller::Seller;
use crate::domain::subscription::Status;
use crate::domain::vat::format_rate;
use crate::forms::FieldErrors;
use crate::views::components::{csrf, form_errors, Field};
use crate::views::plans::pending_banner;
use crate::views::workspace::{pagination, Pager};

pub struct BillingPage<'a> {
    pub org: &'a Organization,
    pub subscription: &'a Subscription,
    pub details: Details,
    pub invoices: &'a [Invoice],
    /// The next (older) page of invoices, if there is one.
    pub newer_href: Option<String>,
    pub older_href: Option<String>,
    pub on_first: bool,
    pub can_manage: bool,
    pub stripe: bool,
    /// A change sent to Stripe and not confirmed yet.
    pub pending: Option<&'a str>,
    /// The local provider's card on file.
    pub card_last4: Option<&'a str>,
    /// The hosted invoice page where the bank's confirmation (3-D Secure) of
    /// an open invoice is given, while one waits for it.
    pub confirm_url: Option<&'a str>,
    pub csrf: &'a str,
}

/// The id of the subscription card (the pending banner refreshes it).
const SUBSCRIPTION_ID: &str = "billing-subscription";

pub fn body(p: &BillingPage, errors: &FieldErrors) -> Markup {
    html! {
        div.page-head { h1 { "Billing" } }
        @if !p.can_manage { div.banner.banner-info role="status" { "Only owners can change billing. You can view it." } }
        @if p.can_manage && !p.stripe {
            div.banner.banner-warn role="status" {
                strong { "Payments are simulated." }
                " No payment provider is configured, so cards are test cards and no money is collected."
            }
        }
        div.grid.grid-2 {
            (subscription_card(p))
            (details_form(p, errors))
        }
        (invoice_table(p))
    }
}

/// The subscription card (also answered alone to the pending banner's polls).
pub fn subscription_card(p: &BillingPage) -> Markup {
    let s = p.subscription;
    html! {
        section.card.stack #(SUBSCRIPTION_ID) {
            h2 { "Subscription" }
            @if let Some(what) = p.pending { (pending_banner(what, ("/billing/subscription", SUBSCRIPTION_ID), "/billing")) }
            dl.kv {
                dt { "Plan" } dd { (s.plan.name()) " · billed " (if s.billing_interval == Interval::Yearly { "yearly" } else { "monthly" }) }
                dt { "Status" } dd { (s.status.label()) }
                dt { "Current period ends" } dd { (s.current_period_end.format("%e %B %Y")) }
                dt { "Payment method" } dd { (payment_method_text(p)) }
            }
            @if let Some(url) = p.confirm_url { (confirm_payment(p, url)) }
            @if s.status == Status::PastDue { (pay_now(p)) }
            @if p.can_manage {
                form.stack method="post" action="/billing/payment-method" {
                    (csrf(p.csrf))
                    @if !p.stripe {
                        div.field {
                            label for="f-card" { "Card number" }
                            input #f-card name="card_number" inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242";
                            p.hint { "Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined, 4000 0025 0000 3155 needs the cardholder's confirmation." }
                        }
                    }
                    button.btn type="submit" {
                        @if p.stripe { "Manage payment methods" } @else if s.has_payment_method { "Replace payment method" } @else { "Add payment method" }
                    }
                }
                p.small.muted { a href="/plans" { "Change plan" } }
            }
        }
    }
}

fn payment_method_text(p: &BillingPage) -> String {
    match (p.subscription.has_payment_method, p.card_last4) {
        (true, Some(last4)) if !p.stripe => format!("Card ending {last4}"),
        (true, _) => "On file".into(),
        (false, _) => "None yet".into(),
    }
}

/// The failed-payment box with "Pay now" (owners; admins read it).
fn pay_now(p: &BillingPage) -> Markup {
    html! {
        div.banner.banner-warn role="alert" #pay-now {
            div {
                strong { "A payment failed." }
                " Pay now to keep " (p.subscription.plan.name()) "; after the grace period the Free plan's limits apply. Nothing is deleted."
            }
            @if p.can_manage {
                form method="post" action="/billing/pay" {
                    (csrf(p.csrf))
                    button.btn.btn-primary type="submit" { "Pay now" }
                }
            }
        }
    }
}

/// The bank asks for the cardholder's confirmation: "Confirm payment" on
/// the invoice's hosted page (owners; admins read it).
fn confirm_payment(p: &BillingPage, url: &str) -> Markup {
    html! {
        div.banner.banner-warn role="alert" #confirm-payment {
            div {
                strong { "Your bank asks you to confirm a payment." }
                " It is collected once you confirm it on the invoice page."
            }
            @if p.can_manage {
                a.btn.btn-primary href=(url) rel="noopener" { "Confirm payment" }
            }
        }
    }
}

fn details_form(p: &BillingPage, errors: &FieldErrors) -> Markup {
    let d = &p.details;
    let (company, address, vat) = (d.company.as_str(), d.address.as_str(), d.vat_id.as_str());
    html! {
        section.card #billing-details {
            h2 { "Billing details" }
            p.small.muted { "Shown on your invoices." }
            form.stack method="post" action="/billing/details" hx-post="/billing/details" hx-target="#billing-details" hx-swap="outerHTML" {
                (csrf(p.csrf))
                (form_errors(errors))
                @if p.can_manage {
                    (Field::new("company", "Company name", company).autocomplete("organization").render(errors))
                    div.field.has-error[errors.get("address").is_some()] {
                        label for="f-address" { "Address" }
                        textarea #f-address name="address" rows="3" { (address) }
                        @if let Some(e) = errors.get("address") { p.field-error { (e) } }
                    }
                    (Field::new("country", "Country", &d.country).autocomplete("country").hint("Two-letter ISO code, like DE or FR: it decides the VAT on your invoices.").render(errors))
                    (Field::new("vat_id", "VAT id", vat).hint("For example DE123456789.").render(errors))
                    button.btn.btn-primary type="submit" { "Save details" }
                } @else {
                    dl.kv { dt { "Company" } dd { (company) } dt { "Address" } dd { (address) } dt { "Country" } dd { (d.country) } dt { "VAT id" } dd { (vat) } }
                }
            }
        }
    }
}

/// The billing details card alone (HTMX swap after saving).
pub fn details_fragment(p: &BillingPage, errors: &FieldErrors) -> Markup {
    details_form(p, errors)
}

fn status_badge(status: &str) -> Markup {
    let class = match status {
        "paid" => "badge badge-green",
        "open" => "badge badge-amber",
        "void" => "badge badge-gray",
        _ => "badge badge-blue",
    };
    html! { span class=(class) { (status) } }
}

fn invoice_table(p: &BillingPage) -> Markup {
    let invoices = p.invoices;
    html! {
        section.card.flush {
            div.card-head { h2 { "Invoices" } }
            @if invoices.is_empty() {
                div.empty { p { "No invoices yet. They appear here for every paid period." } }
                @if !p.on_first { p { a href="/billing" { "Newest invoices" } } }
            } @else {
                div.table-wrap { table.data.stack {
                    thead { tr { th { "Number" } th { "Period" } th.num { "Total" } th { "Status" } th { span.sr-only { "Open" } } } }
                    tbody {
                        @for i in invoices {
                            tr {
                                td.mono.stack-title { (i.number) }
                                td data-label="Period" { (i.period_start.format("%e %b %Y")) " – " (i.period_end.format("%e %b %Y")) }
                                td.num data-label="Total" { (format_euros(i.total_cents)) }
                                td data-label="Status" { (status_badge(&i.status)) }
                                td.actions { a href={ "/billing/invoices/" (i.id) } { "View" span.sr-only { " invoice " (i.number) } } }
                            }
                        }
                    }
                } }
                (pagination(
                    &Pager {
                        first: "/billing",
                        newer: p.newer_href.as_deref(),
                        older: p.older_href.as_deref(),
                        on_first: p.on_first,
                    },
                    invoices.len()
                ))
            }
        }
    }
}

/// Net, VAT (with its rate) and gross under the lines.
fn invoice_totals(invoice: &Invoice) -> Markup {
    html! {
        tr { th colspan="3" { "Net" } td.num { (format_euros(invoice.net_cents)) } }
        tr { th colspan="3" { "VAT " (format_rate(invoice.vat_rate_bp)) } td.num { (format_euros(invoice.vat_cents)) } }
        tr { th colspan="3" { "Total (" (invoice.currency) ")" } th.num { (format_euros(invoice.total_cents)) } }
    }
}

/// A standalone printable invoice, naming `seller` (`Invoice::seller_or`).
pub fn invoice_page(
    org: &Organization,
    invoice: &Invoice,
    lines: &[InvoiceLine],
    seller: &Seller,
) -> Markup {
    let customer = &invoice.customer;
    let text = |k: &str| {
        customer
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Invoice " (invoice.number) }
                link rel="stylesheet" href=(assets::url("app.css"));
            }
            body.public {
                main.invoice #main {
                    p.no-print { a href="/billing" { "← Back to billing" } " · " a href={ "/billing/invoices/" (invoice.id) ".pdf" } { "Download PDF" } }
                    header.invoice-head {
                        div { h1 { "Invoice" } p.mono { (invoice.number) } }
                        div { strong { (seller.name) } @for line in seller.lines() { br; (line) } }
                    }
                    dl.kv {
                        dt { "Billed to" } dd { (text("name")) br; span.prewrap { (text("address")) } @if !text("country").is_empty() { br; (text("country")) } @if !text("vat_id").is_empty() { br; "VAT " (text("vat_id")) } }
                        dt { "Organization" } dd { (org.name) }
                        dt { "Issued" } dd { (invoice.issued_at.unwrap_or(invoice.created_at).format("%e %B %Y")) }
                        dt { "Period" } dd { (invoice.period_start.format("%e %B %Y")) " – " (invoice.period_end.format("%e %B %Y")) }
                        dt { "Status" } dd { (status_badge(&invoice.status)) }
                    }
                    div.table-wrap { table.data {
                        thead { tr { th { "Description" } th.num { "Qty" } th.num { "Unit price" } th.num { "Amount" } } }
                        tbody { @for l in lines { tr { td.wrap { (l.description) } td.num { (l.quantity) } td.num { (format_euros(l.unit_cents)) } td.num { (format_euros(l.amount_cents)) } } } }
                        tfoot { (invoice_totals(invoice)) }
                    } }
                    @if let Some(note) = &invoice.vat_note { p.invoice-vat-note { (note) } }
                }
            }
        }
    }
}
