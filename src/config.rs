//! Settings read from the environment, with defaults that run the app locally.
//! Every variable is listed in README.md; nothing else configures the app.

use std::env;
use std::path::PathBuf;
use std::time::Duration;

/// Application settings. `Config::from_env` is the only constructor used in
/// production; tests build one with `Config::for_tests`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`; `None` means "start a local PostgreSQL under `var_dir`".
    pub database_url: Option<String>,
    /// `LD_VAR_DIR` (default `./var`): home of the local cluster.
    pub var_dir: PathBuf,
    /// `BIND` (default `127.0.0.1:8080`).
    pub bind: String,
    /// `PUBLIC_URL` (default `http://127.0.0.1:8080`): base of links in mail.
    pub public_url: String,
    /// `DB_POOL_SIZE` (default 16) and `DB_POOL_TIMEOUT_MS` (default 1500).
    pub pool_size: u32,
    pub pool_timeout: Duration,
    /// `SECURE_COOKIES=1` marks cookies Secure (set it behind HTTPS).
    pub secure_cookies: bool,
    /// `SESSION_IDLE_MINUTES` (default 120) and `SESSION_MAX_HOURS` (default 336 = 14 days).
    pub session_idle: Duration,
    pub session_lifetime: Duration,
    /// `SESSION_KEY`: secret the session cookie is encrypted with; unset, one
    /// is generated and kept in `LD_VAR_DIR/session.key`.
    pub session_key: Option<String>,
    /// `SMTP_URL`, e.g. `smtp://user:pass@host:587`; unset keeps mail in the outbox.
    pub smtp_url: Option<String>,
    /// `MAIL_FROM` (default `Lead Dashboard <no-reply@localhost>`).
    pub mail_from: String,
    /// `MAX_UPLOAD_BYTES` (default 5 MB): largest accepted request body.
    pub max_upload_bytes: usize,
    /// `RUN_JOBS` (default on): run background workers in this process.
    pub run_jobs: bool,
    /// `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_BASE`.
    pub stripe_secret_key: Option<String>,
    pub stripe_webhook_secret: Option<String>,
    pub stripe_api_base: String,
    /// `LOGIN_RATE_LIMIT` (default 10): failed sign-ins per 15 minutes per account and per address.
    pub login_attempts_per_window: i32,
    /// `BENCH_ROUTES=1` (default off): serve `/bench/ceiling` for benchmarks.
    pub bench_routes: bool,
}

fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    var(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn flag(name: &str, default: bool) -> bool {
    match var(name).as_deref() {
        Some("1" | "true" | "yes" | "on") => true,
        Some("0" | "false" | "no" | "off") => false,
        _ => default,
    }
}

impl Config {
    pub fn from_env() -> Config {
        let bind = var("BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        Config {
            database_url: var("DATABASE_URL"),
            var_dir: var("LD_VAR_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| "var".into()),
            public_url: var("PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}")),
            bind,
            pool_size: parse_or("DB_POOL_SIZE", 16),
            pool_timeout: Duration::from_millis(parse_or("DB_POOL_TIMEOUT_MS", 1500)),
            secure_cookies: flag("SECURE_COOKIES", false),
            session_idle: Duration::from_secs(60 * parse_or("SESSION_IDLE_MINUTES", 120)),
            session_lifetime: Duration::from_secs(3600 * parse_or("SESSION_MAX_HOURS", 336)),
            session_key: var("SESSION_KEY"),
            smtp_url: var("SMTP_URL"),
            mail_from: var("MAIL_FROM")
                .unwrap_or_else(|| "Lead Dashboard <no-reply@localhost>".into()),
            max_upload_bytes: parse_or("MAX_UPLOAD_BYTES", 5 * 1024 * 1024),
            run_jobs: flag("RUN_JOBS", true),
            stripe_secret_key: var("STRIPE_SECRET_KEY"),
            stripe_webhook_secret: var("STRIPE_WEBHOOK_SECRET"),
            stripe_api_base: var("STRIPE_API_BASE")
                .unwrap_or_else(|| "https://api.stripe.com".into()),
            login_attempts_per_window: parse_or("LOGIN_RATE_LIMIT", 10),
            bench_routes: flag("BENCH_ROUTES", false),
        }
    }

    /// Settings for tests: the given database, no background jobs.
    pub fn for_tests(database_url: &str) -> Config {
        Config {
            database_url: Some(database_url.to_string()),
            run_jobs: false,
            pool_size: 8,
            session_key: Some(crate::tokens::random_token()),
            ..Config::from_env()
        }
    }
}
