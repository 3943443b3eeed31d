//! The invoice as a PDF: one A4 page with what the printable page shows
//! (seller, number, billed customer, period, lines, net, VAT, gross, the VAT note),
//! written with `pdf-writer` in Helvetica (a base-14 font, nothing embedded)
//! and uncompressed, so the text stays searchable and readable by tools.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::db::invoices::{Invoice, InvoiceLine};
use crate::db::models::Organization;
use crate::domain::plans::format_euros;
use crate::domain::seller::Seller;
use crate::domain::vat::format_rate;

const FONT: Name = Name(b"F1");
const BOLD: Name = Name(b"F2");
/// A4 in points.
const PAGE: (f32, f32) = (595.0, 842.0);
const LEFT: f32 = 56.0;
const RIGHT: f32 = 539.0;

/// The PDF bytes of one invoice, naming `seller` (`Invoice::seller_or`).
pub fn invoice_pdf(
    org: &Organization,
    invoice: &Invoice,
    lines: &[InvoiceLine],
    seller: &Seller,
) -> Vec<u8> {
    let [catalog, tree, page, font, bold, content] = [1, 2, 3, 4, 5, 6].map(Ref::new);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1));
    p.parent(tree);
    p.contents(content);
    p.resources().fonts().pair(FONT, font).pair(BOLD, bold);
    p.finish();
    for (id, name) in [(font, "Helvetica"), (bold, "Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(name.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.stream(content, &body(org, invoice, lines, seller).finish());
    pdf.finish()
}

/// Writes text top-down, one line at a time.
struct Writer {
    content: Content,
    y: f32,
}

impl Writer {
    fn text(&mut self, font: Name, size: f32, x: f32, text: &str) {
        self.content.begin_text();
        self.content.set_font(font, size);
        self.content.next_line(x, self.y);
        self.content.show(Str(&win_ansi(text)));
        self.content.end_text();
    }

    /// Text ending at `x` (amounts), its width measured roughly: Helvetica's
    /// digits are 0.556 em wide, the widest glyphs in amounts.
    fn right(&mut self, font: Name, size: f32, x: f32, text: &str) {
        let width = text.chars().count() as f32 * size * 0.556;
        self.text(font, size, x - width, text);
    }

    fn down(&mut self, by: f32) {
        self.y -= by;
    }
}

fn body(org: &Organization, invoice: &Invoice, lines: &[InvoiceLine], seller: &Seller) -> Content {
    let top = PAGE.1 - 72.0;
    let mut w = Writer {
        content: Content::new(),
        y: top,
    };
    let below_seller = seller_block(&mut w, seller);
    w.y = top;
    w.text(BOLD, 22.0, LEFT, "Invoice");
    w.down(20.0);
    w.text(FONT, 12.0, LEFT, &invoice.number);
    w.down(36.0);
    // The rows start under the seller's block too, however many lines it has.
    w.y = w.y.min(below_seller - 24.0);
    for (label, value) in header_rows(org, invoice) {
        w.text(BOLD, 10.0, LEFT, label);
        w.text(FONT, 10.0, LEFT + 100.0, &value);
        w.down(15.0);
    }
    w.down(20.0);
    w.text(BOLD, 10.0, LEFT, "Description");
    w.right(BOLD, 10.0, RIGHT - 150.0, "Qty");
    w.right(BOLD, 10.0, RIGHT, &format!("Amount ({})", invoice.currency));
    for l in lines {
        w.down(16.0);
        w.text(FONT, 10.0, LEFT, &l.description);
        w.right(FONT, 10.0, RIGHT - 150.0, &l.quantity.to_string());
        w.right(FONT, 10.0, RIGHT, &amount(l.amount_cents));
    }
    w.down(28.0);
    let vat = format!("VAT {}", format_rate(invoice.vat_rate_bp));
    let total = format!("Total ({})", invoice.currency);
    for (font, label, cents) in [
        (FONT, "Net", invoice.net_cents),
        (FONT, vat.as_str(), invoice.vat_cents),
        (BOLD, total.as_str(), invoice.total_cents),
    ] {
        w.text(font, 10.0, RIGHT - 200.0, label);
        w.right(font, 10.0, RIGHT, &amount(cents));
        w.down(16.0);
    }
    if let Some(note) = &invoice.vat_note {
        w.down(12.0);
        w.text(FONT, 10.0, LEFT, note);
    }
    w.content
}

/// The seller, top right: the name, then its address, VAT id and country,
/// left-aligned on the column of the totals' labels (text widths are only
/// estimated here, so right-aligned lines of letters came out ragged).
/// Returns where the block ends.
fn seller_block(w: &mut Writer, seller: &Seller) -> f32 {
    w.text(BOLD, 11.0, RIGHT - 200.0, &seller.name);
    for line in seller.lines() {
        w.down(14.0);
        w.text(FONT, 10.0, RIGHT - 200.0, &line);
    }
    w.y
}

/// An amount without the currency sign (the column heads name it), so each
/// amount is plain ASCII in the PDF's text, as searchable as the number.
fn amount(cents: i64) -> String {
    format_euros(cents).replace('€', "")
}

/// The labelled rows under the title, as on the printable page.
fn header_rows(org: &Organization, invoice: &Invoice) -> Vec<(&'static str, String)> {
    let text = |k: &str| {
        let v = invoice.customer.get(k).and_then(|v| v.as_str());
        v.unwrap_or("").to_string()
    };
    let mut rows = vec![("Billed to", text("name"))];
    for line in text("address").lines() {
        rows.push(("", line.to_string()));
    }
    for extra in [text("country"), text("vat_id")] {
        if !extra.is_empty() {
            rows.push(("", extra));
        }
    }
    let issued = invoice.issued_at.unwrap_or(invoice.created_at);
    rows.extend([
        ("Organization", org.name.clone()),
        ("Issued", issued.format("%-d %B %Y").to_string()),
        (
            "Period",
            format!(
                "{} – {}",
                invoice.period_start.format("%-d %B %Y"),
                invoice.period_end.format("%-d %B %Y")
            ),
        ),
        ("Status", invoice.status.clone()),
    ]);
    rows
}

/// Text in the fonts' WinAnsiEncoding: Latin-1 as is, the euro sign and
/// dashes at their places, anything else as "?".
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            '–' => 0x96,
            '—' => 0x97,
            c if (c as u32) < 0x80 || (0xA0..=0xFF).contains(&(c as u32)) => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::win_ansi;

    #[test]
    fn text_is_encoded_for_the_base_fonts() {
        assert_eq!(
            win_ansi("€49 – ä"),
            vec![0x80, b'4', b'9', b' ', 0x96, b' ', 0xE4]
        );
        assert_eq!(win_ansi("Ω"), b"?");
    }
}
