//! Form validation helpers shared by every feature: field errors keyed by
//! field name, and checks for the common kinds of text input. A handler
//! validates into a typed `…Form`, or re-renders the form with `FieldErrors`.
//! Redirect targets taken from input (`next=`) are checked here too, so every
//! feature that follows one uses the same rule.

use std::collections::BTreeMap;

/// Problems with submitted fields, shown next to each field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Errors with one message for one field.
    pub fn one(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
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

/// `text` that is also free of markup (`<`, `>`): names and other text shown
/// in the product, where markup has no place and is refused, not stored.
pub fn plain_text(value: &str, label: &str, min: usize, max: usize) -> Result<String, String> {
    let value = text(value, label, min, max)?;
    no_markup(&value, label)?;
    Ok(value)
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

/// Where a redirect taken from input (`next=`) lands when it is refused.
pub const DEFAULT_REDIRECT: &str = "/dashboard";

/// A redirect target taken from input, kept only when it is a path on this
/// site: one leading `/`, no scheme or host, no whitespace; no control
/// characters or backslashes, also once percent-decoded (browsers read
/// `/\t/x` and `/\\x` as `//x`, another host). The result is also parsed as a
/// URL relative to a fixed origin and must stay on it.
pub fn local_path(raw: &str) -> Option<&str> {
    const MAX: usize = 2000;
    if raw.len() > MAX || raw.chars().any(char::is_whitespace) || !is_plain_path(raw) {
        return None;
    }
    // Decode until nothing changes (double encoding), checking every layer.
    let mut layer = raw.to_string();
    for _ in 0..4 {
        let decoded = percent_encoding::percent_decode_str(&layer)
            .decode_utf8_lossy()
            .into_owned();
        if !is_plain_path(&decoded) {
            return None;
        }
        if decoded == layer {
            break;
        }
        layer = decoded;
    }
    stays_on_site(raw).then_some(raw)
}

/// `local_path`, or `DEFAULT_REDIRECT` when the input is missing or refused.
pub fn redirect_target(raw: Option<&str>) -> &str {
    raw.and_then(local_path).unwrap_or(DEFAULT_REDIRECT)
}

fn is_plain_path(p: &str) -> bool {
    let mut chars = p.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !p.chars().any(|c| c.is_control() || c == '\\')
}

/// Resolves `p` against a fixed origin the way a browser resolves a
/// `Location` header, and checks that the origin did not change.
fn stays_on_site(p: &str) -> bool {
    let Ok(base) = url::Url::parse("https://site.invalid/") else {
        return false;
    };
    base.join(p)
        .is_ok_and(|u| u.origin() == base.origin() && u.username().is_empty())
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

    #[test]
    fn redirect_targets_stay_on_site() {
        for ok in [
            "/dashboard",
            "/leads?status=new&q=a%20b",
            "/leads/5#notes",
            "/a:b",
            "/%41",
        ] {
            assert_eq!(local_path(ok), Some(ok), "{ok} should be kept");
        }
        for off in [
            "",
            "dashboard",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/\n/evil.example",
            "/%0a/evil.example",
            "/%0D%0A/evil.example",
            "\t//evil.example",
            " //evil.example",
            "/ /evil.example",
            "https://evil.example",
            "https:evil.example",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "%2F%2Fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%252F/evil.example",
            "/%25252F/evil.example",
            "/%2509/evil.example",
            "/x\u{0}y",
            "/x\u{7f}y",
            "/x\u{2028}y",
        ] {
            assert_eq!(local_path(off), None, "{off:?} must be refused");
            assert_eq!(redirect_target(Some(off)), DEFAULT_REDIRECT);
        }
        assert_eq!(redirect_target(None), DEFAULT_REDIRECT);
        assert_eq!(local_path(&format!("/{}", "a".repeat(3000))), None);
    }
}
