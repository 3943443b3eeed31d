//! Countries as ISO 3166-1 alpha-2 codes, with what VAT needs to know of
//! each: whether it is an EU member state, its standard rate and the prefix
//! of its VAT ids. Kept apart from the VAT rules so that the seller's
//! identity and the VAT rules can both name a country.

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

/// A valid ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country([u8; 2]);

impl Country {
    /// The default seller country.
    pub const GERMANY: Country = Country(*b"DE");

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
}
