//! The command line: `lead-dashboard` serves; subcommands run maintenance.
//! `org …` commands act for an organization named by its slug, as the
//! operator ("system" in the audit log); their output is returned as text.

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use diesel::PgConnection;

use crate::db::usage::{effective_limits, org_and_subscription, used};
use crate::db::{overrides, plans, SystemAccess, Tenant};
use crate::domain::plans::{format_limit, Limit, LimitKind};
use crate::domain::subscription::{local_date_start_utc, Status};

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
    /// Inspect an organization or override its limits.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Fill the database with organizations, leads and usage history (for benchmarks).
    Seed(SeedArgs),
    /// Read the inboxes whose turn has come, once, as the inbox job's pass
    /// does, and print how many mailboxes were read (for benchmarks).
    InboxPass,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Override one limit of an organization (a negotiated deal).
    SetLimit {
        /// The organization's slug.
        slug: String,
        /// leads_per_month, users, messages_per_day, templates or sequences.
        limit: String,
        /// A whole number, or "unlimited".
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// Last day the override applies (YYYY-MM-DD, in the organization's time zone).
        #[arg(long)]
        until: Option<String>,
    },
    /// Remove an override: the plan's limit applies again.
    ClearLimit { slug: String, limit: String },
    /// Show plan, status, limits (with overrides) and usage.
    Show { slug: String },
}

#[derive(Debug, Clone, Copy, Args)]
pub struct SeedArgs {
    /// Organizations to create (each with one owner).
    #[arg(long, default_value_t = 10)]
    pub orgs: usize,
    /// Leads per organization.
    #[arg(long, default_value_t = 100)]
    pub leads_per_org: usize,
    /// Usage records of the measured (first) organization, spread over the last year.
    #[arg(long, default_value_t = 1000)]
    pub usage_records: usize,
}

/// Runs an `org` command; the text to print, or a message for the operator.
pub fn run_org(
    conn: &mut PgConnection,
    command: &OrgCommand,
    now: DateTime<Utc>,
) -> Result<String, String> {
    match command {
        OrgCommand::SetLimit {
            slug,
            limit,
            value,
            until,
        } => {
            let tenant = tenant_for(conn, slug)?;
            let kind = parse_limit(limit)?;
            let value = parse_value(value)?;
            let ends_at = match until {
                Some(date) => Some(parse_until(conn, &tenant, date, now)?),
                None => None,
            };
            overrides::set(conn, &tenant, kind, value, ends_at, now).map_err(db_error)?;
            let until = ends_at.map(|t| format!(" until {t}")).unwrap_or_default();
            Ok(format!(
                "{slug}: {} = {}{until}\n",
                kind.as_str(),
                format_limit(value)
            ))
        }
        OrgCommand::ClearLimit { slug, limit } => {
            let tenant = tenant_for(conn, slug)?;
            let kind = parse_limit(limit)?;
            let removed = overrides::clear(conn, &tenant, kind).map_err(db_error)?;
            Ok(if removed {
                format!("{slug}: {} back to the plan's limit\n", kind.as_str())
            } else {
                format!("{slug}: {} had no override\n", kind.as_str())
            })
        }
        OrgCommand::Show { slug } => {
            let tenant = tenant_for(conn, slug)?;
            show(conn, &tenant, now).map_err(db_error)
        }
    }
}

fn db_error(e: diesel::result::Error) -> String {
    format!("database error: {e}")
}

fn tenant_for(conn: &mut PgConnection, slug: &str) -> Result<Tenant, String> {
    overrides::org_by_slug(conn, slug)
        .map_err(db_error)?
        .map(|org| SystemAccess::grant_at_startup().tenant(org))
        .ok_or_else(|| format!("no organization with slug {slug:?}"))
}

fn parse_limit(s: &str) -> Result<LimitKind, String> {
    s.parse().map_err(|_| {
        let names: Vec<_> = LimitKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown limit {s:?}; use one of {}", names.join(", "))
    })
}

/// "unlimited" or a whole number ≥ 0.
pub fn parse_value(s: &str) -> Result<Limit, String> {
    if s.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        _ => Err(format!(
            "invalid value {s:?}; use a whole number or \"unlimited\""
        )),
    }
}

/// The override applies through the whole of `date` in the organization's
/// time zone: it ends at the start of the next local day.
fn parse_until(
    conn: &mut PgConnection,
    tenant: &Tenant,
    date: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| format!("invalid date {date:?}; use YYYY-MM-DD"))?;
    let (org, _) = org_and_subscription(conn, tenant).map_err(db_error)?;
    let next = day
        .succ_opt()
        .ok_or_else(|| format!("invalid date {date:?}"))?;
    let ends = local_date_start_utc(org.tz(), next);
    if ends <= now {
        return Err(format!("{date} is in the past"));
    }
    Ok(ends)
}

fn show(conn: &mut PgConnection, tenant: &Tenant, now: DateTime<Utc>) -> QueryOut {
    let (org, sub) = org_and_subscription(conn, tenant)?;
    let effective = effective_limits(conn, tenant, &sub, now)?;
    let state = plans::state_of(&sub);
    let mut out = format!("{} ({})\n", org.name, org.slug);
    let line = |label: &str, value: String| format!("  {label:<16}{value}\n");
    out += &line("time zone", org.time_zone.to_string());
    out += &line(
        "plan",
        format!(
            "{} · {} · billed {}",
            state.plan.name(),
            state.status.label(),
            state.interval.label().to_lowercase()
        ),
    );
    out += &line("effective plan", effective.plan.name().to_string());
    if let Some(ends) = sub.trial_ends_at.filter(|_| state.status == Status::Trial) {
        out += &line("trial ends", ends.to_rfc3339());
    }
    out += &line(
        "period",
        format!(
            "{} – {}",
            sub.current_period_start.to_rfc3339(),
            sub.current_period_end.to_rfc3339()
        ),
    );
    if let Some(p) = state.scheduled_plan {
        out += &line("scheduled", format!("{} at period end", p.name()));
    }
    if state.cancel_at_period_end {
        out += &line("scheduled", "cancels at period end".into());
    }
    out += &line(
        "payment method",
        if sub.has_payment_method {
            "on file"
        } else {
            "none"
        }
        .into(),
    );
    out += &format!(
        "\n  {:<18}{:>10}  {:>10}  source\n",
        "limit", "used", "limit"
    );
    for kind in LimitKind::ALL {
        let used = used(conn, tenant, kind, now)?;
        let source = match effective.overrides.iter().find(|o| o.kind == kind) {
            Some(o) => match o.ends_at {
                Some(t) => format!("override until {}", t.to_rfc3339()),
                None => "override".into(),
            },
            None => format!("{} plan", effective.plan.name()),
        };
        out += &format!(
            "  {:<18}{:>10}  {:>10}  {source}\n",
            kind.as_str(),
            format_limit(Some(used)),
            format_limit(effective.limits.get(kind))
        );
    }
    Ok(out)
}

type QueryOut = Result<String, diesel::result::Error>;
