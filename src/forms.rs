//! Form validation helpers shared by every feature: field errors keyed by
//! field name, and checks for the common kinds of text input. A handler
//! validates into a typed `…Form`, or re-renders the form with `FieldErrors`.

use std::collections::BTreeMap;

/// Problems with submitted fields, shown next to each field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert(message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// Records the outcome of a check that returns an error message.
    pub fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(message) = result {
            self.add(field, message);
        }
    }
}

/// Trimmed text with a length between `min` and `max` characters, free of
/// control characters (NUL bytes and the like are refused, not stored).
pub fn text(value: &str, label: &str, min: usize, max: usize) -> Result<String, String> {
    let value = value.trim();
    let len = value.chars().count();
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(format!("{label} contains characters that are not allowed."));
    }
    if len < min {
        return Err(if min == 1 {
            format!("{label} is required.")
        } else {
            format!("{label} must be at least {min} characters.")
        });
    }
    if len > max {
        return Err(format!("{label} must be at most {max} characters."));
    }
    Ok(value.to_string())
}

/// A plausible email address, lower-cased (the stored form).
pub fn email(value: &str) -> Result<String, String> {
    let value = value.trim().to_lowercase();
    let valid = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
                && value.matches('@').count() == 1
                && !value.contains(['<', '>', '"', '(', ')', ',', ';', '\\'])
        });
    if valid {
        Ok(value)
    } else {
        Err("Enter a valid email address, like name@example.com.".into())
    }
}

/// Refuses text that looks like HTML markup (angle brackets), for fields
/// such as names that never need it.
pub fn no_markup(value: &str, label: &str) -> Result<(), String> {
    if value.contains(['<', '>']) {
        Err(format!("{label} cannot contain < or >."))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "", "ann", "ann@", "@x.io", "a b@x.io", "a@x", "a@@x.io", "<a>@x.io",
        ] {
            assert!(email(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn texts() {
        assert_eq!(text("  Ann ", "Name", 1, 10).unwrap(), "Ann");
        assert!(text("   ", "Name", 1, 10).is_err());
        assert!(text("a\0b", "Name", 1, 10).is_err());
        assert!(text(&"x".repeat(11), "Name", 1, 10).is_err());
        assert!(no_markup("<b>Ann</b>", "Name").is_err());
        assert!(no_markup("Ann-Marie O'Neil", "Name").is_ok());
    }
}
