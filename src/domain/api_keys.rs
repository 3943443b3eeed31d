//! API keys (docs/product.md, "API"): the scope a key acts with and the shape of a key,
//! `ld_<8-character public prefix>_<secret>`. Only the prefix is ever shown
//! again after creation; the whole key is what gets hashed and looked up.

use serde::{Deserialize, Serialize};

/// What a key may do: read everything a VIEWER reads, or also write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    Read,
    ReadWrite,
}

impl KeyScope {
    pub const ALL: [KeyScope; 2] = [KeyScope::Read, KeyScope::ReadWrite];

    /// The database (and API) value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Read => "read",
            KeyScope::ReadWrite => "read_write",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            KeyScope::Read => "Read only",
            KeyScope::ReadWrite => "Read and write",
        }
    }

    pub fn can_write(self) -> bool {
        self == KeyScope::ReadWrite
    }
}

super::canonical_str!(KeyScope, "key scope");

/// Every key starts with this, so leaked keys are recognisable (secret scanners).
pub const KEY_MARK: &str = "ld_";
/// Length of the public prefix that identifies a key in the list.
pub const PREFIX_LEN: usize = 8;
/// Length of the secret part (32 random bytes, URL-safe base64).
pub const SECRET_LEN: usize = 43;

/// The full key shown once at creation.
pub fn compose(prefix: &str, secret: &str) -> String {
    format!("{KEY_MARK}{prefix}_{secret}")
}

/// True when `key` has the shape of a key this app issues; anything else is
/// refused before a database lookup.
pub fn well_formed(key: &str) -> bool {
    let Some(rest) = key.strip_prefix(KEY_MARK) else {
        return false;
    };
    let (prefix, secret) = rest.split_at_checked(PREFIX_LEN).unwrap_or(("", ""));
    let secret = secret.strip_prefix('_').unwrap_or("");
    prefix.len() == PREFIX_LEN
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && secret.len() == SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "q3Jx0sV8b2mYfP1eKcT7wLhN4uA9dZ6gR5iE_oWj-Bk";

    #[test]
    fn composed_keys_are_well_formed_and_others_are_not() {
        let key = compose("a1b2c3d4", SECRET);
        assert_eq!(key, format!("ld_a1b2c3d4_{SECRET}"));
        assert!(well_formed(&key));
        for bad in [
            "",
            "ld_",
            &format!("xx_a1b2c3d4_{SECRET}"),
            &format!("ld_A1B2C3D4_{SECRET}"),
            &format!("ld_a1b2c3d_{SECRET}"),
            &format!("ld_a1b2c3d4-{SECRET}"),
            &format!("ld_a1b2c3d4_{SECRET}x"),
            &format!("ld_a1b2c3d4_{}", &SECRET[1..]),
            &format!("ld_a1b2c3d4_{}!", &SECRET[1..]),
            "ld_é1b2c3d4_x",
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn scopes_parse_exactly() {
        assert_eq!("read".parse::<KeyScope>(), Ok(KeyScope::Read));
        assert_eq!("read_write".parse::<KeyScope>(), Ok(KeyScope::ReadWrite));
        assert!("READ".parse::<KeyScope>().is_err());
        assert!(KeyScope::ReadWrite.can_write() && !KeyScope::Read.can_write());
    }
}
