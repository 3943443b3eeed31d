//! The command line: `lead-dashboard` serves; subcommands run maintenance.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "lead-dashboard",
    version,
    about = "Lead Dashboard — B2B lead outreach SaaS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve,
    /// Create the demo organization (or reset the demo password) and print the sign-in.
    Demo,
    /// Apply database migrations and exit.
    Migrate,
}
