//! Claiming a background job kept as a row of a jobs table (bulk changes,
//! organization exports): the oldest queued row, or a running one whose
//! worker has been silent too long, is marked running and returned. The
//! tables differ only in their name, the columns a worker needs and how long
//! a silent worker is waited for, so one statement serves them all.

use chrono::{DateTime, Duration, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Timestamptz;

/// A jobs table with `organization_id`, `id`, `status`, `created_at` and
/// `started_at` columns.
pub struct JobTable {
    /// The table's name.
    pub table: &'static str,
    /// The columns the claimed row is returned with, in the order of the
    /// row type's fields.
    pub returning: &'static [&'static str],
    /// A running job whose start is this old is taken over (its instance
    /// stopped mid-way).
    pub stale_after: Duration,
}

/// Housekeeping for every organization (a job): marks the oldest queued (or
/// stale running) row of `jobs` running and returns it. SKIP LOCKED lets
/// several instances claim different rows at once.
pub fn claim<T>(
    conn: &mut PgConnection,
    jobs: &JobTable,
    now: DateTime<Utc>,
) -> QueryResult<Option<T>>
where
    T: QueryableByName<Pg> + 'static,
{
    let returning = jobs
        .returning
        .iter()
        .map(|c| format!("j.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    // Only the constant table and column names above are formatted in; the
    // times are bound.
    diesel::sql_query(format!(
        "UPDATE {table} j SET status = 'running', started_at = $1
         WHERE (j.organization_id, j.id) = (
             SELECT organization_id, id FROM {table}
             WHERE status = 'queued' OR (status = 'running' AND started_at < $2)
             ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING {returning}",
        table = jobs.table,
    ))
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(now - jobs.stale_after)
    .get_result(conn)
    .optional()
}
