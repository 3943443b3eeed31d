//! The connection pool, aware of the database wall (`wall`). Each pooled
//! connection remembers which side of the wall it was last set up for (a
//! request's scope, or the system), so a checkout sends the set-up statement
//! only when that changes — the common case, the same organization again,
//! costs no extra round trip. The set-up statement doubles as the liveness
//! check that r2d2's `test_on_check_out` would spend a `SELECT 1` on.

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ConnectionManager, ManageConnection, Pool, PooledConnection};
use diesel::QueryResult;

use crate::db::wall::{self, Scope};
use crate::db::{DbError, DbResult};

pub type PgPool = Pool<WalledManager>;
pub type Conn = PooledConnection<WalledManager>;

/// The side of the wall a connection is set up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Request(Scope),
    System,
}

/// A PostgreSQL connection and the side it was last set up for.
pub struct WalledConnection {
    pg: PgConnection,
    side: Option<Side>,
    broken: bool,
}

impl std::ops::Deref for WalledConnection {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.pg
    }
}

impl std::ops::DerefMut for WalledConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.pg
    }
}

impl WalledConnection {
    /// Forgets the set-up, so the next checkout sends it again (and so
    /// checks the connection): after any failed work, whose cause may be a
    /// connection the server closed.
    pub(crate) fn forget_side(&mut self) {
        self.side = None;
    }
}

/// diesel's connection manager, with the wall's bookkeeping.
pub struct WalledManager(ConnectionManager<PgConnection>);

impl WalledManager {
    pub fn new(url: &str) -> WalledManager {
        WalledManager(ConnectionManager::new(url))
    }
}

impl ManageConnection for WalledManager {
    type Connection = WalledConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<WalledConnection, r2d2::Error> {
        let mut pg = self.0.connect()?;
        // A background worker's claim is a row lock held by its connection:
        // the server releases it when the connection ends. Keepalive probes
        // make the server notice within about a minute when the instance
        // holding it vanished without closing the connection (host lost),
        // so the claim is a lease that another instance then takes over.
        use diesel::connection::SimpleConnection;
        pg.batch_execute(
            "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; \
             SET tcp_keepalives_count = 3",
        )
        .map_err(r2d2::Error::QueryError)?;
        Ok(WalledConnection {
            pg,
            side: None,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut WalledConnection) -> Result<(), r2d2::Error> {
        self.0.is_valid(&mut conn.pg)
    }

    fn has_broken(&self, conn: &mut WalledConnection) -> bool {
        conn.broken || AnsiTransactionManager::is_broken_transaction_manager(&mut conn.pg)
    }
}

/// A pooled connection set up for `side`. A connection that fails its
/// set-up is dropped from the pool and the next one tried (at most once per
/// pooled connection, then a fresh one).
pub(crate) fn checkout(pool: &PgPool, side: Side) -> DbResult<Conn> {
    checkout_within(pool, side, pool.connection_timeout())
}

/// `checkout`, waiting at most `timeout` for each connection.
pub(crate) fn checkout_within(pool: &PgPool, side: Side, timeout: Duration) -> DbResult<Conn> {
    let mut last = None;
    for _ in 0..=pool.max_size() {
        // Counted for `/metrics`: requests waiting for a free connection.
        let waiting = metrics::gauge!("db_pool_waiting");
        waiting.increment(1.0);
        let got = pool.get_timeout(timeout);
        waiting.decrement(1.0);
        let mut conn = got?;
        if conn.side == Some(side) {
            return Ok(conn);
        }
        match set_up(&mut conn.pg, side) {
            Ok(()) => {
                conn.side = Some(side);
                return Ok(conn);
            }
            Err(e) => {
                conn.broken = true;
                last = Some(e);
            }
        }
    }
    Err(DbError::from(last.expect("at least one attempt")))
}

fn set_up(conn: &mut PgConnection, side: Side) -> QueryResult<()> {
    // A set-up only happens between uses, never inside a transaction.
    debug_assert!(matches!(
        AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(None)
    ));
    match side {
        Side::Request(scope) => wall::enter_scope(conn, scope),
        Side::System => wall::enter_system(conn),
    }
}
