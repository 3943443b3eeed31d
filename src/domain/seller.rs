//! The seller an invoice names: the supplier's name, postal address, VAT
//! identification number and country, as an EU VAT invoice must carry them
//! (Article 226 Council Directive 2006/112/EC). Configured by `SELLER_NAME`,
//! `SELLER_ADDRESS`, `SELLER_VAT_ID` and `VAT_SELLER_COUNTRY`; each invoice
//! keeps a snapshot taken when it is issued (docs/billing.md, "Invoices").

use serde::{Deserialize, Serialize};

use super::country::Country;

/// The seller's name when `SELLER_NAME` is not set.
pub const DEFAULT_NAME: &str = "Lead Dashboard";

/// The configured identity, without the country (that is the VAT setup's
/// seller country, which also decides the VAT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    /// Address lines; none means no address is printed.
    pub address: Vec<String>,
    pub vat_id: Option<String>,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            name: DEFAULT_NAME.into(),
            address: Vec::new(),
            vat_id: None,
        }
    }
}

impl Identity {
    /// The seller as an invoice issued now names it, in `country`.
    pub fn seller(&self, country: Country) -> Seller {
        Seller {
            name: self.name.clone(),
            address: self.address.clone(),
            vat_id: self.vat_id.clone(),
            country: Some(country.as_str().to_string()),
        }
    }
}

/// The seller as one invoice names it (the `invoices.seller` snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seller {
    pub name: String,
    #[serde(default)]
    pub address: Vec<String>,
    #[serde(default)]
    pub vat_id: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

impl Seller {
    /// An invoice from before snapshots were kept: only the name, the one
    /// configured now (its address and VAT id at the time are unknown).
    pub fn named(name: &str) -> Seller {
        Seller {
            name: name.to_string(),
            address: Vec::new(),
            vat_id: None,
            country: None,
        }
    }

    /// The lines under the name, in print order: address, "VAT ID: …", country.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.address.clone();
        if let Some(id) = &self.vat_id {
            lines.push(format!("VAT ID: {id}"));
        }
        lines.extend(self.country.clone());
        lines
    }
}

/// `SELLER_ADDRESS` as lines: split at real newlines and at a written `\n`
/// (environment files cannot always hold a newline), blank lines dropped.
pub fn address_lines(value: &str) -> Vec<String> {
    value
        .replace("\\n", "\n")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

/// What is wrong with a seller VAT id for a seller in `country`: it must be
/// the member state's prefix (Greece: EL) and 2 to 12 letters or digits.
pub fn vat_id_problem(vat_id: &str, country: Country) -> Option<String> {
    let prefix = country.vat_prefix();
    let rest = vat_id.strip_prefix(prefix);
    let shaped = rest.is_some_and(|r| {
        (2..=12).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphanumeric())
    });
    (!shaped).then(|| {
        format!(
            "cannot read {vat_id:?}; a VAT id of a seller in {} is {prefix} followed by 2 to 12 \
             letters or digits, like {prefix}123456789",
            country.as_str()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Country {
        Country::parse(code).unwrap()
    }

    #[test]
    fn addresses_split_at_written_and_real_newlines() {
        assert_eq!(
            address_lines("Musterstraße 1\\n10115 Berlin\n\n  Hinterhaus "),
            ["Musterstraße 1", "10115 Berlin", "Hinterhaus"]
        );
        assert!(address_lines("  ").is_empty());
    }

    #[test]
    fn vat_ids_carry_the_member_states_prefix() {
        assert_eq!(vat_id_problem("DE123456789", c("DE")), None);
        assert_eq!(vat_id_problem("EL123456789", c("GR")), None);
        assert_eq!(vat_id_problem("NL123456789B01", c("NL")), None);
        for bad in [
            "GR123456789",
            "FR123456789",
            "DE1",
            "DE1234567890123",
            "DE 123456789",
            "DE-12345",
        ] {
            let country = if bad.starts_with("GR") {
                c("GR")
            } else {
                c("DE")
            };
            assert!(vat_id_problem(bad, country).is_some(), "{bad}");
        }
    }

    #[test]
    fn the_lines_under_the_name() {
        let seller = Identity {
            name: "Acme GmbH".into(),
            address: vec!["Musterstraße 1".into(), "10115 Berlin".into()],
            vat_id: Some("DE123456789".into()),
        }
        .seller(c("DE"));
        assert_eq!(
            seller.lines(),
            [
                "Musterstraße 1",
                "10115 Berlin",
                "VAT ID: DE123456789",
                "DE"
            ]
        );
        assert!(Seller::named("Lead Dashboard").lines().is_empty());
        let stored = serde_json::to_value(&seller).unwrap();
        assert_eq!(serde_json::from_value::<Seller>(stored).unwrap(), seller);
    }
}
