//! Pure business rules: plan catalogue, roles & permissions, subscription lifecycle. No I/O here.
//! Every enum here has one canonical upper-case (or snake_case) string, the one stored in the
//! database; `FromStr` accepts exactly that string and answers `UnknownValue` otherwise.
pub mod analytics;
pub mod api_keys;
pub mod billing;
pub mod country;
pub mod inbound;
pub mod lead_bulk;
pub mod lead_import;
pub mod leads;
pub mod membership;
pub mod pacing;
pub mod placeholders;
pub mod plans;
pub mod roles;
pub mod seller;
pub mod senders;
pub mod settings;
pub mod subscription;
pub mod user_agent;
pub mod vat;

use std::fmt;

/// A string that is not the canonical name of any variant of the enum `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// What was being parsed, e.g. "plan" or "role".
    pub kind: &'static str,
    /// The rejected input, as given.
    pub value: String,
}

impl UnknownValue {
    pub fn new(kind: &'static str, value: &str) -> Self {
        UnknownValue {
            kind,
            value: value.to_owned(),
        }
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownValue {}

/// Finds the variant of `all` whose canonical string is exactly `s`.
fn parse_exact<T: Copy>(
    all: &[T],
    as_str: fn(T) -> &'static str,
    kind: &'static str,
    s: &str,
) -> Result<T, UnknownValue> {
    all.iter()
        .copied()
        .find(|v| as_str(*v) == s)
        .ok_or_else(|| UnknownValue::new(kind, s))
}

/// Implements `FromStr` (exact canonical string) and `Display` (the same string) for an enum
/// that has `ALL` and `as_str`.
macro_rules! canonical_str {
    ($ty:ty, $kind:literal) => {
        impl std::str::FromStr for $ty {
            type Err = super::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                super::parse_exact(&Self::ALL, Self::as_str, $kind, s)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
use canonical_str;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_value_says_what_and_which() {
        let e = UnknownValue::new("plan", "GOLD");
        assert_eq!(e.to_string(), "unknown plan \"GOLD\"");
    }
}
