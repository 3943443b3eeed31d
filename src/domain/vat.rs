//! VAT on invoices: which rate applies to a customer (by country and VAT id)
//! and how a charged amount splits into net and VAT. The seller is in the EU
//! (`VAT_SELLER_COUNTRY`); plan prices are final prices, so the amount
//! charged is the gross and the VAT is contained in it (docs/billing.md).

pub use super::country::Country;
use super::seller::{Identity, Seller};

/// The note an invoice carries when an EU business customer accounts for the VAT.
pub const REVERSE_CHARGE: &str = "VAT reverse charge — Article 196 Council Directive 2006/112/EC";
/// The note of an invoice to a customer outside the EU.
pub const NOT_EU: &str = "Not subject to EU VAT";

/// How VAT is worked out for invoices: the seller's country and whether
/// Stripe Tax computes it (then Stripe's amounts are taken as they are);
/// and the rest of the seller's identity, which invoices print with that
/// country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatSetup {
    pub seller: Country,
    pub stripe_tax: bool,
    pub identity: Identity,
}

impl Default for VatSetup {
    fn default() -> Self {
        VatSetup {
            seller: Country::GERMANY,
            stripe_tax: false,
            identity: Identity::default(),
        }
    }
}

impl VatSetup {
    /// The seller as an invoice issued now names it.
    pub fn seller_snapshot(&self) -> Seller {
        self.identity.seller(self.seller)
    }
}

/// The VAT an invoice carries: the rate (basis points) and the note printed with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Treatment {
    pub rate_bp: i32,
    pub note: Option<&'static str>,
}

/// The rule (docs/billing.md, "VAT"): an EU customer with a VAT id in an EU
/// country other than the seller's → 0 %, reverse charge; an EU customer
/// without a VAT id, or in the seller's country → the customer country's
/// rate; outside the EU → 0 %, not subject to EU VAT. No country given →
/// the seller's country (a customer is domestic until they say otherwise).
pub fn treatment(seller: Country, customer: Option<Country>, vat_id: Option<&str>) -> Treatment {
    let country = customer.unwrap_or(seller);
    let Some(rate_bp) = country.eu_rate() else {
        return Treatment {
            rate_bp: 0,
            note: Some(NOT_EU),
        };
    };
    let business = vat_id.is_some_and(|v| !v.trim().is_empty());
    if business && country != seller {
        return Treatment {
            rate_bp: 0,
            note: Some(REVERSE_CHARGE),
        };
    }
    Treatment {
        rate_bp,
        note: None,
    }
}

/// Splits a gross amount (cents) at `rate_bp` into (net, VAT), net + VAT =
/// gross. One rounding per invoice, on the VAT, half away from zero.
pub fn split_gross(gross: i64, rate_bp: i32) -> (i64, i64) {
    let rate = i128::from(rate_bp);
    let numerator = i128::from(gross) * rate;
    let denominator = 10_000 + rate;
    let half = denominator / 2;
    let vat = if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        (numerator - half) / denominator
    };
    let vat = vat as i64;
    (gross - vat, vat)
}

/// A rate in basis points as people read it: 1900 → "19 %", 2550 → "25.5 %".
pub fn format_rate(rate_bp: i32) -> String {
    let whole = rate_bp / 100;
    match rate_bp % 100 {
        0 => format!("{whole} %"),
        frac if frac % 10 == 0 => format!("{whole}.{} %", frac / 10),
        frac => format!("{whole}.{frac:02} %"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Country {
        Country::parse(code).unwrap()
    }

    #[test]
    fn the_rule_by_country_and_vat_id() {
        let de = c("DE");
        let domestic = treatment(de, Some(de), Some("DE123456789"));
        assert_eq!((domestic.rate_bp, domestic.note), (1900, None));
        let reverse = treatment(de, Some(c("FR")), Some("FR12345678901"));
        assert_eq!((reverse.rate_bp, reverse.note), (0, Some(REVERSE_CHARGE)));
        let consumer = treatment(de, Some(c("FR")), None);
        assert_eq!((consumer.rate_bp, consumer.note), (2000, None));
        let abroad = treatment(de, Some(c("US")), Some("123"));
        assert_eq!((abroad.rate_bp, abroad.note), (0, Some(NOT_EU)));
        assert_eq!(treatment(de, None, None).rate_bp, 1900);
        assert_eq!(treatment(de, Some(c("FI")), Some(" ")).rate_bp, 2550);
    }

    #[test]
    fn gross_splits_into_net_and_vat_that_add_up() {
        assert_eq!(split_gross(4900, 1900), (4118, 782));
        assert_eq!(split_gross(11900, 1900), (10000, 1900));
        assert_eq!(split_gross(4900, 0), (4900, 0));
        assert_eq!(split_gross(1, 2550), (1, 0));
        assert_eq!(split_gross(-11900, 1900), (-10000, -1900));
        for gross in 0..3000 {
            let (net, vat) = split_gross(gross, 2100);
            assert_eq!(net + vat, gross);
        }
    }

    #[test]
    fn rates_read_as_percentages() {
        assert_eq!(format_rate(1900), "19 %");
        assert_eq!(format_rate(2550), "25.5 %");
        assert_eq!(format_rate(0), "0 %");
    }
}
