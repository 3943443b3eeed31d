//! RFC 9457 problem documents: every error under `/api/` is
//! `application/problem+json` with `type`, `title`, `status`, `detail` (and
//! `errors` per field for 422), never an HTML page or a stack trace. An
//! internal error says only its reference id, which the log carries.

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::AppError;
use crate::forms::FieldErrors;

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One problem document, and the headers that go with it (boxed: handlers
/// return it as their error, and results stay small).
#[derive(Debug, Clone)]
pub struct Problem(Box<ProblemDoc>);

/// The document itself.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Problem, example = json!({
    "type": "/api/docs#problem-limit-reached",
    "title": "Plan limit reached",
    "status": 402,
    "detail": "Your plan allows 5,000 leads a month and this month's are used up."
}))]
pub struct ProblemDoc {
    /// A reference to the problem's description in the API reference
    /// (`/api/docs#problem-<kind>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind of problem, the same for every occurrence.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What happened this time, and what to do about it.
    pub detail: String,
    /// Field name → message, for 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub errors: Option<BTreeMap<String, String>>,
    #[serde(skip)]
    headers: Vec<(header::HeaderName, String)>,
}

/// Every kind of problem the API answers with: (slug, status, title, when).
/// The reference page (`/api/docs#problem-<slug>`) is made from this list.
pub const KINDS: &[(&str, u16, &str, &str)] = &[
    ("bad-request", 400, "Bad request", "The JSON body or a query parameter could not be read: malformed JSON, an unknown field, a wrong type, an invalid UUID, a `limit` out of range or a `cursor` this API did not issue."),
    ("unauthenticated", 401, "Unauthenticated", "No key, a malformed key, an unknown or a revoked key. Send `Authorization: Bearer <key>`; the response carries `WWW-Authenticate: Bearer`."),
    ("limit-reached", 402, "Plan limit reached", "The call would go over a limit of the organization's plan (leads per month, templates, messages per day). Nothing was done; an owner can upgrade."),
    ("forbidden", 403, "Forbidden", "The organization's plan has no API access, a `read` key tried to write, a global template was to be changed, or the member who created the key may no longer send messages."),
    ("not-found", 404, "Not found", "No such resource in this organization (another organization's ids are not found either), or no such path."),
    ("method-not-allowed", 405, "Method not allowed", "The path exists but does not support that method."),
    ("conflict", 409, "Conflict", "The resource is in a state that forbids the change, e.g. a template still used by a sequence step, or a lead deleted while its message was being sent."),
    ("idempotency-mismatch", 409, "Idempotency key reused", "The `Idempotency-Key` was used in the last 24 hours for a different request."),
    ("too-large", 413, "Body too large", "The body is over 64 KiB."),
    ("unsupported-media-type", 415, "Unsupported media type", "The body was not sent as `Content-Type: application/json`."),
    ("validation", 422, "Invalid fields", "Some fields are invalid; `errors` has a message per field. Nothing was changed."),
    ("rate-limited", 429, "Too many requests", "The plan's calls per minute are used up; `Retry-After` says when to try again."),
    ("internal", 500, "Internal error", "Something went wrong on our side; `detail` names a reference the log carries."),
    ("unavailable", 503, "Service unavailable", "The database is briefly unreachable; retry after `Retry-After` seconds."),
];

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.0.status, self.0.title, self.0.detail)
    }
}

impl Problem {
    /// A problem of kind `slug` (its anchor in `/api/docs`).
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem(Box::new(ProblemDoc {
            kind: format!("/api/docs#problem-{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
            headers: Vec::new(),
        }))
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Problem {
        self.0.headers.push((name, value.into()));
        self
    }

    /// 401, with the challenge RFC 6750 asks for.
    pub fn unauthenticated(detail: &str) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Unauthenticated",
            detail,
        )
        .with_header(header::WWW_AUTHENTICATE, "Bearer realm=\"api\"")
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn not_found() -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "There is no such resource in this organization.",
        )
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    /// 422 with the message of each invalid field.
    pub fn invalid(errors: &FieldErrors) -> Problem {
        let fields: BTreeMap<String, String> =
            errors.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid fields",
            "Some fields are invalid; see `errors`.",
        );
        p.0.errors = Some(fields);
        p
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        for (name, value) in &self.0.headers {
            res.insert_header((name.clone(), value.as_str()));
        }
        res.content_type(PROBLEM_JSON).json(&*self.0)
    }
}

impl From<AppError> for Problem {
    fn from(err: AppError) -> Problem {
        use StatusCode as S;
        let detail = err.to_string();
        match err {
            AppError::NotFound => Problem::not_found(),
            AppError::Forbidden(_) => Problem::forbidden(detail),
            AppError::Unauthenticated | AppError::NoOrganization => {
                Problem::unauthenticated("Send a valid API key as `Authorization: Bearer <key>`.")
            }
            AppError::LimitReached(_) => Problem::new(
                S::PAYMENT_REQUIRED,
                "limit-reached",
                "Plan limit reached",
                detail,
            ),
            AppError::Validation(_) => Problem::bad_request(detail),
            AppError::Conflict(_) => Problem::new(S::CONFLICT, "conflict", "Conflict", detail),
            AppError::TooManyRequests => Problem::new(
                S::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                detail,
            ),
            AppError::Unavailable => Problem::new(
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "The service is briefly unavailable; retry in a few seconds.",
            )
            .with_header(header::RETRY_AFTER, "5"),
            AppError::Unexpected { reference } => Problem::new(
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                format!("Something went wrong on our side (reference {reference})."),
            ),
        }
    }
}

impl From<crate::db::DbError> for Problem {
    fn from(err: crate::db::DbError) -> Problem {
        Problem::from(AppError::from(err))
    }
}

pub type ApiResult<T> = Result<T, Problem>;
