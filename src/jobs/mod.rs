//! Background work run inside each app instance (when `RUN_JOBS` is on).
//! Every job claims its rows with `FOR UPDATE SKIP LOCKED`, so any number of
//! instances can run them without doing anything twice. A job is a plain
//! function over a connection, so tests call it directly.

pub mod account_cleanup;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::config::Config;
use crate::db::SystemAccess;
use crate::state::AppState;

pub mod lead_bulk;
pub mod lifecycle;
pub mod mail;
pub mod org_deletion;
pub mod org_export;
pub mod retention;
pub mod sequences;
pub mod webhooks;

/// One pass of a job at the instant the runner read from the app's clock:
/// returns how many items it handled.
pub type JobFn =
    fn(&mut PgConnection, &SystemAccess, &Config, DateTime<Utc>) -> Result<usize, String>;

/// The jobs this instance runs, with their intervals.
fn schedule() -> Vec<(&'static str, Duration, JobFn)> {
    vec![
        (
            "account_cleanup",
            Duration::from_secs(15 * 60),
            account_cleanup::run,
        ),
        (
            "subscription lifecycle",
            Duration::from_secs(60),
            lifecycle::run_at,
        ),
        ("mail", Duration::from_secs(10), mail::deliver_due),
        ("sequences", Duration::from_secs(60), sequences::run),
        ("webhooks", Duration::from_secs(5), webhooks::deliver_due),
        ("lead-imports", Duration::from_secs(600), purge_lead_imports),
        (
            "organization erasure",
            Duration::from_secs(15 * 60),
            org_deletion::run,
        ),
        ("org-exports", Duration::from_secs(30), org_export::run),
        ("lead-bulk", Duration::from_secs(5), lead_bulk::run),
        ("retention", Duration::from_secs(60 * 60), retention::run),
    ]
}

/// Removes uploaded CSV files whose preview was never imported.
fn purge_lead_imports(
    conn: &mut PgConnection,
    _: &SystemAccess,
    _: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    crate::db::lead_import::purge_expired(conn, now).map_err(|e| e.to_string())
}

/// Starts the background workers of this instance. `access` lets them act
/// for any organization (the start-up grants it; routes never get one).
pub fn spawn(state: Arc<AppState>, access: SystemAccess) {
    if !state.config.run_jobs {
        return;
    }
    for (name, every, job) in schedule() {
        let state = state.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(every);
            loop {
                tick.tick().await;
                run_once(&state, access, name, job).await;
            }
        });
    }
}

async fn run_once(state: &Arc<AppState>, access: SystemAccess, name: &'static str, job: JobFn) {
    let db = state.db.clone();
    let config = state.config.clone();
    let now = state.clock.now();
    let outcome = actix_web::web::block(move || {
        let mut conn = db.system(&access).map_err(|e| e.to_string())?;
        job(&mut conn, &access, &config, now)
    })
    .await;
    match outcome {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(job = name, handled = n, "job pass"),
        Ok(Err(e)) => tracing::warn!(job = name, error = %e, "job failed"),
        Err(e) => tracing::warn!(job = name, error = %e, "job panicked"),
    }
}
