//! VAT on invoices: which rate applies to a customer (by country and VAT id)
//! and how a charged amount splits into net and VAT. The seller is in the EU
//! (`VAT_SELLER_COUNTRY`); plan prices are final prices, so the amount
//! charged is the gross and the VAT is contained in it (docs/billing.md).

use super::seller::{Identity, Seller};

/// ISO 3166-1 alpha-2 codes, all 249 assigned ones (from the tz database's
/// `iso3166.tab`, which follows the ISO 3166 maintenance agency).
const ISO_3166_ALPHA2: &str = "\
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
    DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP
    GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
    KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
    MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
    PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM
    US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// EU standard VAT rates in basis points (1900 = 19 %). Source: European
/// Commission, "VAT rates applied in the Member States of the European
/// Union", situation at 1 July 2025 (taxation-customs.ec.europa.eu), with
/// Romania's 21 % from 1 August 2025. Greece's VAT ids start with EL.
const EU_STANDARD_RATES: [(&str, i32); 27] = [
    ("AT", 2000),
    ("BE", 2100),
    ("BG", 2000),
    ("CY", 1900),
    ("CZ", 2100),
    ("DE", 1900),
    ("DK", 2500),
    ("EE", 2400),
    ("ES", 2100),
    ("FI", 2550),
    ("FR", 2000),
    ("GR", 2400),
    ("HR", 2500),
    ("HU", 2700),
    ("IE", 2300),
    ("IT", 2200),
    ("LT", 2100),
    ("LU", 1700),
    ("LV", 2100),
    ("MT", 1800),
    ("NL", 2100),
    ("PL", 2300),
    ("PT", 2300),
    ("RO", 2100),
    ("SE", 2500),
    ("SI", 2200),
    ("SK", 2300),
];

/// The note an invoice carries when an EU business customer accounts for the VAT.
pub const REVERSE_CHARGE: &str = "VAT reverse charge — Article 196 Council Directive 2006/112/EC";
/// The note of an invoice to a customer outside the EU.
pub const NOT_EU: &str = "Not subject to EU VAT";

/// A valid ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country([u8; 2]);

impl Country {
    /// Reads a code ("de" or "DE"); None when it is not an assigned code.
    pub fn parse(code: &str) -> Option<Country> {
        let code = code.trim().to_ascii_uppercase();
        let bytes: [u8; 2] = code.as_bytes().try_into().ok()?;
        let known = ISO_3166_ALPHA2
            .split_ascii_whitespace()
            .any(|c| c.as_bytes() == bytes);
        known.then_some(Country(bytes))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The standard VAT rate of an EU member state, in basis points.
    pub fn eu_rate(&self) -> Option<i32> {
        EU_STANDARD_RATES
            .iter()
            .find(|(c, _)| c.as_bytes() == self.0)
            .map(|(_, rate)| *rate)
    }

    /// The prefix of this member state's VAT ids (Greece: EL).
    pub fn vat_prefix(&self) -> &str {
        match self.as_str() {
            "GR" => "EL",
            code => code,
        }
    }
}

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
            seller: Country(*b"DE"),
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
    fn countries_are_assigned_iso_codes() {
        assert_eq!(c("de").as_str(), "DE");
        assert!(Country::parse("XX").is_none());
        assert!(Country::parse("DEU").is_none());
        assert!(Country::parse("").is_none());
        assert_eq!(ISO_3166_ALPHA2.split_ascii_whitespace().count(), 249);
        assert!(EU_STANDARD_RATES
            .iter()
            .all(|(code, _)| Country::parse(code).is_some()));
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
