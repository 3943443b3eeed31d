//! Leads as CSV bytes: the list's streaming export writes one chunk per
//! batch, the bulk export of ticked rows writes one.

use actix_web::web::Bytes;

use crate::db::leads::Lead;
use crate::error::AppError;
use crate::views::lead_csv;

/// `rows` as CSV, with the header line when `with_header`.
pub fn chunk(rows: &[Lead], with_header: bool) -> Result<Bytes, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    lead_csv::write(&mut w, rows, with_header).map_err(AppError::unexpected)?;
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| AppError::unexpected(e.to_string()))
}
