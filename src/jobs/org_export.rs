//! Writes organization export archives. Each pass first deletes the files
//! of expired exports, then claims queued exports one at a time and writes
//! each as one ZIP file under the export directory: a JSON file per table,
//! `leads.csv`, `messages.csv` and a README. Rows are read in keyset batches
//! and streamed into the deflate writer, so memory stays flat however large
//! the organization. When the file is complete the requester gets a notice
//! and an email with the link.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::config::Config;
use crate::db::leads::{self, LeadFilter};
use crate::db::org_export::{self, Claimed, Section, SECTIONS};
use crate::db::{notices, orgs, SystemAccess, Tenant};
use crate::domain::lead_import::neutralise_cell;
use crate::mail::org_export as export_mail;
use crate::views::lead_csv;

/// Rows per database round trip.
const BATCH: i64 = 1000;

/// Exports written per pass, so one pass cannot run for hours.
const PER_PASS: usize = 3;

type Archive = ZipWriter<BufWriter<File>>;

/// One pass: returns the number of files deleted plus archives handled.
pub fn run(
    conn: &mut PgConnection,
    access: &SystemAccess,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let mut handled = delete_expired(conn, access, now)?;
    for _ in 0..PER_PASS {
        if crate::jobs::stopping() {
            break;
        }
        let Some(claimed) = org_export::claim(conn, now).map_err(|e| e.to_string())? else {
            break;
        };
        export_one(conn, access, config, &claimed, now)?;
        handled += 1;
    }
    Ok(handled)
}

/// Where archives are written: `LD_VAR_DIR/exports`, or the system's
/// temporary directory when no var dir is configured.
pub fn export_dir(config: &Config) -> PathBuf {
    match &config.var_dir {
        Some(dir) => dir.join("exports"),
        None => std::env::temp_dir().join("lead-dashboard-exports"),
    }
}

/// Deletes the files of expired exports; a file already gone is fine.
fn delete_expired(
    conn: &mut PgConnection,
    access: &SystemAccess,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let expired = org_export::expired_files(conn, now).map_err(|e| e.to_string())?;
    for file in &expired {
        if let Some(path) = &file.path {
            remove_archive(path)?;
        }
        let tenant = access.tenant(file.organization_id);
        org_export::forget_file(conn, &tenant, file.id).map_err(|e| e.to_string())?;
    }
    Ok(expired.len())
}

/// Deletes an archive file; one already gone is fine.
pub fn remove_archive(path: &str) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("deleting {path}: {e}")),
    }
}

/// Writes one claimed export and records the outcome.
fn export_one(
    conn: &mut PgConnection,
    access: &SystemAccess,
    config: &Config,
    claimed: &Claimed,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let tenant = access.tenant(claimed.organization_id);
    let dir = export_dir(config);
    let path = dir.join(format!("{}-{}.zip", claimed.organization_id, claimed.id));
    let partial = path.with_extension("zip.part");
    let written = std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| write_archive(conn, &tenant, &partial, now))
        .and_then(|bytes| {
            std::fs::rename(&partial, &path).map_err(|e| e.to_string())?;
            Ok(bytes)
        });
    match written {
        Ok(bytes) => {
            let announced = announce(conn, &tenant, config, claimed, &path, bytes, now)
                .map_err(|e| e.to_string())?;
            if !announced {
                // The organization was erased while the archive was written:
                // no row names the file any more, so it must not stay.
                remove_archive(&path.to_string_lossy())?;
            }
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            tracing::warn!(export = %claimed.id, error = %e, "export failed");
            org_export::fail(conn, &tenant, claimed.id, &e, now).map_err(|e| e.to_string())?;
            Ok(())
        }
    }
}

/// Marks the export ready and tells the requester (notice and mail),
/// together; false when the export's row is gone (its organization erased).
fn announce(
    conn: &mut PgConnection,
    tenant: &Tenant,
    config: &Config,
    claimed: &Claimed,
    path: &Path,
    bytes: i64,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let path = path.to_string_lossy();
        if org_export::finish(conn, tenant, claimed.id, &path, bytes, now)? == 0 {
            return Ok(false);
        }
        let Some(user) = claimed.requested_by else {
            return Ok(true);
        };
        let name = orgs::load(conn, tenant)?.0.name;
        let message = format!(
            "The export of {name} is ready to download for {} days.",
            org_export::KEEP_DAYS
        );
        let dedupe = format!("export:{}", claimed.id);
        notices::notify_user(conn, tenant, user, "export_ready", &message, &dedupe, now)?;
        if let Some(email) = org_export::requester_email(conn, user)? {
            let text = export_mail::ready(&config.public_url, &name, claimed.id);
            export_mail::queue_ready(conn, tenant.org_id(), &email, text, now)?;
        }
        Ok(true)
    })
}

/// Writes the whole archive to `path`; returns its size in bytes.
fn write_archive(
    conn: &mut PgConnection,
    tenant: &Tenant,
    path: &Path,
    now: DateTime<Utc>,
) -> Result<i64, String> {
    let file = File::create(path).map_err(|e| e.to_string())?;
    let mut zip = ZipWriter::new(BufWriter::new(file));
    start(&mut zip, "README.txt")?;
    zip.write_all(readme(now).as_bytes())
        .map_err(|e| e.to_string())?;
    for section in &SECTIONS {
        write_json(conn, tenant, section, &mut zip)?;
    }
    write_leads_csv(conn, tenant, &mut zip)?;
    write_messages_csv(conn, tenant, &mut zip)?;
    let mut out = zip.finish().map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    let file = out.into_inner().map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    i64::try_from(len).map_err(|e| e.to_string())
}

fn start(zip: &mut Archive, name: &str) -> Result<(), String> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file(name, options).map_err(|e| e.to_string())
}

/// Calls `each` with every document of `section`, a batch at a time.
fn for_each_doc(
    conn: &mut PgConnection,
    tenant: &Tenant,
    section: &Section,
    mut each: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    let mut after = org_export::first_key(section);
    loop {
        let docs = org_export::batch(conn, tenant, section, &after, BATCH)
            .map_err(|e| format!("{}: {e}", section.file))?;
        for doc in &docs {
            each(&doc.json)?;
        }
        match docs.last() {
            Some(last) if docs.len() as i64 == BATCH => after = last.key.clone(),
            _ => return Ok(()),
        }
    }
}

/// One section as a JSON array, one document per line.
fn write_json(
    conn: &mut PgConnection,
    tenant: &Tenant,
    section: &Section,
    zip: &mut Archive,
) -> Result<(), String> {
    start(zip, section.file)?;
    zip.write_all(b"[").map_err(|e| e.to_string())?;
    let mut first = true;
    for_each_doc(conn, tenant, section, |json| {
        let sep: &[u8] = if first { b"\n" } else { b",\n" };
        first = false;
        zip.write_all(sep).map_err(|e| e.to_string())?;
        zip.write_all(json.as_bytes()).map_err(|e| e.to_string())
    })?;
    zip.write_all(b"\n]\n").map_err(|e| e.to_string())
}

/// Every lead, in the columns the import reads (newest first).
fn write_leads_csv(
    conn: &mut PgConnection,
    tenant: &Tenant,
    zip: &mut Archive,
) -> Result<(), String> {
    start(zip, "leads.csv")?;
    let mut csv = csv::Writer::from_writer(zip);
    let filter = LeadFilter::default();
    let mut after = None;
    loop {
        let (rows, more) =
            leads::list(conn, tenant, &filter, after, BATCH).map_err(|e| e.to_string())?;
        lead_csv::write(&mut csv, &rows, after.is_none()).map_err(|e| e.to_string())?;
        match rows.last() {
            Some(last) if more => after = Some(last.cursor()),
            _ => break,
        }
    }
    csv.flush().map_err(|e| e.to_string())
}

/// Columns of `messages.csv`, read from each message's JSON document.
const MESSAGE_COLUMNS: [&str; 9] = [
    "created_at",
    "sent_at",
    "status",
    "to_email",
    "subject",
    "body",
    "error",
    "lead_id",
    "enrollment_id",
];

/// Every message as CSV (by id, so oldest first).
fn write_messages_csv(
    conn: &mut PgConnection,
    tenant: &Tenant,
    zip: &mut Archive,
) -> Result<(), String> {
    let section = SECTIONS
        .iter()
        .find(|s| s.file == "messages.json")
        .ok_or("no messages section")?;
    start(zip, "messages.csv")?;
    let mut csv = csv::Writer::from_writer(zip);
    csv.write_record(MESSAGE_COLUMNS)
        .map_err(|e| e.to_string())?;
    for_each_doc(conn, tenant, section, |json| {
        let doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| e.to_string())?;
        let cells = MESSAGE_COLUMNS.map(|c| match doc.get(c) {
            Some(serde_json::Value::String(s)) => neutralise_cell(s).into_owned(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        });
        csv.write_record(cells).map_err(|e| e.to_string())
    })?;
    csv.flush().map_err(|e| e.to_string())
}

/// What the archive holds, file by file.
fn readme(now: DateTime<Utc>) -> String {
    let mut text = format!(
        "Lead Dashboard organization export, written {}.\n\n\
         Each .json file is an array of the organization's rows of one kind, one\n\
         object per line, with the column names as keys (times in UTC, RFC 3339).\n\
         Secrets are never included: no password, token or API key hashes, no\n\
         invitation or session tokens.\n\n",
        now.to_rfc3339()
    );
    for section in &SECTIONS {
        text.push_str(&format!("{:<22} {}\n", section.file, section.about));
    }
    text.push_str(&format!(
        "{:<22} every lead in the columns the CSV import reads, newest first\n\
         {:<22} every message: {}\n",
        "leads.csv",
        "messages.csv",
        MESSAGE_COLUMNS.join(", ")
    ));
    text
}
