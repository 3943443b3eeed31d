//! One error type for every handler. `AppError` maps to an HTTP status and a
//! rendered page; HTMX requests get a fragment instead (see `htmx_errors`).
//! Internal errors are logged with a reference id that the page shows —
//! never a stack trace or SQL.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::DbError;
use crate::views;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    #[error("sign in required")]
    Unauthenticated,
    /// Signed in, but no current organization (none chosen, or membership gone).
    #[error("choose an organization")]
    NoOrganization,
    #[error("{0}")]
    LimitReached(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts")]
    TooManyRequests,
    #[error("service unavailable")]
    Unavailable,
    #[error("internal error {reference}")]
    Unexpected { reference: String },
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// Logs `err` under a fresh reference id and returns the opaque 500 error.
    pub fn unexpected(err: impl std::fmt::Display) -> AppError {
        let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        tracing::error!(reference = %reference, error = %err, "internal error");
        AppError::Unexpected { reference }
    }

    /// Where a browser is sent instead of seeing an error page.
    fn redirect_to(&self) -> Option<&'static str> {
        match self {
            AppError::Unauthenticated => Some("/login"),
            AppError::NoOrganization => Some("/orgs"),
            _ => None,
        }
    }

    /// True when a browser is shown a page for this error (not redirected).
    pub fn renders_page(&self) -> bool {
        self.redirect_to().is_none()
    }

    pub fn forbidden(msg: impl Into<String>) -> AppError {
        AppError::Forbidden(msg.into())
    }

    pub fn validation(msg: impl Into<String>) -> AppError {
        AppError::Validation(msg.into())
    }

    /// Title and explanation shown to the user.
    pub fn describe(&self) -> (&'static str, String) {
        match self {
            AppError::NotFound => (
                "Not found",
                "The page or item you asked for does not exist, or you do not have access to it."
                    .into(),
            ),
            AppError::Forbidden(m) => ("Not allowed", m.clone()),
            AppError::Unauthenticated => ("Please sign in", "Sign in to continue.".into()),
            AppError::NoOrganization => (
                "Choose an organization",
                "Pick the organization you want to work in.".into(),
            ),
            AppError::LimitReached(m) => (views::errors::LIMIT_TITLE, m.clone()),
            AppError::Validation(m) => ("Please check your input", m.clone()),
            AppError::Conflict(m) => ("Cannot do that", m.clone()),
            AppError::TooManyRequests => (
                "Too many attempts",
                "Too many attempts. Please wait a few minutes and try again.".into(),
            ),
            AppError::Unavailable => (
                "Temporarily unavailable",
                "The service is briefly unavailable. Please try again in a moment.".into(),
            ),
            AppError::Unexpected { reference } => (
                "Something went wrong",
                format!("An unexpected error occurred. If it persists, contact support and quote reference {reference}."),
            ),
        }
    }
}

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> AppError {
        match err {
            DieselError::NotFound => AppError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                tracing::warn!(error = %err, "database connection lost");
                AppError::Unavailable
            }
            other => AppError::unexpected(other),
        }
    }
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> AppError {
        match err {
            DbError::NotFound => AppError::NotFound,
            DbError::Unavailable => AppError::Unavailable,
            DbError::Forbidden(m) => AppError::Forbidden(m),
            DbError::NoOrganization => AppError::NoOrganization,
            DbError::LimitReached(m) => AppError::LimitReached(m),
            DbError::Conflict(m) => AppError::Conflict(m),
            DbError::Invalid(m) => AppError::Validation(m),
            DbError::Query(e) => AppError::from(e),
            DbError::Upstream(m) | DbError::Blocking(m) => AppError::unexpected(m),
        }
    }
}

impl crate::db::RunError for AppError {
    type Out = AppError;
}

impl From<r2d2::Error> for AppError {
    fn from(err: r2d2::Error) -> AppError {
        tracing::warn!(error = %err, "database pool unavailable");
        AppError::Unavailable
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(err: actix_web::error::BlockingError) -> AppError {
        AppError::unexpected(err)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::NoOrganization => StatusCode::SEE_OTHER,
            AppError::LimitReached(_) => StatusCode::PAYMENT_REQUIRED,
            AppError::Validation(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        if let Some(location) = self.redirect_to() {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        let (title, message) = self.describe();
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, AppError::Unavailable) {
            res.insert_header((header::RETRY_AFTER, "5"));
        }
        res.content_type("text/html; charset=utf-8")
            .body(views::errors::page(self.status_code().as_u16(), title, &message).into_string())
    }
}

/// True for an HTMX request that expects a fragment (not a boosted or
/// history-restore request, which need the whole page).
pub fn is_fragment_request(req: &actix_web::HttpRequest) -> bool {
    let h = req.headers();
    h.contains_key("HX-Request")
        && !h.contains_key("HX-Boosted")
        && !h.contains_key("HX-History-Restore-Request")
}

/// Middleware: an `AppError` answering an HTMX request becomes a small alert
/// fragment swapped into the page's `#flash` region, keeping the status code.
/// An unauthenticated HTMX request is sent to the sign-in page with `HX-Redirect`.
pub async fn htmx_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let fragment = is_fragment_request(req.request());
    let res = next.call(req).await?.map_into_boxed_body();
    if !fragment {
        return Ok(res);
    }
    let Some(app_err) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
    else {
        return Ok(res);
    };
    let replacement = if let Some(location) = app_err.redirect_to() {
        HttpResponse::Ok()
            .insert_header(("HX-Redirect", location))
            .finish()
    } else {
        let (title, message) = app_err.describe();
        HttpResponse::build(app_err.status_code())
            .insert_header(("HX-Retarget", "#flash"))
            .insert_header(("HX-Reswap", "innerHTML"))
            .content_type("text/html; charset=utf-8")
            .body(views::errors::fragment(title, &message).into_string())
    };
    Ok(res.into_response(replacement))
}
