//! The `lead-dashboard` binary: parse the command line, load the
//! configuration, then serve or run a maintenance command.

use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Parser;
use lead_dashboard::cli::{self, Cli, Command, OrgCommand, SeedArgs};
use lead_dashboard::clock::Clock;
use lead_dashboard::config::Config;
use lead_dashboard::db::demo;
use lead_dashboard::server;

/// Text logs, or with `LOG_FORMAT=json` one JSON object per line carrying
/// the request span's `request_id` and `org_id`.
fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,access=info".into());
    let fmt = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        fmt.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        fmt.init();
    }
}

fn run_demo(config: &Config, now: DateTime<Utc>) -> Result<(), String> {
    let (url, _local) = server::resolve_database(config)?;
    let (db, access) = server::connect_and_migrate(&url, config, Duration::from_secs(30))?;
    let mut conn = db.system(&access).map_err(|e| format!("{e:?}"))?;
    match demo::seed(&mut conn, now).map_err(|e| e.to_string())? {
        demo::Seeded::Created { password } | demo::Seeded::PasswordReset { password } => {
            server::print_demo_credentials(&password)
        }
    }
    Ok(())
}

fn run_org(config: &Config, command: &OrgCommand, now: DateTime<Utc>) -> Result<(), String> {
    let (url, _local) = server::resolve_database(config)?;
    let (db, access) = server::connect_and_migrate(&url, config, Duration::from_secs(30))?;
    let mut conn = db.system(&access).map_err(|e| format!("{e:?}"))?;
    print!("{}", cli::run_org(&mut conn, command, now)?);
    Ok(())
}

fn run_seed(config: &Config, args: SeedArgs, now: DateTime<Utc>) -> Result<(), String> {
    let (url, _local) = server::resolve_database(config)?;
    let (db, access) = server::connect_and_migrate(&url, config, Duration::from_secs(30))?;
    let mut conn = db.system(&access).map_err(|e| format!("{e:?}"))?;
    let seeded = lead_dashboard::db::seed::seed(
        &mut conn,
        args.orgs,
        args.leads_per_org,
        args.usage_records,
        now,
    )
    .map_err(|e| e.to_string())?;
    println!("email={}", seeded.email);
    println!("password={}", seeded.password);
    println!("org={}", seeded.org_slug);
    Ok(())
}

/// One pass of the inbox job, in this process (`bench/run-inbox` times it).
fn run_inbox_pass(config: &Config, now: DateTime<Utc>) -> Result<(), String> {
    let (url, _local) = server::resolve_database(config)?;
    let (db, access) = server::connect_and_migrate(&url, config, Duration::from_secs(30))?;
    let read = lead_dashboard::jobs::inbox::run(&db, &access, config, now)?;
    println!("mailboxes={read}");
    Ok(())
}

fn run_migrate(config: &Config) -> Result<(), String> {
    let (url, _local) = server::resolve_database(config)?;
    server::connect_and_migrate(&url, config, Duration::from_secs(30)).map(|_| ())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("lead-dashboard: refusing to start: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(config.log_json);
    // Commands act at the instant they start; the server reads its own clock.
    let now = Clock::system().now();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(server::serve(config)),
        Command::Demo => run_demo(&config, now),
        Command::Migrate => run_migrate(&config),
        Command::Org(command) => run_org(&config, &command, now),
        Command::Seed(args) => run_seed(&config, args, now),
        Command::InboxPass => run_inbox_pass(&config, now),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lead-dashboard: {e}");
            ExitCode::FAILURE
        }
    }
}
