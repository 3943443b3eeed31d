//! The usage & plan page: plan and status, the five meters (a fragment that
//! refreshes itself on `usage-changed` and every minute), the plan's features
//! and the 30-day history chart. Dates and periods are the organization's.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::meters::{DayUsage, Meter, UsageSnapshot};
use crate::db::usage::ActiveOverride;
use crate::domain::billing::Interval;
use crate::domain::plans::{
    format_euros, format_limit, percent, usage_level, LimitKind, Plan, UsageLevel,
};
use crate::domain::subscription::Status;
use crate::views::charts::{self, DayPoint};
use crate::views::components::csrf;
use crate::views::format::{local_date, long_date, status_badge};

/// Everything the page shows.
pub struct UsagePage<'a> {
    pub snapshot: &'a UsageSnapshot,
    pub history: &'a [DayUsage],
    pub now: DateTime<Utc>,
    /// OWNER: may change plan and add a payment method.
    pub can_manage_billing: bool,
    /// OWNER and ADMIN: see the payment details.
    pub can_view_billing: bool,
    pub csrf: &'a str,
}

pub fn body(p: &UsagePage) -> Markup {
    let s = p.snapshot;
    let sub = &s.subscription;
    html! {
        div.page-head {
            div {
                h1 { "Usage & plan" }
                p { (s.organization.name) " · " (s.effective.plan.name()) " plan " (status_badge(sub.status)) }
            }
            div.actions { a.btn.btn-primary href="/plans" { "Compare plans" } }
        }
        (trial_banner(p))
        div.grid-2 {
            section.card aria-labelledby="meters-title" {
                div.card-head {
                    h2 #meters-title { "Usage" }
                    span.muted.small { "Updates by itself" }
                }
                (meters(s, p.now))
            }
            (plan_card(p))
        }
        (history_card(p.history, s.organization.tz(), s.effective.plan.spec().features.api_access))
    }
}

/// The id of the meters fragment (the `hx-get` swaps it whole).
pub const METERS_ID: &str = "meters";

/// The five meters; refreshes itself when the page hears `usage-changed` and every 60 s.
pub fn meters(s: &UsageSnapshot, now: DateTime<Utc>) -> Markup {
    let tz = s.organization.tz();
    html! {
        div.meters #(METERS_ID) hx-get="/usage/meters" hx-trigger="usage-changed from:body, every 60s"
            hx-swap="outerHTML" {
            @for m in &s.meters {
                @let o = s.effective.overrides.iter().find(|o| o.kind == m.kind);
                (meter(m, o, tz, now))
            }
            @if s.effective.plan.spec().features.api_access || s.api_calls_today > 0 {
                (api_meter(s.api_calls_today))
            }
        }
    }
}

/// API calls today: counted, not limited (the API is rate-limited per minute).
fn api_meter(calls: i64) -> Markup {
    html! {
        div.meter.meter-count data-limit="api_calls" {
            div.meter-head {
                span.meter-label #meter-api_calls { "API calls today" }
                span.meter-value { strong { (format_limit(Some(calls))) } }
            }
            p.meter-sub { "Resets at midnight · no daily limit; " a href="/settings/api-keys" { "API keys" } }
        }
    }
}

fn meter(m: &Meter, o: Option<&ActiveOverride>, tz: Tz, now: DateTime<Utc>) -> Markup {
    let level = usage_level(m.used, m.limit);
    let modifier = match (m.limit, level) {
        (None, _) => "is-unlimited",
        (_, UsageLevel::Full) => "is-full",
        (_, UsageLevel::Warning) => "is-warning",
        (_, UsageLevel::Ok) => "",
    };
    let label_id = format!("meter-{}", m.kind.as_str());
    let (value, max) = match m.limit {
        None => (0, 1),
        Some(l) if l <= 0 => (1, 1),
        Some(l) => (m.used.clamp(0, l), l),
    };
    let pct = percent(m.used, m.limit);
    html! {
        div.meter.(modifier) data-limit=(m.kind.as_str()) {
            div.meter-head {
                span.meter-label #(label_id) { (m.kind.label()) }
                span.meter-value { strong { (format_limit(Some(m.used))) } " / " (format_limit(m.limit)) }
            }
            progress.meter-bar value=(value) max=(max) aria-labelledby=(label_id) {
                @match pct { Some(p) => { (p) "%" } None => "Unlimited" }
            }
            p.meter-sub {
                @match (level, pct) {
                    (UsageLevel::Full, Some(_)) => { "Limit reached · " a href="/plans" { "upgrade for more" } " · " }
                    (UsageLevel::Warning, Some(p)) => { (p) "% used · " }
                    _ => {}
                }
                (meter_note(m.kind, tz, now))
                @if let Some(o) = o { " · " (override_note(o, tz)) }
            }
        }
    }
}

/// What the meter counts and when it resets.
fn meter_note(kind: LimitKind, tz: Tz, now: DateTime<Utc>) -> String {
    match kind {
        LimitKind::LeadsPerMonth => format!("resets on {}", next_month_start(tz, now)),
        LimitKind::MessagesPerDay => format!("resets at midnight ({tz})"),
        LimitKind::Users => "members and pending invitations".into(),
        LimitKind::Templates => "your own; shared templates are free".into(),
        LimitKind::Sequences => "your own; shared sequences are free".into(),
    }
}

fn override_note(o: &ActiveOverride, tz: Tz) -> String {
    match o.ends_at {
        Some(end) => format!("negotiated limit until {}", last_day(end, tz)),
        None => "negotiated limit".into(),
    }
}

/// The last local day before `end` (an override ending at local midnight).
fn last_day(end: DateTime<Utc>, tz: Tz) -> String {
    let day = (end - chrono::Duration::seconds(1))
        .with_timezone(&tz)
        .date_naive();
    long_date(day)
}

fn next_month_start(tz: Tz, now: DateTime<Utc>) -> String {
    let start = crate::domain::subscription::month_start(tz, now);
    let next = start
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(start);
    next.format("%-d %B").to_string()
}

fn trial_banner(p: &UsagePage) -> Markup {
    let sub = &p.snapshot.subscription;
    let days = sub.trial_days_left(p.now);
    if sub.status != Status::Trial || days > 3 {
        return html! {};
    }
    let tz = p.snapshot.organization.tz();
    let ends = sub
        .trial_ends_at
        .map(|t| local_date(t, tz))
        .unwrap_or_default();
    let plan = sub.plan;
    let needs_method = plan.is_paid() && !sub.has_payment_method;
    html! {
        div.banner.banner-warn role="status" #trial-ending {
            div {
                strong { "Your trial ends in " (days) (if days == 1 { " day" } else { " days" }) " (" (ends) ")." }
                " "
                @if !plan.is_paid() {
                    "You then stay on Free. Choose a plan to keep more."
                } @else if needs_method {
                    "Add a payment method to keep " (plan.name()) "; without one the subscription expires and the Free limits apply."
                } @else {
                    (plan.name()) " then continues at " (price_line(plan, sub.billing_interval)) "."
                }
            }
            div.banner-actions {
                a.btn.btn-sm href="/plans" { "Compare plans" }
                @if needs_method && p.can_manage_billing {
                    form method="post" action="/plans/payment-method" {
                        (csrf(p.csrf))
                        button.btn.btn-sm.btn-primary type="submit" { "Add payment method" }
                    }
                }
            }
        }
    }
}

/// "€49 / month", "€490 / year", "Free".
pub fn price_line(plan: Plan, interval: Interval) -> String {
    let cents = interval.price_cents(plan);
    if cents == 0 {
        return "Free of charge".into();
    }
    let per = match interval {
        Interval::Monthly => "month",
        Interval::Yearly => "year",
    };
    format!("{} / {per}", format_euros(cents))
}

fn plan_card(p: &UsagePage) -> Markup {
    let s = p.snapshot;
    let sub = &s.subscription;
    let tz = s.organization.tz();
    let plan = sub.plan;
    let effective = s.effective.plan;
    let status = sub.status;
    html! {
        section.card aria-labelledby="plan-title" {
            div.card-head {
                h2 #plan-title { "Plan" }
                a href="/plans" { "Change plan" }
            }
            div.stack-lg {
            dl.kv {
                dt { "Plan" }
                dd { (plan.name()) " " (status_badge(status)) }
                @if effective != plan {
                    dt { "Limits in force" }
                    dd { (effective.name()) " (the subscription is " (status.label().to_lowercase()) ")" }
                }
                @if status == Status::Trial {
                    dt { "Trial" }
                    dd {
                        @let days = sub.trial_days_left(p.now);
                        (days) (if days == 1 { " day" } else { " days" }) " left"
                        @if let Some(t) = sub.trial_ends_at { span.muted { " · ends " (local_date(t, tz)) } }
                    }
                }
                dt { "Price" }
                dd { (price_line(plan, sub.billing_interval)) }
                (period_row(p))
                @if p.can_view_billing {
                    dt { "Payment method" }
                    dd { @if sub.has_payment_method { "On file" } @else { "None" } }
                }
            }
            h3 { "Included in " (effective.name()) }
            (feature_list(effective))
            }
        }
    }
}

fn period_row(p: &UsagePage) -> Markup {
    let sub = &p.snapshot.subscription;
    let tz = p.snapshot.organization.tz();
    let end = local_date(sub.current_period_end, tz);
    let scheduled: Option<Plan> = sub.scheduled_plan;
    html! {
        @match sub.status {
            Status::Active | Status::PastDue if sub.cancel_at_period_end => {
                dt { "Ends" } dd { (end) span.muted { " · then the Free limits apply" } }
            }
            Status::Active | Status::PastDue if scheduled.is_some() => {
                dt { "Changes" } dd { "to " (scheduled.map(Plan::name).unwrap_or("")) " on " (end) }
            }
            Status::Active | Status::PastDue if sub.plan.is_paid() => {
                dt { "Renews" } dd { (end) }
            }
            _ => {}
        }
    }
}

/// The plan's features with ✓ / ✕ (`li.yes` / `li.no`).
pub fn feature_list(plan: Plan) -> Markup {
    html! {
        ul.features {
            @for (label, has) in plan.spec().features.list() {
                @if has { li.yes { (label) } }
                @else { li.no { span.sr-only { "Not included: " } (label) } }
            }
        }
    }
}

/// Leads and messages per day; API calls below them in a chart of their own
/// (thousands of calls would flatten the other two), when the plan has API
/// access (`api`) or calls were made.
fn history_card(history: &[DayUsage], tz: Tz, api: bool) -> Markup {
    let days: Vec<DayPoint> = history
        .iter()
        .map(|d| DayPoint {
            date: d.date,
            bars: d.leads,
            line: d.messages,
        })
        .collect();
    let label = history_label(&days, tz);
    html! {
        section.card aria-labelledby="history-title" {
            div.card-head {
                h2 #history-title { "Last 30 days" }
                span.muted.small { "Days in " (tz) }
            }
            figure.chart {
                (charts::bars_and_line(&days, "leads", "messages", &label))
                ul.chart-legend { li { "Leads created" } li.alt { "Messages sent" } }
            }
            @if api || history.iter().any(|d| d.api_calls > 0) { (api_chart(history)) }
        }
    }
}

fn api_chart(history: &[DayUsage]) -> Markup {
    let days: Vec<DayPoint> = history
        .iter()
        .map(|d| DayPoint {
            date: d.date,
            bars: d.api_calls,
            line: 0,
        })
        .collect();
    let label = format!(
        "API calls per day: {}.",
        charts::describe_series(&days, "API calls", |d| d.bars)
    );
    html! {
        figure.chart {
            (charts::bars(&days, "API calls", &label))
            ul.chart-legend { li { "API calls" } }
        }
    }
}

fn history_label(days: &[DayPoint], tz: Tz) -> String {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return "No usage yet.".into();
    };
    let year = if first.date.year() == last.date.year() {
        ""
    } else {
        " %Y"
    };
    format!(
        "Leads created (bars) and messages sent (line) per day, {} to {} ({tz}): {}; {}.",
        first.date.format(&format!("%-d %B{year}")),
        last.date.format("%-d %B %Y"),
        charts::describe_series(days, "leads", |d| d.bars),
        charts::describe_series(days, "messages", |d| d.line),
    )
}
