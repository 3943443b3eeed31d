//! Start-up: find or start the database, migrate, seed the demo on a fresh
//! local database, then serve until interrupted (stopping the local
//! PostgreSQL the app started).

use std::time::{Duration, Instant};

use actix_web::{web, HttpServer};

use crate::app;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{demo, Db, SystemAccess};
use crate::local_pg::{LocalPostgres, VarDir};
use crate::state::AppState;

/// The database URL to use, and the local server when the app started one.
pub fn resolve_database(config: &Config) -> Result<(String, Option<LocalPostgres>), String> {
    match &config.database_url {
        Some(url) => Ok((url.clone(), None)),
        None => {
            let var_dir = VarDir::resolve(config.var_dir.as_deref()).map_err(|e| e.to_string())?;
            if let Some(notice) = var_dir.notice() {
                println!("{notice}");
            }
            let dir = var_dir.path();
            tracing::info!(dir = %dir.display(), "DATABASE_URL not set: using a local PostgreSQL");
            let local = LocalPostgres::start(dir).map_err(|e| e.to_string())?;
            Ok((local.database_url(), Some(local)))
        }
    }
}

/// Connects (waiting up to `wait` for the server) and applies migrations.
/// Grants the start-up's `SystemAccess`, which the caller hands to the jobs
/// or the CLI command it runs.
pub fn connect_and_migrate(
    url: &str,
    config: &Config,
    wait: Duration,
) -> Result<(Db, SystemAccess), String> {
    let db = Db::connect(url, config.pool_size, config.pool_timeout);
    let access = SystemAccess::grant_at_startup();
    let deadline = Instant::now() + wait;
    loop {
        match db.system(&access) {
            Ok(mut conn) => {
                crate::db::migrate(&mut conn)?;
                return Ok((db, access));
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(500)),
            Err(e) => return Err(format!("cannot reach the database: {e:?}")),
        }
    }
}

/// Seeds the demo when the database has no users yet; prints the password.
fn seed_demo_if_empty(
    db: &Db,
    access: &SystemAccess,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let mut conn = db.system(access).map_err(|e| format!("{e:?}"))?;
    if !demo::is_empty(&mut conn).map_err(|e| e.to_string())? {
        return Ok(());
    }
    if let demo::Seeded::Created { password } =
        demo::seed(&mut conn, now).map_err(|e| e.to_string())?
    {
        print_demo_credentials(&password);
    }
    Ok(())
}

pub fn print_demo_credentials(password: &str) {
    println!();
    println!("  Demo account ready — sign in with:");
    println!("    email:    {}", demo::DEMO_EMAIL);
    println!("    password: {password}");
    println!("  (run `lead-dashboard demo` to reset it)");
    println!();
}

/// Runs the web server until Ctrl-C / SIGTERM.
///
/// SIGTERM is a graceful stop: the listener closes at once, requests in
/// flight get up to `SHUTDOWN_GRACE_SECONDS` to finish, then the workers
/// finish the item they are on (their claims commit or roll back with it)
/// and the pool is closed. SIGINT (Ctrl-C) and SIGQUIT stop at once.
pub async fn serve(mut config: Config) -> Result<(), String> {
    let (url, local) = resolve_database(&config)?;
    if let Some(local) = &local {
        // Keep the session key beside the cluster, wherever the var dir fell
        // back to, rather than in a checkout the app may not write into.
        config.var_dir = Some(local.var_dir().to_path_buf());
    }
    let (db, access) = connect_and_migrate(&url, &config, Duration::from_secs(30))?;
    let clock = Clock::system();
    if local.is_some() {
        seed_demo_if_empty(&db, &access, clock.now())?;
    }
    let bind = config.bind.clone();
    let grace = config.shutdown_grace;
    let metrics_bind = config.metrics_bind.clone();
    let state = web::Data::new(AppState::with_clock(db, config, clock));
    let workers = crate::jobs::spawn(state.clone().into_inner(), access);
    let metrics = match &metrics_bind {
        Some(at) => {
            let server = crate::observe::metrics_server(state.clone(), access, at)
                .map_err(|e| format!("cannot listen on METRICS_BIND {at}: {e}"))?;
            let handle = server.handle();
            actix_web::rt::spawn(server);
            tracing::info!(address = %at, "metrics on http://{at}/metrics");
            Some(handle)
        }
        None => None,
    };
    tracing::info!(address = %bind, "serving on http://{bind}");
    crate::billing::announce_provider(&state.config);
    println!("Lead Dashboard is running on http://{bind}");
    let app_state = state.clone();
    HttpServer::new(move || app::build(app_state.clone()))
        .shutdown_timeout(grace.as_secs())
        .bind(&bind)
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?
        .run()
        .await
        .map_err(|e| e.to_string())?;
    let stopping = Instant::now();
    if !workers.stop(grace).await {
        tracing::warn!("a background job was still running at the end of the grace period");
    }
    if let Some(metrics) = metrics {
        metrics.stop(false).await;
    }
    // The last share of the pool: its connections close here.
    drop(state);
    tracing::info!(ms = stopping.elapsed().as_millis() as u64, "stopped");
    drop(local);
    Ok(())
}
