//! The keyset position of the newest-first lists (leads, messages, audit
//! log, invoices): a page holds the rows older than a (created_at, id)
//! cursor ("Older →", `after=`) or newer than one ("← Newer", `before=`).
//! One link form for all of them, `<microseconds since epoch>.<id>`;
//! anything malformed decodes to `None`.

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

/// Where a page of a newest-first list starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position<Id> {
    /// The newest rows.
    Newest,
    /// The rows just older than the cursor (the next page down).
    Older(Cursor<Id>),
    /// The rows just newer than the cursor (the page before), read upward
    /// from it and shown newest first.
    Newer(Cursor<Id>),
}

impl<Id: Display + FromStr + Copy> Position<Id> {
    /// From the `after` and `before` query parameters; a malformed value
    /// counts as absent, and `after` wins when both are given.
    pub fn from_query(after: &str, before: &str) -> Position<Id> {
        match (Cursor::decode(after.trim()), Cursor::decode(before.trim())) {
            (Some(c), _) => Position::Older(c),
            (None, Some(c)) => Position::Newer(c),
            (None, None) => Position::Newest,
        }
    }

    /// The row comparison a query adds, `(created_at, id) < cursor` or
    /// `> cursor`, with its cursor; `None` on the first page.
    pub fn bound(&self) -> Option<(&'static str, Cursor<Id>)> {
        match *self {
            Position::Newest => None,
            Position::Older(c) => Some(("<", c)),
            Position::Newer(c) => Some((">", c)),
        }
    }

    /// Whether the query reads newest first (a "newer" page reads upward).
    pub fn reads_newest_first(&self) -> bool {
        !matches!(self, Position::Newer(_))
    }

    pub fn is_newest(&self) -> bool {
        matches!(self, Position::Newest)
    }
}

impl<Id> From<Option<Cursor<Id>>> for Position<Id> {
    fn from(after: Option<Cursor<Id>>) -> Position<Id> {
        after.map_or(Position::Newest, Position::Older)
    }
}

/// One page of a newest-first list, and whether pages lie on either side.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Newest first.
    pub rows: Vec<T>,
    pub has_newer: bool,
    pub has_older: bool,
}

impl<T> Page<T> {
    /// The cursors of the links around this page, (newer, older): the
    /// first row's for "← Newer" (`before=`), the last row's for
    /// "Older →" (`after=`), each when such a page exists.
    pub fn link_cursors<Id>(
        &self,
        cursor_of: impl Fn(&T) -> Cursor<Id>,
    ) -> (Option<Cursor<Id>>, Option<Cursor<Id>>) {
        let newer = self.rows.first().filter(|_| self.has_newer).map(&cursor_of);
        let older = self.rows.last().filter(|_| self.has_older).map(&cursor_of);
        (newer, older)
    }

    /// From the rows a query read in `position`'s direction, asking for
    /// `limit + 1` so that one more row tells that another page follows.
    pub fn from_rows<Id>(mut rows: Vec<T>, position: &Position<Id>, limit: i64) -> Page<T> {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        match position {
            Position::Newest => Page {
                rows,
                has_newer: false,
                has_older: more,
            },
            Position::Older(_) => Page {
                rows,
                has_newer: true,
                has_older: more,
            },
            Position::Newer(_) => {
                rows.reverse();
                Page {
                    rows,
                    has_newer: more,
                    has_older: true,
                }
            }
        }
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
    fn pages_know_what_lies_on_either_side() {
        let c = Cursor {
            created_at: at(),
            id: 7_i64,
        };
        let newest: Page<i32> = Page::from_rows(vec![9, 8, 7], &Position::<i64>::Newest, 2);
        assert_eq!(
            (newest.rows, newest.has_newer, newest.has_older),
            (vec![9, 8], false, true)
        );
        let older: Page<i32> = Page::from_rows(vec![6], &Position::Older(c), 2);
        assert_eq!(
            (older.rows, older.has_newer, older.has_older),
            (vec![6], true, false)
        );
        // A "newer" page is read upward, then shown newest first.
        let newer: Page<i32> = Page::from_rows(vec![8, 9, 10], &Position::Newer(c), 2);
        assert_eq!(
            (newer.rows, newer.has_newer, newer.has_older),
            (vec![9, 8], true, true)
        );
        let top: Page<i32> = Page::from_rows(vec![8], &Position::Newer(c), 2);
        assert!(!top.has_newer);
    }

    #[test]
    fn positions_come_from_after_or_before() {
        let c = Cursor {
            created_at: at(),
            id: 7_i64,
        };
        assert_eq!(Position::<i64>::from_query("", ""), Position::Newest);
        assert_eq!(Position::from_query(&c.encode(), ""), Position::Older(c));
        assert_eq!(Position::from_query("", &c.encode()), Position::Newer(c));
        assert_eq!(
            Position::<i64>::from_query("junk", "junk"),
            Position::Newest
        );
        assert_eq!(Position::Older(c).bound(), Some(("<", c)));
        assert_eq!(Position::Newer(c).bound(), Some((">", c)));
        assert!(!Position::Newer(c).reads_newest_first());
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
