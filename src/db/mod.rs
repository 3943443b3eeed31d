//! Database access: the r2d2 pool, embedded migrations (run under an advisory
//! lock so several instances may start at once), and `Db::run`, the one way
//! handlers reach PostgreSQL (off the async threads, via `web::block`).
//! Requests wait for a connection in a fair (first come, first served) async
//! queue in front of the pool, so a waiting request holds no blocking thread.
//! Tenant data is only reachable through functions that take a `Tenant`.

mod column_types;
pub mod error;
mod health;
mod pool;
mod schema;
pub mod tenant;
pub mod wall;

pub mod account_deletion;
pub mod account_tokens;
pub mod accounts;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod context;
pub mod conversations;
pub mod cursor;
pub mod demo;
pub mod enrollments;
pub mod erasure;
pub mod idempotency;
pub mod inbound;
pub mod invitations;
pub mod invoices;
pub mod job_claim;
pub mod lead_bulk;
pub mod lead_import;
pub mod leads;
pub mod lifecycle;
pub mod mailboxes;
pub mod messages;
pub mod meters;
pub mod models;
pub mod next_send;
pub mod notices;
pub mod ops;
pub mod org_deletion;
pub mod org_export;
pub mod orgs;
pub mod outbox;
pub mod overrides;
pub mod pages;
pub mod payments;
pub mod plans;
pub mod rate_limit;
pub mod retention;
pub mod seed;
pub mod senders;
pub mod sequences;
pub mod sessions;
pub mod settings;
pub mod stops;
pub mod suppression;
pub mod team;
pub mod templates;
pub mod timeline;
pub mod usage;
pub mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::Pool;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use error::{DbError, DbResult};
pub use pool::{Conn, PgPool};
pub use tenant::{SystemAccess, Tenant};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Arbitrary constant naming the advisory lock held while migrating.
const MIGRATION_LOCK_KEY: i64 = 0x1ead_da5b;

/// Handle to the pool; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    /// One permit per pooled connection. r2d2's own wait is not first come,
    /// first served (under load some requests waited most of a second while
    /// later ones passed), and it blocks a thread of the blocking pool per
    /// waiting request; tokio's semaphore queues the waiters in order, on
    /// the async side.
    gate: Arc<tokio::sync::Semaphore>,
    /// How long a request may wait for a connection, queue and pool together.
    timeout: Duration,
    /// The database check in flight for `/healthz`, shared by the requests
    /// that ask meanwhile (`health`).
    health: health::InFlight,
}

impl Db {
    /// Builds the pool without connecting eagerly, so the app starts (and
    /// answers 503) even while the database is down.
    pub fn connect(url: &str, size: u32, timeout: Duration) -> Db {
        let pool = Pool::builder()
            .max_size(size)
            .min_idle(Some(0))
            .connection_timeout(timeout)
            // `pool::checkout` checks a connection with its wall set-up.
            .test_on_check_out(false)
            .build_unchecked(pool::WalledManager::new(url));
        Db {
            pool,
            gate: Arc::new(tokio::sync::Semaphore::new(size as usize)),
            timeout,
            health: health::InFlight::default(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// An owner connection for blocking code that holds `SystemAccess`
    /// (jobs, the CLI, start-up): row-level security lets it through.
    /// Handlers use `run`.
    pub fn system(&self, _: &SystemAccess) -> DbResult<Conn> {
        pool::checkout(&self.pool, pool::Side::System)
    }

    /// Runs `work` on a pooled connection in the blocking thread pool, as
    /// the app role in the request's scope (`wall`). The
    /// closure picks the error type: a db function's `QueryResult`/`DbResult`
    /// comes back as `DbError`, a closure returning `AppResult` as `AppError`.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E::Out>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: RunError,
    {
        run_pooled(self.pool.clone(), self.gate.clone(), self.timeout, work).await
    }

    /// Like `run`, inside one transaction.
    pub async fn tx<T, E, F>(&self, work: F) -> Result<T, E::Out>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: RunError + From<diesel::result::Error>,
    {
        self.run(move |conn| conn.transaction(work)).await
    }

    /// True when the database answers a trivial query: a check that was
    /// still running when this call began, shared with the other callers
    /// waiting for it (`health`).
    pub async fn ping(&self) -> bool {
        let (pool, gate, timeout) = (self.pool.clone(), self.gate.clone(), self.timeout);
        self.health
            .join_or_start(move || async move {
                run_pooled(pool, gate, timeout, |conn| {
                    diesel::sql_query("SELECT 1")
                        .execute(conn)
                        .map_err(DbError::from)
                })
                .await
                .is_ok()
            })
            .await
    }
}

/// `Db::run` on its parts (the health check holds them without the `Db`).
async fn run_pooled<T, E, F>(
    pool: PgPool,
    gate: Arc<tokio::sync::Semaphore>,
    timeout: Duration,
    work: F,
) -> Result<T, E::Out>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: RunError,
{
    let scope = wall::current();
    let started = Instant::now();
    // Waiting past the pool's timeout is the same outage as an empty
    // pool: `DbError::Unavailable`, a 503 with Retry-After.
    let permit = match tokio::time::timeout(timeout, gate.acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => {
            tracing::warn!("database pool unavailable: no connection within the timeout");
            return Err(E::Out::from(DbError::Unavailable));
        }
    };
    // The pool gets what is left of the time (at least a moment: a
    // connection the jobs hold may come back).
    let left = timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(10));
    actix_web::web::block(move || {
        let _permit = permit;
        let mut conn = pool::checkout_within(&pool, pool::Side::Request(scope), left)?;
        let done = work(&mut conn);
        if done.is_err() {
            conn.forget_side();
        }
        done.map_err(E::Out::from)
    })
    .await
    .map_err(|e| E::Out::from(DbError::Blocking(e.to_string())))?
}

/// An error a `Db::run` closure may return, and the error `run` hands back
/// for it (`DbError` for db-level errors; `crate::error` adds `AppError`).
pub trait RunError: Sized + Send + 'static {
    type Out: From<Self> + From<DbError> + Send + 'static;
}

impl RunError for DbError {
    type Out = DbError;
}

impl RunError for diesel::result::Error {
    type Out = DbError;
}

/// Applies pending migrations while holding a session advisory lock.
pub fn migrate(conn: &mut PgConnection) -> Result<(), String> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .execute(conn)
        .map_err(|e| e.to_string())?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|applied| {
            for m in applied {
                tracing::info!(migration = %m, "applied migration");
            }
        })
        .map_err(|e| e.to_string());
    let _ =
        diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(conn);
    result
}

/// Maps a unique-constraint violation to `Ok(None)` so callers can turn it
/// into a field error; other errors pass through.
pub fn unique_violation<T>(res: QueryResult<T>) -> DbResult<Option<T>> {
    match res {
        Ok(v) => Ok(Some(v)),
        Err(diesel::result::Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Ok(None)
        }
        Err(e) => Err(DbError::from(e)),
    }
}

use diesel::result::DatabaseErrorKind;
