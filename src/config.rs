//! Settings read from the environment, with defaults that run the app locally.
//! Every variable is listed in README.md; nothing else configures the app.
//! Secrets are `SecretString`s, so `Debug` of a `Config` never shows them.
//! Configuration fails closed: a value that cannot be read, a partial Stripe
//! setup, insecure cookies behind HTTPS or a short `SESSION_KEY` stop the app
//! with the variable named.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::domain::seller::{self, Identity};
use crate::domain::vat::{Country, VatSetup};

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
    /// `SECURE_COOKIES` (default: on when `PUBLIC_URL` is https): Secure,
    /// `__Host-` cookies and HSTS. Off behind an https `PUBLIC_URL` is refused.
    pub secure_cookies: bool,
    /// `SESSION_IDLE_MINUTES` (default 120) and `SESSION_MAX_HOURS` (default 336 = 14 days).
    pub session_idle: Duration,
    pub session_lifetime: Duration,
    /// `SESSION_KEY`: secret the session cookie is encrypted with (at least
    /// 32 characters); unset, one is generated and kept in `LD_VAR_DIR/session.key`.
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
    /// `WEBHOOK_ALLOW_PRIVATE_TARGETS=1` (default off): webhooks may go to
    /// `http://` and to loopback, private and link-local addresses. For
    /// development and tests only, never in production (SSRF).
    pub webhook_allow_private_targets: bool,
    /// `MAILBOX_KEY`: secret the mailbox passwords are encrypted with (at
    /// least 32 characters, the same on every instance); unset, one is
    /// generated and kept in `LD_VAR_DIR/mailbox.key`.
    pub mailbox_key: Option<SecretString>,
    /// `MAILBOX_ALLOW_PRIVATE_HOSTS=1` (default off): mailbox SMTP/IMAP hosts
    /// may be loopback, private or link-local addresses. For development and
    /// tests only, like `WEBHOOK_ALLOW_PRIVATE_TARGETS`.
    pub mailbox_allow_private_hosts: bool,
    /// `VAT_SELLER_COUNTRY` (default `DE`, an EU member state) and
    /// `STRIPE_TAX=1` (default off: Stripe Tax computes the VAT of Stripe's invoices);
    /// `SELLER_NAME` (default `Lead Dashboard`), `SELLER_ADDRESS` (lines
    /// separated by newlines or `\n`; default none) and `SELLER_VAT_ID`
    /// (default none): the seller the invoices name.
    pub vat: VatSetup,
    /// `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges (e.g.
    /// `127.0.0.1, 10.0.0.0/8`) of the load balancers in front of the app.
    /// Only from those peers are `X-Forwarded-For` / `X-Forwarded-Proto`
    /// believed; unset, the TCP peer is the client (see `client_addr`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `SHUTDOWN_GRACE_SECONDS` (default 30): on SIGTERM, how long in-flight
    /// requests and the workers' current items get to finish.
    pub shutdown_grace: Duration,
    /// `METRICS_BIND` (e.g. `127.0.0.1:9090`): where `/metrics` is served, on
    /// a listener of its own; unset, no metrics are served.
    pub metrics_bind: Option<String>,
    /// `LOG_FORMAT=json` (default `text`): one JSON object per log line.
    pub log_json: bool,
}

/// A setting the app refuses to start with, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            variable,
            problem: problem.into(),
        }
    }
}

/// Variable lookup with blank values treated as unset. A value that is set
/// but cannot be read is an error, never a silent default.
struct Vars<F>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse_or<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                ConfigError::new(name, format!("cannot read {v:?}; expected a whole number"))
            }),
        }
    }

    /// A positive whole number (sizes, limits and durations of 0 make no sense).
    fn positive<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + Default,
    {
        let value = self.parse_or(name, default)?;
        if value > T::default() {
            Ok(value)
        } else {
            Err(ConfigError::new(name, "must be greater than 0"))
        }
    }

    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self
            .get(name)
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::new(
                name,
                format!("cannot read {other:?}; expected 1/0, true/false, yes/no or on/off"),
            )),
        }
    }

    fn secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(SecretString::from)
    }
}

/// The seller must be in the EU: the VAT rule (docs/billing.md) is the EU's.
/// Stripe Tax without Stripe is a partial Stripe setup, refused like the others.
fn vat_setup(
    vars: &Vars<impl Fn(&str) -> Option<String>>,
    stripe: bool,
) -> Result<VatSetup, ConfigError> {
    let mut setup = VatSetup {
        stripe_tax: vars.flag("STRIPE_TAX", false)?,
        ..VatSetup::default()
    };
    if setup.stripe_tax && !stripe {
        return Err(ConfigError::new(
            "STRIPE_TAX",
            "is on while STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are not set",
        ));
    }
    if let Some(code) = vars.get("VAT_SELLER_COUNTRY") {
        setup.seller = Country::parse(&code)
            .filter(|c| c.eu_rate().is_some())
            .ok_or_else(|| {
                ConfigError::new(
                    "VAT_SELLER_COUNTRY",
                    format!("cannot read {code:?}; expected an EU member state's code, like DE"),
                )
            })?;
    }
    setup.identity = seller_identity(vars, setup.seller)?;
    Ok(setup)
}

/// `SELLER_NAME`, `SELLER_ADDRESS` and `SELLER_VAT_ID`: who the invoices
/// name as the supplier. The VAT id, when set, must be one of the seller
/// country's (its prefix, Greece: EL): an invoice must not print a wrong one.
fn seller_identity(
    vars: &Vars<impl Fn(&str) -> Option<String>>,
    country: Country,
) -> Result<Identity, ConfigError> {
    let vat_id = vars
        .get("SELLER_VAT_ID")
        .map(|v| v.trim().to_ascii_uppercase());
    if let Some(problem) = vat_id
        .as_deref()
        .and_then(|v| seller::vat_id_problem(v, country))
    {
        return Err(ConfigError::new("SELLER_VAT_ID", problem));
    }
    Ok(Identity {
        name: vars
            .get("SELLER_NAME")
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| seller::DEFAULT_NAME.into()),
        address: vars
            .get("SELLER_ADDRESS")
            .map(|v| seller::address_lines(&v))
            .unwrap_or_default(),
        vat_id,
    })
}

/// `TRUSTED_PROXIES`: addresses (a bare address is a /32 or /128) or CIDR
/// ranges, separated by commas or blanks.
fn trusted_proxies(
    vars: &Vars<impl Fn(&str) -> Option<String>>,
) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let Some(list) = vars.get("TRUSTED_PROXIES") else {
        return Ok(Vec::new());
    };
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        "TRUSTED_PROXIES",
                        format!("cannot read {item:?}; expected an address or a CIDR range like 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

/// `LOG_FORMAT`: `text` (default) or `json`.
fn log_json(vars: &Vars<impl Fn(&str) -> Option<String>>) -> Result<bool, ConfigError> {
    match vars
        .get("LOG_FORMAT")
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("text") => Ok(false),
        Some("json") => Ok(true),
        Some(other) => Err(ConfigError::new(
            "LOG_FORMAT",
            format!("cannot read {other:?}; expected text or json"),
        )),
    }
}

/// `PUBLIC_URL` must be an absolute http(s) URL: links in mail are built on it.
fn public_url(value: String) -> Result<String, ConfigError> {
    match url::Url::parse(&value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(value),
        _ => Err(ConfigError::new(
            "PUBLIC_URL",
            format!("cannot read {value:?}; expected an absolute http:// or https:// URL"),
        )),
    }
}

/// Cookies must be Secure when the site is served over HTTPS. Unset, the
/// setting follows `PUBLIC_URL`; switched off explicitly behind HTTPS, the
/// app refuses to start rather than send session cookies in the clear.
fn secure_cookies(
    vars: &Vars<impl Fn(&str) -> Option<String>>,
    https: bool,
) -> Result<bool, ConfigError> {
    let secure = vars.flag("SECURE_COOKIES", https)?;
    if https && !secure {
        return Err(ConfigError::new(
            "SECURE_COOKIES",
            "is off while PUBLIC_URL is https://; set SECURE_COOKIES=1 (or unset it)",
        ));
    }
    Ok(secure)
}

/// Shortest secret key accepted (`SESSION_KEY`, `MAILBOX_KEY`): a short one
/// could be guessed offline from a cookie or a stolen database dump.
const SECRET_KEY_MIN_CHARS: usize = 32;

fn session_key(
    vars: &Vars<impl Fn(&str) -> Option<String>>,
) -> Result<Option<SecretString>, ConfigError> {
    secret_key(vars, "SESSION_KEY")
}

/// A secret key setting (`SESSION_KEY`, `MAILBOX_KEY`): when set it must be
/// long enough to be a real secret; unset, a random key is generated and
/// kept in the var dir (see `auth::session_key::key`, `mailboxes::secrets`).
fn secret_key(
    vars: &Vars<impl Fn(&str) -> Option<String>>,
    name: &'static str,
) -> Result<Option<SecretString>, ConfigError> {
    let Some(key) = vars.get(name) else {
        return Ok(None);
    };
    let chars = key.trim().chars().count();
    if chars < SECRET_KEY_MIN_CHARS {
        return Err(ConfigError::new(
            name,
            format!(
                "is {chars} characters long; use at least {SECRET_KEY_MIN_CHARS} random \
                 characters (e.g. `openssl rand -base64 48`), or unset it to have one generated"
            ),
        ));
    }
    Ok(Some(SecretString::from(key)))
}

/// Stripe is all or nothing: with only some of its variables set the app
/// would fall back to the local provider, which marks every charge paid.
fn stripe_settings(
    vars: &Vars<impl Fn(&str) -> Option<String>>,
) -> Result<(Option<SecretString>, Option<SecretString>), ConfigError> {
    let key = vars.secret("STRIPE_SECRET_KEY");
    let webhook = vars.secret("STRIPE_WEBHOOK_SECRET");
    if key.is_none() && webhook.is_none() && vars.get("STRIPE_API_BASE").is_none() {
        return Ok((None, None));
    }
    let missing = |variable| {
        ConfigError::new(
            variable,
            "is not set while other STRIPE_* variables are; set STRIPE_SECRET_KEY and \
             STRIPE_WEBHOOK_SECRET together, or none of the STRIPE_* variables",
        )
    };
    match (key, webhook) {
        (Some(key), Some(webhook)) => Ok((Some(key), Some(webhook))),
        (None, _) => Err(missing("STRIPE_SECRET_KEY")),
        (Some(_), None) => Err(missing("STRIPE_WEBHOOK_SECRET")),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads each variable through `lookup` (`None`: unset). Nothing set is
    /// a valid local configuration; a value that cannot be read, a partial
    /// Stripe setup, insecure cookies behind HTTPS or a short `SESSION_KEY`
    /// is an error.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let vars = Vars(lookup);
        let bind = vars.get("BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let public_url = public_url(
            vars.get("PUBLIC_URL")
                .unwrap_or_else(|| format!("http://{bind}")),
        )?;
        let https = public_url.to_ascii_lowercase().starts_with("https://");
        let (stripe_secret_key, stripe_webhook_secret) = stripe_settings(&vars)?;
        let vat = vat_setup(&vars, stripe_secret_key.is_some())?;
        Ok(Config {
            database_url: vars.get("DATABASE_URL"),
            var_dir: vars.get("LD_VAR_DIR").map(PathBuf::from),
            secure_cookies: secure_cookies(&vars, https)?,
            public_url,
            bind,
            pool_size: vars.positive("DB_POOL_SIZE", 16)?,
            pool_timeout: Duration::from_millis(vars.positive("DB_POOL_TIMEOUT_MS", 1500)?),
            session_idle: Duration::from_secs(60 * vars.positive("SESSION_IDLE_MINUTES", 120)?),
            session_lifetime: Duration::from_secs(3600 * vars.positive("SESSION_MAX_HOURS", 336)?),
            session_key: session_key(&vars)?,
            smtp_url: vars.secret("SMTP_URL"),
            mail_from: vars
                .get("MAIL_FROM")
                .unwrap_or_else(|| "Lead Dashboard <no-reply@localhost>".into()),
            max_upload_bytes: vars.positive("MAX_UPLOAD_BYTES", 5 * 1024 * 1024)?,
            run_jobs: vars.flag("RUN_JOBS", true)?,
            stripe_secret_key,
            stripe_webhook_secret,
            stripe_api_base: vars
                .get("STRIPE_API_BASE")
                .unwrap_or_else(|| "https://api.stripe.com".into()),
            login_attempts_per_window: vars.positive("LOGIN_RATE_LIMIT", 10)?,
            bench_routes: vars.flag("BENCH_ROUTES", false)?,
            webhook_allow_private_targets: vars.flag("WEBHOOK_ALLOW_PRIVATE_TARGETS", false)?,
            mailbox_key: secret_key(&vars, "MAILBOX_KEY")?,
            mailbox_allow_private_hosts: vars.flag("MAILBOX_ALLOW_PRIVATE_HOSTS", false)?,
            vat,
            trusted_proxies: trusted_proxies(&vars)?,
            shutdown_grace: Duration::from_secs(vars.parse_or("SHUTDOWN_GRACE_SECONDS", 30)?),
            metrics_bind: vars.get("METRICS_BIND"),
            log_json: log_json(&vars)?,
        })
    }

    /// Settings for tests: the defaults (never the process environment, so a
    /// developer's exported `SMTP_URL` or Stripe keys stay out), the given
    /// database, no background jobs.
    pub fn for_tests(database_url: &str) -> Config {
        let defaults =
            Config::from_lookup(|_| None).expect("the defaults are a valid configuration");
        Config {
            database_url: Some(database_url.to_string()),
            run_jobs: false,
            pool_size: 8,
            // Tests fire bursts of 50+ concurrent requests at a pool of 8 on a
            // shared, loaded machine, where requests serialized on one usage
            // row can wait past the production default (1.5 s) and get a 503.
            // The outage tests set their own, shorter timeouts.
            pool_timeout: Duration::from_secs(5),
            session_key: Some(crate::tokens::random_token().into()),
            mailbox_key: Some(crate::tokens::random_token().into()),
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn try_from_map(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn from_map(vars: &[(&str, &str)]) -> Config {
        try_from_map(vars).expect("a valid configuration")
    }

    /// The variable the refusal names.
    fn refused(vars: &[(&str, &str)]) -> &'static str {
        match try_from_map(vars) {
            Ok(_) => panic!("{vars:?} was accepted"),
            Err(e) => {
                assert!(e.to_string().starts_with(e.variable), "{e}");
                e.variable
            }
        }
    }

    #[test]
    fn the_vat_seller_is_an_eu_member_state() {
        assert_eq!(from_map(&[]).vat.seller.as_str(), "DE");
        assert!(!from_map(&[]).vat.stripe_tax);
        let stripe = [
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ];
        let set = from_map(&[
            stripe[0],
            stripe[1],
            ("VAT_SELLER_COUNTRY", "at"),
            ("STRIPE_TAX", "1"),
        ]);
        assert_eq!((set.vat.seller.as_str(), set.vat.stripe_tax), ("AT", true));
        assert_eq!(
            refused(&[("STRIPE_TAX", "1")]),
            "STRIPE_TAX",
            "Stripe Tax without Stripe"
        );
        assert_eq!(
            refused(&[("VAT_SELLER_COUNTRY", "US")]),
            "VAT_SELLER_COUNTRY"
        );
        assert_eq!(
            refused(&[("VAT_SELLER_COUNTRY", "Germany")]),
            "VAT_SELLER_COUNTRY"
        );
        assert_eq!(refused(&[("STRIPE_TAX", "maybe")]), "STRIPE_TAX");
    }

    #[test]
    fn the_seller_is_named_with_address_and_vat_id() {
        let defaults = from_map(&[]).vat.identity;
        assert_eq!(defaults.name, "Lead Dashboard");
        assert!(defaults.address.is_empty() && defaults.vat_id.is_none());
        let set = from_map(&[
            ("SELLER_NAME", " Acme Outreach GmbH "),
            ("SELLER_ADDRESS", "Musterstraße 1\\n10115 Berlin"),
            ("SELLER_VAT_ID", "de123456789"),
        ])
        .vat;
        assert_eq!(set.identity.name, "Acme Outreach GmbH");
        assert_eq!(set.identity.address, ["Musterstraße 1", "10115 Berlin"]);
        assert_eq!(set.identity.vat_id.as_deref(), Some("DE123456789"));
        let lines = from_map(&[("SELLER_ADDRESS", "Rue 1\n75001 Paris\n")]).vat;
        assert_eq!(
            lines.identity.address,
            ["Rue 1", "75001 Paris"],
            "real newlines"
        );
        let snapshot = set.seller_snapshot();
        assert_eq!(
            snapshot.country.as_deref(),
            Some("DE"),
            "the country is part of it"
        );
    }

    #[test]
    fn a_seller_vat_id_must_be_the_seller_countrys() {
        let greece = ("VAT_SELLER_COUNTRY", "GR");
        let el = from_map(&[greece, ("SELLER_VAT_ID", "EL123456789")]).vat;
        assert_eq!(el.identity.vat_id.as_deref(), Some("EL123456789"));
        assert_eq!(
            refused(&[greece, ("SELLER_VAT_ID", "GR123456789")]),
            "SELLER_VAT_ID",
            "Greece's VAT ids start with EL"
        );
        for bad in [
            "FR12345678901",
            "DE1",
            "DE1234567890123",
            "DE 123 456 789",
            "123456789",
        ] {
            assert_eq!(refused(&[("SELLER_VAT_ID", bad)]), "SELLER_VAT_ID", "{bad}");
        }
        let e = try_from_map(&[("SELLER_VAT_ID", "FR1")]).unwrap_err();
        assert!(e.problem.contains("DE followed by 2 to 12"), "{e}");
        let at = from_map(&[
            ("VAT_SELLER_COUNTRY", "AT"),
            ("SELLER_VAT_ID", "ATU12345678"),
        ]);
        assert_eq!(at.vat.identity.vat_id.as_deref(), Some("ATU12345678"));
        assert!(from_map(&[("SELLER_VAT_ID", " ")])
            .vat
            .identity
            .vat_id
            .is_none());
    }

    #[test]
    fn nothing_set_is_a_valid_local_configuration() {
        let config = from_map(&[]);
        assert!(!config.secure_cookies);
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert!(config.stripe_secret_key.is_none());
    }

    #[test]
    fn half_configured_stripe_refuses_to_start() {
        let key = ("STRIPE_SECRET_KEY", "sk_live_x");
        let webhook = ("STRIPE_WEBHOOK_SECRET", "whsec_x");
        let base = ("STRIPE_API_BASE", "https://stripe.internal");
        assert_eq!(refused(&[key]), "STRIPE_WEBHOOK_SECRET");
        assert_eq!(refused(&[webhook]), "STRIPE_SECRET_KEY");
        assert_eq!(refused(&[base]), "STRIPE_SECRET_KEY");
        assert_eq!(refused(&[key, base]), "STRIPE_WEBHOOK_SECRET");
        let full = from_map(&[key, webhook, base]);
        assert!(full.stripe_secret_key.is_some() && full.stripe_webhook_secret.is_some());
        assert_eq!(full.stripe_api_base, "https://stripe.internal");
    }

    #[test]
    fn unparsable_settings_refuse_to_start() {
        for (name, value) in [
            ("DB_POOL_SIZE", "sixteen"),
            ("DB_POOL_SIZE", "0"),
            ("DB_POOL_TIMEOUT_MS", "-5"),
            ("SESSION_IDLE_MINUTES", "2h"),
            ("SESSION_MAX_HOURS", "1e3"),
            ("MAX_UPLOAD_BYTES", "5MB"),
            ("LOGIN_RATE_LIMIT", "ten"),
            ("RUN_JOBS", "maybe"),
            ("BENCH_ROUTES", "2"),
            ("SECURE_COOKIES", "si"),
            ("PUBLIC_URL", "example.com"),
            ("PUBLIC_URL", "ftp://example.com"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TRUSTED_PROXIES", "proxy.internal"),
            ("SHUTDOWN_GRACE_SECONDS", "30s"),
            ("LOG_FORMAT", "xml"),
        ] {
            assert_eq!(refused(&[(name, value)]), name, "{name}={value}");
        }
        assert_eq!(from_map(&[("DB_POOL_SIZE", " 4 ")]).pool_size, 4);
        assert!(!from_map(&[("RUN_JOBS", "OFF")]).run_jobs);
    }

    #[test]
    fn production_settings_are_read() {
        let defaults = from_map(&[]);
        assert!(
            defaults.trusted_proxies.is_empty(),
            "no proxy is trusted unless named"
        );
        assert_eq!(defaults.shutdown_grace, Duration::from_secs(30));
        assert!(defaults.metrics_bind.is_none() && !defaults.log_json);
        let set = from_map(&[
            ("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ::1"),
            ("SHUTDOWN_GRACE_SECONDS", "5"),
            ("METRICS_BIND", "127.0.0.1:9090"),
            ("LOG_FORMAT", "JSON"),
        ]);
        let shown: Vec<String> = set.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
        assert_eq!(set.shutdown_grace, Duration::from_secs(5));
        assert_eq!(set.metrics_bind.as_deref(), Some("127.0.0.1:9090"));
        assert!(set.log_json);
    }

    #[test]
    fn insecure_cookies_behind_https_refuse_to_start() {
        let https = ("PUBLIC_URL", "https://leads.example.com");
        assert_eq!(refused(&[https, ("SECURE_COOKIES", "0")]), "SECURE_COOKIES");
        assert_eq!(
            refused(&[https, ("SECURE_COOKIES", "off")]),
            "SECURE_COOKIES"
        );
        assert!(
            from_map(&[https]).secure_cookies,
            "unset follows PUBLIC_URL"
        );
        assert!(from_map(&[https, ("SECURE_COOKIES", "1")]).secure_cookies);
        let http = ("PUBLIC_URL", "http://127.0.0.1:8080");
        assert!(!from_map(&[http]).secure_cookies);
        assert!(from_map(&[http, ("SECURE_COOKIES", "1")]).secure_cookies);
    }

    #[test]
    fn a_short_session_key_refuses_to_start() {
        for short in [
            "secret",
            "changeme",
            &"k".repeat(31),
            "  short-but-padded-with-blanks  ",
        ] {
            assert_eq!(
                refused(&[("SESSION_KEY", short)]),
                "SESSION_KEY",
                "{short:?}"
            );
        }
        let e = try_from_map(&[("SESSION_KEY", "hunter2")]).unwrap_err();
        assert!(e.problem.contains("at least 32"), "{e}");
        assert!(
            !e.to_string().contains("hunter2"),
            "the key is not echoed: {e}"
        );
        let long = "x".repeat(32);
        let config = from_map(&[("SESSION_KEY", long.as_str())]);
        let key = config.session_key.as_ref().map(|k| k.expose_secret());
        assert_eq!(key, Some(long.as_str()));
        assert!(
            from_map(&[("SESSION_KEY", " ")]).session_key.is_none(),
            "blank is unset"
        );
        assert!(from_map(&[]).session_key.is_none());
    }

    #[test]
    fn variables_are_read_through_the_lookup() {
        let config = from_map(&[
            ("SMTP_URL", "smtp://u:p@mail:587"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
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
