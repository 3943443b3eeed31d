//! What an operator watches: background queues (depth and age of the
//! oldest due item per job kind, across all organizations, read with the
//! system's access) and whether the schema is at this build's migrations.

use chrono::{DateTime, Utc};
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamptz};

use crate::db::SystemAccess;

/// One job kind's queue: items due now, and how long the oldest has waited.
#[derive(Debug, Clone, QueryableByName)]
pub struct Queue {
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub depth: i64,
    #[diesel(sql_type = Double)]
    pub oldest_seconds: f64,
}

/// Due items per job kind at `now` (every kind listed, 0 when empty).
pub fn queues(
    conn: &mut PgConnection,
    _: &SystemAccess,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Queue>> {
    diesel::sql_query(
        "SELECT kind, count(*) FILTER (WHERE due IS NOT NULL) AS depth,
                COALESCE(EXTRACT(EPOCH FROM $1 - min(due)), 0)::float8 AS oldest_seconds
         FROM (
             SELECT 'mail' AS kind, next_attempt_at AS due FROM mail_outbox
              WHERE status = 'pending' AND next_attempt_at <= $1
             UNION ALL SELECT 'webhook', next_attempt_at FROM webhook_events
              WHERE status = 'pending' AND next_attempt_at <= $1
             UNION ALL SELECT 'sequence', next_run_at FROM sequence_enrollments
              WHERE status = 'active' AND next_run_at <= $1
             UNION ALL SELECT 'export', created_at FROM org_exports WHERE status = 'queued'
             UNION ALL SELECT 'stripe_operation', next_attempt_at FROM stripe_operations
              WHERE status = 'pending' AND next_attempt_at <= $1
             UNION ALL SELECT k, NULL
              FROM unnest(ARRAY['mail', 'webhook', 'sequence', 'export', 'stripe_operation']) k
         ) q
         GROUP BY kind ORDER BY kind",
    )
    .bind::<Timestamptz, _>(now)
    .get_results(conn)
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Nullable<Text>)]
    version: Option<String>,
}

/// The newest migration this build carries.
pub fn latest_migration() -> &'static str {
    static LATEST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LATEST.get_or_init(|| {
        MigrationSource::<Pg>::migrations(&crate::db::MIGRATIONS)
            .map(|all| {
                all.iter()
                    .map(|m| m.name().version().to_string())
                    .max()
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    })
}

/// True when the database's schema is at (or, during a rolling upgrade,
/// past) this build's newest migration. Runs as the app role, through the
/// `ld_schema_version()` function (migration 770000).
pub fn schema_ready(conn: &mut PgConnection) -> QueryResult<bool> {
    let at: Version =
        diesel::sql_query("SELECT ld_schema_version() AS version").get_result(conn)?;
    Ok(at.version.is_some_and(|v| v.as_str() >= latest_migration()))
}
