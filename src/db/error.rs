//! `DbError`: what a db function can report. It names outcomes a caller may
//! show (not found, limit, conflict, …) without knowing about HTTP or pages;
//! `crate::error` turns it into an `AppError` at the web edge.

use diesel::result::Error as DieselError;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    /// The pool or connection is down; worth retrying shortly.
    #[error("database unavailable")]
    Unavailable,
    /// The caller's membership does not allow the change.
    #[error("{0}")]
    Forbidden(String),
    /// The acting user has no membership in the tenant any more.
    #[error("no current organization")]
    NoOrganization,
    #[error("{0}")]
    LimitReached(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Query(DieselError),
    /// A service the work depends on (the payment provider) failed.
    #[error("upstream service failed: {0}")]
    Upstream(String),
    /// The blocking pool failed to run the work (a panic or shutdown).
    #[error("blocking task failed: {0}")]
    Blocking(String),
}

pub type DbResult<T> = Result<T, DbError>;

impl DbError {
    pub fn forbidden(msg: impl Into<String>) -> DbError {
        DbError::Forbidden(msg.into())
    }

    pub fn invalid(msg: impl Into<String>) -> DbError {
        DbError::Invalid(msg.into())
    }

    pub fn conflict(msg: impl Into<String>) -> DbError {
        DbError::Conflict(msg.into())
    }
}

impl From<DieselError> for DbError {
    fn from(err: DieselError) -> DbError {
        match err {
            DieselError::NotFound => DbError::NotFound,
            other => DbError::Query(other),
        }
    }
}

impl From<r2d2::Error> for DbError {
    fn from(err: r2d2::Error) -> DbError {
        tracing::warn!(error = %err, "database pool unavailable");
        DbError::Unavailable
    }
}
