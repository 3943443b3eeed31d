//! The `lead-dashboard` binary: parse the command line, load the
//! configuration, then serve or run a maintenance command.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lead_dashboard::cli::{Cli, Command};
use lead_dashboard::config::Config;
use lead_dashboard::db::demo;
use lead_dashboard::server;

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,access=info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

fn run_demo(config: &Config) -> Result<(), String> {
    let (url, _local) = server::resolve_database(config)?;
    let db = server::connect_and_migrate(&url, config, Duration::from_secs(30))?;
    let mut conn = db.get().map_err(|e| format!("{e:?}"))?;
    match demo::seed(&mut conn).map_err(|e| e.to_string())? {
        demo::Seeded::Created { password } | demo::Seeded::PasswordReset { password } => {
            server::print_demo_credentials(&password)
        }
    }
    Ok(())
}

fn run_migrate(config: &Config) -> Result<(), String> {
    let (url, _local) = server::resolve_database(config)?;
    server::connect_and_migrate(&url, config, Duration::from_secs(30)).map(|_| ())
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let config = Config::from_env();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(server::serve(config)),
        Command::Demo => run_demo(&config),
        Command::Migrate => run_migrate(&config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lead-dashboard: {e}");
            ExitCode::FAILURE
        }
    }
}
