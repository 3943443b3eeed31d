//! The keyset position of the newest-first lists (leads, messages, audit
//! log): the list continues after (created_at, id). One link form for all of
//! them, `<microseconds since epoch>.<id>`; anything malformed decodes to
//! `None`.

use std::fmt::Display;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A keyset position; `Id` is the table's id type (`Uuid`, or `i64` for
/// audit events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor<Id> {
    pub created_at: DateTime<Utc>,
    pub id: Id,
}

impl<Id: Display + FromStr> Cursor<Id> {
    /// `<microseconds since epoch>.<id>` for the query string.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at.timestamp_micros(), self.id)
    }

    /// `None` for anything malformed (the caller starts at the top or refuses).
    pub fn decode(s: &str) -> Option<Cursor<Id>> {
        let (micros, id) = s.split_once('.')?;
        Some(Cursor {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap()
    }

    #[test]
    fn cursors_round_trip() {
        let lead = Cursor {
            created_at: at(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&lead.encode()), Some(lead));
        let event = Cursor {
            created_at: at(),
            id: 42_i64,
        };
        assert_eq!(event.encode(), "1764000000123456.42");
        assert_eq!(Cursor::decode(&event.encode()), Some(event));
    }

    #[test]
    fn malformed_cursors_decode_to_none() {
        for bad in [
            "",
            ".",
            "x.y",
            "1.",
            ".1",
            "abc.00000000-0000-0000-0000-000000000000",
        ] {
            assert_eq!(Cursor::<Uuid>::decode(bad), None, "{bad}");
        }
        for bad in [
            "",
            "1764000000123456-42",
            "1.x",
            "1.2.3",
            "99999999999999999999.1",
        ] {
            assert_eq!(Cursor::<i64>::decode(bad), None, "{bad}");
        }
    }
}
