//! The invoice mail: a plain-text body and an HTML alternative carrying the
//! numbered invoice (lines, net, VAT with its rate, gross, the VAT note) and
//! links to the printable page and its PDF, and the seller it names. Both
//! parts say the same.

use maud::{html, Markup};

use super::{link, MailText};
use crate::db::invoices::{Invoice, InvoiceLine};
use crate::domain::plans::format_euros;
use crate::domain::seller::{self, Seller};
use crate::domain::vat::format_rate;

/// The invoice mail: subject, plain text and HTML.
pub struct InvoiceMail {
    pub text: MailText,
    pub html: String,
}

/// The mail that tells the owners an invoice was issued.
pub fn issued(invoice: &Invoice, lines: &[InvoiceLine], public_url: &str) -> InvoiceMail {
    let page = link(public_url, &format!("/billing/invoices/{}", invoice.id));
    let subject = format!(
        "Invoice {} ({})",
        invoice.number,
        format_euros(invoice.total_cents)
    );
    // Mailed as it is issued, so its snapshot is there; the default name
    // only stands in for a row without one.
    let seller = invoice.seller_or(seller::DEFAULT_NAME);
    InvoiceMail {
        text: MailText {
            subject,
            body: plain(invoice, lines, &seller, &page),
        },
        html: rich(invoice, lines, &seller, &page).into_string(),
    }
}

fn period(invoice: &Invoice) -> String {
    format!(
        "{} – {}",
        invoice.period_start.format("%-d %b %Y"),
        invoice.period_end.format("%-d %b %Y")
    )
}

fn plain(invoice: &Invoice, lines: &[InvoiceLine], seller: &Seller, page: &str) -> String {
    let mut body = format!(
        "Hello,\n\nyour Lead Dashboard invoice {} for {} is {}.\n\n",
        invoice.number,
        period(invoice),
        invoice.status,
    );
    for l in lines {
        let amount = format_euros(l.amount_cents);
        body.push_str(&format!("{} × {}: {amount}\n", l.quantity, l.description));
    }
    body.push_str(&format!(
        "\nNet: {}\nVAT {}: {}\nTotal: {}\n",
        format_euros(invoice.net_cents),
        format_rate(invoice.vat_rate_bp),
        format_euros(invoice.vat_cents),
        format_euros(invoice.total_cents),
    ));
    if let Some(note) = &invoice.vat_note {
        body.push_str(&format!("{note}\n"));
    }
    body.push_str(&format!("\nIssued by:\n{}\n", seller.name));
    for line in seller.lines() {
        body.push_str(&format!("{line}\n"));
    }
    body.push_str(&format!("\nView and print it: {page}\nPDF: {page}.pdf\n"));
    body
}

fn rich(invoice: &Invoice, lines: &[InvoiceLine], seller: &Seller, page: &str) -> Markup {
    let cell = "padding:4px 8px;border-bottom:1px solid #ddd";
    let num = "padding:4px 8px;border-bottom:1px solid #ddd;text-align:right";
    html! {
        html lang="en" {
            body style="font-family:sans-serif;color:#222" {
                p { "Hello," }
                p { "your Lead Dashboard invoice " strong { (invoice.number) } " for " (period(invoice)) " is " (invoice.status) "." }
                table style="border-collapse:collapse" {
                    thead { tr { th style=(cell) { "Description" } th style=(num) { "Qty" } th style=(num) { "Amount" } } }
                    tbody { @for l in lines { tr { td style=(cell) { (l.description) } td style=(num) { (l.quantity) } td style=(num) { (format_euros(l.amount_cents)) } } } }
                    tfoot {
                        tr { td style=(cell) colspan="2" { "Net" } td style=(num) { (format_euros(invoice.net_cents)) } }
                        tr { td style=(cell) colspan="2" { "VAT " (format_rate(invoice.vat_rate_bp)) } td style=(num) { (format_euros(invoice.vat_cents)) } }
                        tr { th style=(cell) colspan="2" { "Total (" (invoice.currency) ")" } th style=(num) { (format_euros(invoice.total_cents)) } }
                    }
                }
                @if let Some(note) = &invoice.vat_note { p { (note) } }
                p { "Issued by:" br; strong { (seller.name) } @for line in seller.lines() { br; (line) } }
                p { a href=(page) { "View and print the invoice" } " · " a href={ (page) ".pdf" } { "PDF" } }
            }
        }
    }
}
