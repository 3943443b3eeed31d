//! Background work run inside each app instance (when `RUN_JOBS` is on).
//! Every job claims its rows with `FOR UPDATE SKIP LOCKED`, so any number of
//! instances can run them without doing anything twice. A job is a plain
//! function over a connection, so tests call it directly.

pub mod account_cleanup;
pub mod inbox;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// A pass of a job that checks connections out itself, so it can return
/// them while it waits on a remote server (the inbox job).
pub type PoolJobFn =
    fn(&crate::db::Db, &SystemAccess, &Config, DateTime<Utc>) -> Result<usize, String>;

/// The jobs that hold no connection through a pass, with their intervals.
fn pool_schedule() -> Vec<(&'static str, Duration, PoolJobFn)> {
    vec![("inbox", Duration::from_secs(15), inbox::run)]
}

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

/// The background workers of one instance, to be stopped on shutdown.
pub struct Workers {
    tasks: Vec<actix_web::rt::task::JoinHandle<()>>,
    shutdown: Arc<Shutdown>,
}

/// What a stopping instance tells its workers, and how many passes run.
#[derive(Default)]
struct Shutdown {
    stopping: AtomicBool,
    running: AtomicUsize,
}

thread_local! {
    /// The shutdown flag of the workers whose pass runs on this thread
    /// (passes run on the blocking pool: see `run_once`).
    static CURRENT: std::cell::RefCell<Option<Arc<Shutdown>>> = const { std::cell::RefCell::new(None) };
}

/// True once the instance running this pass is shutting down: a job that
/// handles items in a loop stops after the current one (its claim is
/// committed or rolled back with it), and the next instance carries on.
pub fn stopping() -> bool {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|s| s.stopping.load(Ordering::SeqCst))
    })
}

/// Starts the background workers of this instance. `access` lets them act
/// for any organization (the start-up grants it; routes never get one).
pub fn spawn(state: Arc<AppState>, access: SystemAccess) -> Workers {
    if !state.config.run_jobs {
        return spawn_schedule(state, access, Vec::new());
    }
    let mut workers = spawn_schedule(state.clone(), access, schedule());
    for (name, every, job) in pool_schedule() {
        let (state, shutdown) = (state.clone(), workers.shutdown.clone());
        workers.tasks.push(actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(every);
            loop {
                tick.tick().await;
                if shutdown.stopping.load(Ordering::SeqCst) {
                    break;
                }
                run_pool_job_once(&state, access, name, job, &shutdown).await;
            }
        }));
    }
    workers
}

/// Starts one worker per entry of `jobs` (the schedule, or a test's).
pub fn spawn_schedule(
    state: Arc<AppState>,
    access: SystemAccess,
    jobs: Vec<(&'static str, Duration, JobFn)>,
) -> Workers {
    let shutdown = Arc::new(Shutdown::default());
    let tasks = jobs
        .into_iter()
        .map(|(name, every, job)| {
            let state = state.clone();
            let shutdown = shutdown.clone();
            actix_web::rt::spawn(async move {
                let mut tick = actix_web::rt::time::interval(every);
                loop {
                    tick.tick().await;
                    if shutdown.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    run_once(&state, access, name, job, &shutdown).await;
                }
            })
        })
        .collect();
    Workers { tasks, shutdown }
}

impl Workers {
    /// Stops the workers: no new pass starts, a running pass finishes its
    /// current item (waited for up to `grace`), then the tasks end and
    /// drop their share of the pool.
    pub async fn stop(self, grace: Duration) -> bool {
        self.shutdown.stopping.store(true, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + grace;
        let finished = loop {
            if self.shutdown.running.load(Ordering::SeqCst) == 0 {
                break true;
            }
            if std::time::Instant::now() >= deadline {
                break false;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        };
        for task in self.tasks {
            task.abort();
        }
        finished
    }

    /// Passes running now (for tests and the shutdown log).
    pub fn running(&self) -> usize {
        self.shutdown.running.load(Ordering::SeqCst)
    }
}

/// Marks this thread as running a pass of `Shutdown`'s workers until
/// dropped, even when the job panics.
struct Running(Arc<Shutdown>);

impl Running {
    fn new(shutdown: Arc<Shutdown>) -> Running {
        CURRENT.with(|c| *c.borrow_mut() = Some(shutdown.clone()));
        Running(shutdown)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn run_pool_job_once(
    state: &Arc<AppState>,
    access: SystemAccess,
    name: &'static str,
    job: PoolJobFn,
    shutdown: &Arc<Shutdown>,
) {
    let db = state.db.clone();
    let config = state.config.clone();
    let now = state.clock.now();
    let shutdown = shutdown.clone();
    shutdown.running.fetch_add(1, Ordering::SeqCst);
    let outcome = actix_web::web::block(move || {
        let _running = Running::new(shutdown);
        job(&db, &access, &config, now)
    })
    .await;
    log_outcome(name, outcome);
}

async fn run_once(
    state: &Arc<AppState>,
    access: SystemAccess,
    name: &'static str,
    job: JobFn,
    shutdown: &Arc<Shutdown>,
) {
    let db = state.db.clone();
    let config = state.config.clone();
    let now = state.clock.now();
    let shutdown = shutdown.clone();
    shutdown.running.fetch_add(1, Ordering::SeqCst);
    let outcome = actix_web::web::block(move || {
        let _running = Running::new(shutdown);
        db.system(&access)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| job(&mut conn, &access, &config, now))
    })
    .await;
    log_outcome(name, outcome);
}

fn log_outcome(
    name: &'static str,
    outcome: Result<Result<usize, String>, actix_web::error::BlockingError>,
) {
    match outcome {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(job = name, handled = n, "job pass"),
        Ok(Err(e)) => tracing::warn!(job = name, error = %e, "job failed"),
        Err(e) => tracing::warn!(job = name, error = %e, "job panicked"),
    }
}
