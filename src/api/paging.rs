//! The paging shape every long list of the API shares: a `limit` of 1 to
//! `MAX_LIMIT` rows, a keyset `cursor` the API issued, and a `next` link
//! that repeats the list's own filters with the cursor of its last row.

use std::fmt::Display;
use std::str::FromStr;

use crate::api::problem::{ApiResult, Problem};
use crate::db::cursor::Cursor;

/// Most rows one page may hold.
pub const MAX_LIMIT: i64 = 100;
const DEFAULT_LIMIT: i64 = 50;

/// The page size a list asked for: 1 to `MAX_LIMIT`, `DEFAULT_LIMIT` if absent.
pub fn page_size(limit: Option<i64>) -> ApiResult<i64> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(Problem::bad_request(format!(
            "`limit` must be between 1 and {MAX_LIMIT}."
        ))),
    }
}

/// The position a list's `cursor` parameter names; a 400 for anything this
/// API did not issue.
pub fn cursor_after<Id>(cursor: Option<&str>) -> ApiResult<Option<Cursor<Id>>>
where
    Id: Display + FromStr,
{
    cursor
        .map(|c| {
            Cursor::decode(c)
                .ok_or_else(|| Problem::bad_request("`cursor` is not a cursor this API issued."))
        })
        .transpose()
}

/// The path and query of the page of `path` after `cursor`: the list's
/// filters (empty ones left out), then `limit` and `cursor`.
pub fn next_link<Id: Display + FromStr>(
    path: &str,
    filters: &[(&str, &str)],
    limit: i64,
    cursor: &Cursor<Id>,
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (name, value) in filters {
        if !value.is_empty() {
            q.append_pair(name, value);
        }
    }
    q.append_pair("limit", &limit.to_string());
    q.append_pair("cursor", &cursor.encode());
    format!("{path}?{}", q.finish())
}
