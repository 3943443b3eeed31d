//! The "Export all data" card on the settings page (owners only): the latest
//! export's state, its download link while it lasts, and the request button.
//! A plain form; the page reloads after a request, so no script is needed.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::org_export::{OrgExport, KEEP_DAYS};
use crate::views::components::csrf;
use crate::views::format::date_time;

/// The card; `latest` is the organization's newest export.
pub fn card(latest: Option<&OrgExport>, token: &str, tz: Tz, now: DateTime<Utc>) -> Markup {
    let busy = latest.is_some_and(|e| matches!(e.status.as_str(), "queued" | "running"));
    html! {
        section.card.stack #export aria-labelledby="export-title" {
            h2 #export-title { "Export all data" }
            p.muted {
                "One ZIP file with every lead, message, template, sequence, member, invoice and audit event of this organization, as JSON and CSV. "
                "You get a notice and an email when it is ready; the link works for " (KEEP_DAYS) " days."
            }
            @if let Some(e) = latest { (state(e, tz, now)) }
            @if !busy {
                form method="post" action="/settings/export" {
                    (csrf(token))
                    button.btn.btn-sm.btn-primary type="submit" { "Prepare an export" }
                }
            }
        }
    }
}

/// What became of the latest export.
fn state(e: &OrgExport, tz: Tz, now: DateTime<Utc>) -> Markup {
    let asked = date_time(e.created_at, tz);
    html! {
        @match e.status.as_str() {
            "queued" | "running" => {
                p role="status" { "Preparing the export you asked for on " (asked) "…" }
            }
            "ready" if e.downloadable(now) => {
                p {
                    "Ready: the export of " (asked) " ("
                    (megabytes(e.file_bytes.unwrap_or(0))) "), until "
                    (e.expires_at.map(|at| date_time(at, tz)).unwrap_or_default()) ". "
                    a href=(format!("/settings/export/{}", e.id)) download { "Download the ZIP file" }
                }
            }
            "ready" => p.muted { "The export of " (asked) " has expired and its file was deleted." },
            _ => p.field-error { "The export of " (asked) " could not be prepared. Please try again." },
        }
    }
}

/// A file size people read: kB below a megabyte.
fn megabytes(bytes: i64) -> String {
    match bytes {
        b if b < 1_000_000 => format!("{} kB", (b + 999) / 1000),
        b => format!("{:.1} MB", b as f64 / 1_000_000.0),
    }
}
