//! `Idempotency-Key` on API POSTs: the work of a POST runs in one
//! transaction with the key's claim (`db::idempotency`), so a retry with the
//! same key and body within 24 hours gets the first response again
//! (`Idempotent-Replayed: true`) without the work being done twice, and the
//! same key with a different body is a 409. Without the header the work
//! simply runs.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use diesel::PgConnection;
use sha2::{Digest, Sha256};

use crate::api::auth::ApiCaller;
use crate::api::problem::{ApiResult, Problem};
use crate::db::idempotency::{self, Claim, Stored};
use crate::error::AppError;
use crate::state::AppState;

pub const HEADER: &str = "Idempotency-Key";

/// The work of a POST: a response to store, a problem to answer without
/// storing (nothing done), or an error that rolls everything back.
pub type Outcome = Result<Result<Stored, Problem>, AppError>;

/// Runs `work` once per `Idempotency-Key` (if the request carries one);
/// `body` is the request as parsed, for telling retries from new requests.
pub async fn once<F>(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    body: &[u8],
    work: F,
) -> ApiResult<HttpResponse>
where
    F: FnOnce(&mut PgConnection) -> Outcome + Send + 'static,
{
    let key = key_of(req)?;
    let hash = Sha256::new()
        .chain_update(req.method().as_str())
        .chain_update(b" ")
        .chain_update(req.path())
        .chain_update(b"\n")
        .chain_update(body)
        .finalize()
        .to_vec();
    let (tenant, now) = (caller.key.tenant, caller.now);
    let outcome = state
        .db
        .tx(move |conn| -> Result<_, AppError> {
            let Some(key) = key else {
                return Ok((work(conn)?, false));
            };
            match idempotency::claim(conn, &tenant, &key, &hash, now)? {
                Claim::Replay(stored) => Ok((Ok(stored), true)),
                Claim::Mismatch => Ok((Err(mismatch()), false)),
                Claim::New => {
                    let done = work(conn)?;
                    match &done {
                        Ok(stored) => idempotency::store(conn, &tenant, &key, stored)?,
                        Err(_) => idempotency::release(conn, &tenant, &key)?,
                    }
                    Ok((done, false))
                }
            }
        })
        .await?;
    let (stored, replayed) = (outcome.0?, outcome.1);
    Ok(respond(stored, replayed))
}

fn mismatch() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "idempotency-mismatch",
        "Idempotency key reused",
        "This Idempotency-Key was used in the last 24 hours for a different request. Use a new key.",
    )
}

/// The header's key: 1–255 visible ASCII characters, or a 400.
fn key_of(req: &HttpRequest) -> ApiResult<Option<String>> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("");
    let valid = (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(Problem::bad_request(
            "Idempotency-Key must be 1 to 255 visible ASCII characters.",
        ));
    }
    Ok(Some(key.to_string()))
}

fn respond(stored: Stored, replayed: bool) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    res.content_type("application/json");
    if let Some(location) = &stored.location {
        res.insert_header((header::LOCATION, location.as_str()));
    }
    if replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    res.body(stored.body)
}

/// A JSON response to store: `status`, `value` serialized, and `location`.
pub fn stored<T: serde::Serialize>(
    status: StatusCode,
    value: &T,
    location: Option<String>,
) -> Result<Stored, AppError> {
    let body = serde_json::to_string(value).map_err(AppError::unexpected)?;
    Ok(Stored {
        status: status.as_u16(),
        body,
        location,
    })
}
