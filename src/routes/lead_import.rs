//! Lead import from CSV (upload → preview → import, the file kept in
//! `lead_imports` in between) and streamed CSV export of the current list
//! filter. Imports need `can_manage_leads`; export is reading.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use maud::Markup;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::CurrentOrg;
use crate::db;
use crate::db::leads::{self, Cursor, LeadFilter};
use crate::db::wall;
use crate::domain::lead_import;
use crate::domain::plans::LimitKind;
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::routes::shared::lead_csv;
use crate::routes::{lead_filter, owner_filter, usage_changed, usage_of, Part, Reply};
use crate::state::AppState;
use crate::views::layout::Nav;
use crate::views::lead_import::{self as view, Allowance};

route_table! {
    GET "/leads/export" => export,
    GET "/leads/import" => upload_page,
    POST "/leads/import" => upload,
    POST "/leads/import/{id}" => import,
}

/// The import area as a fragment (HTMX) or inside the page.
async fn show_area(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    area: Markup,
    reply: Reply,
) -> AppResult<HttpResponse> {
    let page = (Nav::Leads, "Import leads");
    reply
        .page_or_fragment(state, cur, req, page, |part| match part {
            Part::Fragment => area,
            Part::Page => view::page(area),
        })
        .await
}

async fn upload_page(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageLeads)?;
    let area = view::upload_area(&cur.user.csrf, state.config.max_upload_bytes, None);
    show_area(&state, &cur, &req, area, Reply::Ok).await
}

/// Why an upload is refused before it is read.
enum Refused {
    TooLarge,
    NoFile,
    Unreadable,
}

/// Reads the `file` part of the form, refusing bodies over `max` bytes.
async fn read_file(mut form: Multipart, max: usize) -> Result<(String, Vec<u8>), Refused> {
    while let Some(part) = form.next().await {
        let mut part = part.map_err(|_| Refused::Unreadable)?;
        if part.name() != Some("file") {
            continue;
        }
        let name = part
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .unwrap_or("upload.csv")
            .chars()
            .take(200)
            .collect();
        let mut bytes = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(|_| Refused::Unreadable)?;
            if bytes.len() + chunk.len() > max {
                return Err(Refused::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes));
    }
    Err(Refused::NoFile)
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

async fn allowance(state: &AppState, cur: &CurrentOrg) -> AppResult<Allowance> {
    let (tenant, sub, now) = (cur.tenant(), cur.ctx.subscription.clone(), cur.now());
    let (used, limit) = state
        .db
        .run(move |conn| usage_of(conn, &tenant, &sub, LimitKind::LeadsPerMonth, now))
        .await?;
    Ok(Allowance { used, limit })
}

async fn upload(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: Multipart,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    cur.require(Action::ManageLeads)?;
    let max = state.config.max_upload_bytes;
    let mb = max / (1024 * 1024);
    let refused = |message: String, reply| {
        let area = view::upload_area(&cur.user.csrf, max, Some(&message));
        show_area(&state, &cur, &req, area, reply)
    };
    // The multipart envelope adds a little; the file itself must fit `max`.
    if declared_length(&req).is_some_and(|n| n > max + 64 * 1024) {
        return refused(
            format!("The file is larger than {mb} MB. Split it into smaller files."),
            Reply::TooLarge,
        )
        .await;
    }
    let (filename, bytes) = match read_file(form, max).await {
        Ok(file) => file,
        Err(Refused::TooLarge) => {
            return refused(
                format!("The file is larger than {mb} MB. Split it into smaller files."),
                Reply::TooLarge,
            )
            .await
        }
        Err(Refused::NoFile) => {
            return refused("Choose a CSV file to upload.".into(), Reply::Invalid).await
        }
        Err(Refused::Unreadable) => {
            return refused(
                "The upload could not be read. Please try again.".into(),
                Reply::Unreadable,
            )
            .await
        }
    };
    let mut parsed = match lead_import::parse(&bytes) {
        Ok(p) => p,
        Err(e) => return refused(e.to_string(), Reply::Invalid).await,
    };
    let tenant = cur.tenant();
    let name = filename.clone();
    let (id, parsed) = state
        .db
        .tx(move |conn| -> AppResult<_> {
            db::lead_import::mark_existing(conn, &tenant, &mut parsed.rows)?;
            let id = db::lead_import::store(conn, &tenant, &name, &bytes, now)?;
            Ok((id, parsed))
        })
        .await?;
    let allowance = allowance(&state, &cur).await?;
    let area = view::preview(id, &filename, &parsed, &allowance, &cur.user.csrf);
    show_area(&state, &cur, &req, area, Reply::Ok).await
}

async fn import(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    let tenant = cur.tenant_for(Action::ManageLeads)?;
    let id = path.into_inner();
    let report = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let upload = db::lead_import::take(conn, &tenant, id, now)?;
            // Stored files were parsed at upload time; a file that no longer
            // parses cannot occur, but is refused rather than trusted.
            let parsed = lead_import::parse(&upload.content)
                .map_err(|e| AppError::validation(e.to_string()))?;
            Ok(db::lead_import::import(conn, &tenant, parsed.rows, now)?)
        })
        .await?;
    let area = view::report(&report);
    Ok(usage_changed(
        show_area(&state, &cur, &req, area, Reply::Ok).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExportQuery {
    q: String,
    status: String,
    tag: String,
    owner: String,
}

/// Leads per database round trip while exporting.
const EXPORT_BATCH: i64 = 1000;

enum ExportState {
    Start,
    After(Cursor),
    Done,
}

/// Streams the leads of the current filter as CSV, a batch at a time.
async fn export(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let mut filter: LeadFilter = lead_filter(&query.q, &query.status, &query.tag)?;
    filter.owner = owner_filter(&query.owner, cur.user.id())?;
    let (db, tenant) = (state.db.clone(), cur.tenant());
    // The body is polled after this handler returns, outside the request's
    // database scope: take it along.
    let scope = wall::current();
    let stream = futures_util::stream::unfold(ExportState::Start, move |at| {
        let (db, filter) = (db.clone(), filter.clone());
        async move {
            let after = match at {
                ExportState::Start => None,
                ExportState::After(c) => Some(c),
                ExportState::Done => return None,
            };
            let list = db.run(move |conn| leads::list(conn, &tenant, &filter, after, EXPORT_BATCH));
            let batch = wall::within(scope, list).await;
            let (rows, more) = match batch {
                Ok(b) => b,
                Err(e) => return Some((Err(AppError::from(e).into()), ExportState::Done)),
            };
            let next = match rows.last() {
                Some(last) if more => ExportState::After(last.cursor()),
                _ => ExportState::Done,
            };
            Some((
                lead_csv::chunk(&rows, after.is_none()).map_err(actix_web::Error::from),
                next,
            ))
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"leads.csv\"",
        ))
        .streaming(stream))
}
