//! The organization export (owners only): `POST /settings/export` queues
//! one (audited; refused while another is being prepared) and
//! `GET /settings/export/{id}` streams the finished ZIP file while it lasts
//! (410 once expired). The archive itself is written by `jobs::org_export`.

use std::io::Read;

use actix_web::body::SizedStream;
use actix_web::http::{header, StatusCode};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use uuid::Uuid;

use crate::auth::CurrentOrg;
use crate::db::org_export as db_export;
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::routes::{page, redirect_with_flash};
use crate::state::AppState;
use crate::views::layout::Nav;

route_table! {
    POST "/settings/export" => request,
    GET "/settings/export/{id}" => download,
}

/// Bytes read from the file per chunk of the response.
const CHUNK: usize = 64 * 1024;

async fn request(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageBilling)?;
    let now = cur.now();
    state
        .db
        .run(move |conn| db_export::request(conn, &tenant, now))
        .await?;
    let text = "The export is being prepared. You will get a notice and an email when it is ready.";
    Ok(redirect_with_flash(&req, "/settings#export", text))
}

async fn download(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageBilling)?;
    let id = id.into_inner();
    let export = state
        .db
        .run(move |conn| db_export::find(conn, &tenant, id))
        .await?;
    if export.status != "ready" {
        return Err(AppError::Conflict(
            "This export is not ready yet. You will get a notice when it is.".into(),
        ));
    }
    match &export.file_path {
        Some(path) if export.downloadable(cur.now()) => stream_file(path, id).await,
        _ => gone(&state, &cur, &req).await,
    }
}

/// 410: the export existed, but its file has expired.
async fn gone(state: &AppState, cur: &CurrentOrg, req: &HttpRequest) -> AppResult<HttpResponse> {
    let body = html! {
        div.page-head { div { h1 { "This export has expired" } } }
        section.card.stack {
            p { "Exports can be downloaded for " (db_export::KEEP_DAYS) " days; this file has been deleted." }
            p { a.btn.btn-primary href="/settings#export" { "Prepare a new export" } }
        }
    };
    let mut res = page(state, cur, req, Nav::Settings, "Export expired", body).await?;
    *res.status_mut() = StatusCode::GONE;
    Ok(res)
}

/// The archive as an attachment, read a chunk at a time off the request thread.
async fn stream_file(path: &str, id: Uuid) -> AppResult<HttpResponse> {
    let path = path.to_string();
    let file = web::block(move || std::fs::File::open(path))
        .await
        .map_err(AppError::unexpected)?
        .map_err(AppError::unexpected)?;
    let size = file.metadata().map_err(AppError::unexpected)?.len();
    let stream = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = web::block(move || {
            let mut buf = vec![0; CHUNK];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((buf, file))
        })
        .await;
        match read {
            Ok(Ok((buf, _))) if buf.is_empty() => None,
            Ok(Ok((buf, file))) => Some((Ok(Bytes::from(buf)), Some(file))),
            Ok(Err(e)) => Some((Err(actix_web::Error::from(AppError::unexpected(e))), None)),
            Err(e) => Some((Err(actix_web::Error::from(AppError::unexpected(e))), None)),
        }
    });
    let name = format!("attachment; filename=\"organization-export-{id}.zip\"");
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((header::CONTENT_DISPOSITION, name))
        .body(SizedStream::new(size, stream)))
}
