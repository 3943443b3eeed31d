//! CSV import pages: the upload form, the preview (column mapping, first
//! rows, problems, what the monthly limit allows) and the import report.

use maud::{html, Markup};
use uuid::Uuid;

use crate::db::lead_import::ImportReport;
use crate::domain::lead_import::{Parsed, FIELDS};
use crate::domain::plans::{format_limit, Limit};
use crate::views::components::csrf;
use crate::views::workspace::upgrade_prompt;

/// Rows shown in the preview.
pub const PREVIEW_ROWS: usize = 10;
/// Problems listed in full; the rest are counted.
const LISTED_PROBLEMS: usize = 200;

/// The upload form; `error` is shown next to the file field.
pub fn upload_form(token: &str, max_bytes: usize, error: Option<&str>) -> Markup {
    let action = format!("/leads/import?csrf_token={token}");
    let mb = max_bytes as f64 / (1024.0 * 1024.0);
    html! {
        form.stack method="post" action=(action) enctype="multipart/form-data"
            hx-post=(action) hx-encoding="multipart/form-data" hx-target="#import-area" hx-swap="innerHTML" {
            div.field.has-error[error.is_some()] {
                label for="f-file" { "CSV file" }
                input #f-file type="file" name="file" accept=".csv,text/csv" required
                    aria-invalid=[error.map(|_| "true")] aria-describedby="f-file-hint";
                p.hint #f-file-hint {
                    "UTF-8, comma-separated, with a header row. Up to " (format!("{mb:.0}")) " MB. Columns are matched by name: "
                    code { (FIELDS.join(", ")) } ". Separate tags with “;”."
                }
                @if let Some(e) = error { p.field-error role="alert" { (e) } }
            }
            div.form-actions {
                button.btn.btn-primary type="submit" { "Upload and preview" }
                span.htmx-indicator { span.spinner {} " Reading…" }
            }
        }
    }
}

pub fn page(area: Markup) -> Markup {
    html! {
        div.page-head {
            div { h1 { "Import leads" } p.muted { "Upload a CSV file, check the preview, then import. Each new lead counts toward this month's limit." } }
            div.actions { a.btn href="/leads" { "Back to leads" } }
        }
        div #import-area { (area) }
    }
}

pub fn upload_area(token: &str, max_bytes: usize, error: Option<&str>) -> Markup {
    html! { section.card { (upload_form(token, max_bytes, error)) } }
}

fn mapping_table(parsed: &Parsed) -> Markup {
    html! {
        div.table-wrap { table.data.compact {
            caption.sr-only { "Column mapping" }
            thead { tr { th scope="col" { "Column in the file" } th scope="col" { "Lead field" } } }
            tbody { @for (h, f) in parsed.mapping.headers.iter().zip(&parsed.mapping.fields) { tr {
                td { (h) }
                td { @match f { Some(f) => code { (f) }, None => span.muted { "ignored" } } }
            } } }
        } }
    }
}

fn rows_table(parsed: &Parsed) -> Markup {
    html! {
        div.table-wrap { table.data.compact {
            caption.sr-only { "First rows" }
            thead { tr { th.num scope="col" { "Line" } th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Company" } th scope="col" { "Result" } } }
            tbody { @for row in parsed.rows.iter().take(PREVIEW_ROWS) { tr {
                td.num { (row.line) }
                @match &row.outcome {
                    Ok(l) => {
                        td { (l.first_name) " " (l.last_name) } td { (l.email) } td { (l.company) }
                        td { span.badge.badge-green { "OK" } }
                    },
                    Err(reason) => td colspan="4" .wrap { span.badge.badge-red { "Skipped" } " " (reason) },
                }
            } } }
        } }
    }
}

pub fn problems(list: &[(u64, String)]) -> Markup {
    html! {
        @if !list.is_empty() {
            div {
                h3 { (list.len()) (if list.len() == 1 { " row is" } else { " rows are" }) " skipped" }
                ul.problems {
                    @for (line, reason) in list.iter().take(LISTED_PROBLEMS) { li { "Line " (line) ": " (reason) } }
                    @if list.len() > LISTED_PROBLEMS { li.muted { "… and " (list.len() - LISTED_PROBLEMS) " more." } }
                }
            }
        }
    }
}

/// What the preview says about the monthly limit.
pub struct Allowance {
    pub used: i64,
    pub limit: Limit,
}

pub fn preview(
    upload: Uuid,
    filename: &str,
    parsed: &Parsed,
    allowance: &Allowance,
    token: &str,
) -> Markup {
    let valid = parsed.valid();
    let skipped: Vec<(u64, String)> = parsed
        .rows
        .iter()
        .filter_map(|r| r.outcome.clone().err().map(|e| (r.line, e)))
        .collect();
    let room = allowance
        .limit
        .map(|l| (l - allowance.used).max(0) as usize);
    let over = room.map_or(0, |r| valid.saturating_sub(r));
    html! {
        section.card.stack {
            h2 { "Preview of " (filename) }
            p { strong { (valid) } " of " (parsed.rows.len()) " rows can be imported. "
                "This month: " (allowance.used) " of " (format_limit(allowance.limit)) " new leads used." }
            @if over > 0 {
                (upgrade_prompt(&format!("Only {} more leads fit in this month's limit: {over} valid rows would be left.", room.unwrap_or(0))))
            }
            div.stack {
                div { h3 { "First rows" } (rows_table(parsed)) }
                div { h3 { "Columns" } (mapping_table(parsed)) }
                (problems(&skipped))
            }
            form.form-actions method="post" action={ "/leads/import/" (upload) }
                hx-post={ "/leads/import/" (upload) } hx-target="#import-area" hx-swap="innerHTML" {
                (csrf(token))
                button.btn.btn-primary type="submit" disabled[valid == 0] { "Import " (valid.min(room.unwrap_or(valid))) " leads" }
                a.btn.btn-ghost href="/leads/import" { "Choose another file" }
                span.htmx-indicator { span.spinner {} " Importing…" }
            }
        }
    }
}

pub fn report(r: &ImportReport) -> Markup {
    html! {
        section.card.stack {
            h2 { "Import finished" }
            div.flash.flash-success role="status" {
                "Imported " (r.imported) (if r.imported == 1 { " lead." } else { " leads." })
            }
            @if r.left > 0 {
                (upgrade_prompt(&format!(
                    "The monthly lead limit stopped the import: {} imported, {} left. Upgrade, or import the rest next month.",
                    r.imported, r.left
                )))
            }
            (problems(&r.problems))
            div.form-actions { a.btn.btn-primary href="/leads" { "Go to leads" } a.btn href="/leads/import" { "Import another file" } }
        }
    }
}
