//! Settings read from the environment, with defaults that run the app locally.
//! Every variable is listed in README.md; nothing else configures the app.
//! Secrets are `SecretString`s, so `Debug` of a `Config` never shows them.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// Application settings. `Config::from_env` is the only constructor used in
/// production; tests build one with `Config::for_tests`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`; `None` means "start a local PostgreSQL under the var dir".
    pub database_url: Option<String>,
    /// `LD_VAR_DIR`: home of the local cluster. Unset: `./var`, or, when root
    /// and `./var` is out of the PostgreSQL user's reach, a directory under
    /// `/var/lib/lead-dashboard` (see `local_pg::VarDir`).
    pub var_dir: Option<PathBuf>,
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
    pub session_key: Option<SecretString>,
    /// `SMTP_URL`, e.g. `smtp://user:pass@host:587`; unset keeps mail in the outbox.
    pub smtp_url: Option<SecretString>,
    /// `MAIL_FROM` (default `Lead Dashboard <no-reply@localhost>`).
    pub mail_from: String,
    /// `MAX_UPLOAD_BYTES` (default 5 MB): largest accepted request body.
    pub max_upload_bytes: usize,
    /// `RUN_JOBS` (default on): run background workers in this process.
    pub run_jobs: bool,
    /// `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_BASE`.
    pub stripe_secret_key: Option<SecretString>,
    pub stripe_webhook_secret: Option<SecretString>,
    pub stripe_api_base: String,
    /// `LOGIN_RATE_LIMIT` (default 10): failed sign-ins per 15 minutes per account and per address.
    pub login_attempts_per_window: i32,
    /// `BENCH_ROUTES=1` (default off): serve `/bench/ceiling` for benchmarks.
    pub bench_routes: bool,
}

/// Variable lookup with blank values treated as unset.
struct Vars<F>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse_or<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    fn flag(&self, name: &str, default: bool) -> bool {
        match self.get(name).as_deref() {
            Some("1" | "true" | "yes" | "on") => true,
            Some("0" | "false" | "no" | "off") => false,
            _ => default,
        }
    }

    fn secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(SecretString::from)
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Config {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads each variable through `lookup` (`None`: unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Config {
        let vars = Vars(lookup);
        let bind = vars.get("BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        Config {
            database_url: vars.get("DATABASE_URL"),
            var_dir: vars.get("LD_VAR_DIR").map(PathBuf::from),
            public_url: vars
                .get("PUBLIC_URL")
                .unwrap_or_else(|| format!("http://{bind}")),
            bind,
            pool_size: vars.parse_or("DB_POOL_SIZE", 16),
            pool_timeout: Duration::from_millis(vars.parse_or("DB_POOL_TIMEOUT_MS", 1500)),
            secure_cookies: vars.flag("SECURE_COOKIES", false),
            session_idle: Duration::from_secs(60 * vars.parse_or("SESSION_IDLE_MINUTES", 120)),
            session_lifetime: Duration::from_secs(3600 * vars.parse_or("SESSION_MAX_HOURS", 336)),
            session_key: vars.secret("SESSION_KEY"),
            smtp_url: vars.secret("SMTP_URL"),
            mail_from: vars
                .get("MAIL_FROM")
                .unwrap_or_else(|| "Lead Dashboard <no-reply@localhost>".into()),
            max_upload_bytes: vars.parse_or("MAX_UPLOAD_BYTES", 5 * 1024 * 1024),
            run_jobs: vars.flag("RUN_JOBS", true),
            stripe_secret_key: vars.secret("STRIPE_SECRET_KEY"),
            stripe_webhook_secret: vars.secret("STRIPE_WEBHOOK_SECRET"),
            stripe_api_base: vars
                .get("STRIPE_API_BASE")
                .unwrap_or_else(|| "https://api.stripe.com".into()),
            login_attempts_per_window: vars.parse_or("LOGIN_RATE_LIMIT", 10),
            bench_routes: vars.flag("BENCH_ROUTES", false),
        }
    }

    /// Settings for tests: the defaults (never the process environment, so a
    /// developer's exported `SMTP_URL` or Stripe keys stay out), the given
    /// database, no background jobs.
    pub fn for_tests(database_url: &str) -> Config {
        Config {
            database_url: Some(database_url.to_string()),
            run_jobs: false,
            pool_size: 8,
            session_key: Some(crate::tokens::random_token().into()),
            ..Config::from_lookup(|_| None)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn from_map(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn variables_are_read_through_the_lookup() {
        let config = from_map(&[
            ("SMTP_URL", "smtp://u:p@mail:587"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
            ("BIND", "0.0.0.0:9000"),
            ("RUN_JOBS", "off"),
            ("DB_POOL_SIZE", " "),
            ("LD_VAR_DIR", "/srv/ld"),
        ]);
        let smtp = config.smtp_url.as_ref().map(|s| s.expose_secret());
        assert_eq!(smtp, Some("smtp://u:p@mail:587"));
        assert_eq!(config.public_url, "http://0.0.0.0:9000");
        assert!(!config.run_jobs);
        assert_eq!(config.pool_size, 16, "a blank value is unset");
        assert_eq!(config.var_dir, Some(PathBuf::from("/srv/ld")));
        assert!(from_map(&[]).var_dir.is_none());
    }

    #[test]
    fn test_settings_are_the_defaults_whatever_the_environment() {
        // By construction: `for_tests` hands `from_lookup` a lookup that finds nothing.
        let config = Config::for_tests("postgres://db");
        assert!(config.smtp_url.is_none());
        assert!(config.stripe_secret_key.is_none());
        assert!(config.stripe_webhook_secret.is_none());
        assert_eq!(config.stripe_api_base, "https://api.stripe.com");
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert_eq!(config.database_url.as_deref(), Some("postgres://db"));
        assert!(!config.run_jobs);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let config = from_map(&[
            ("SMTP_URL", "smtp://user:hunter2@mail:587"),
            ("STRIPE_SECRET_KEY", "sk_live_51secretkey"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_topsecret"),
        ]);
        let shown = format!("{config:?} {:#?}", config.clone());
        for secret in ["hunter2", "sk_live_51secretkey", "whsec_topsecret"] {
            assert!(!shown.contains(secret), "{secret} printed: {shown}");
        }
        assert!(config.stripe_secret_key.is_some());
    }
}
