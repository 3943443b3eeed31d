//! Dates, relative times and badges every view shows the same way. One
//! argument order throughout: the instant first, then `now` where the text is
//! relative, then the time zone the reader sees it in.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};

use crate::domain::roles::Role;
use crate::domain::subscription::Status;

/// "26 Nov 2026" in `tz`.
/// The value of a `<time datetime>`: RFC 3339 in UTC to the second (HTML
/// allows at most three digits of a fraction; the stored microseconds would
/// not validate).
pub fn machine_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn date(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%-d %b %Y").to_string()
}

/// "26 Nov 2026, 14:05" in `tz`.
pub fn date_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%-d %b %Y, %H:%M").to_string()
}

/// "1 December 2026".
pub fn long_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// An instant as a local day in `tz`: "1 December 2026".
pub fn local_date(at: DateTime<Utc>, tz: Tz) -> String {
    long_date(at.with_timezone(&tz).date_naive())
}

/// Both directions, coarse: "in 6 days", "in 5 hours", "2 days ago".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    let (n, unit) = match secs.abs() {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3_600 => (s / 3_600, "hour"),
        s => ((s / 60).max(1), "minute"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if secs >= 0 {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// Past only, short, by local day in `tz`: "just now", "12 min ago",
/// "3 h ago", "Yesterday", "3 Nov", "3 Nov 2025".
pub fn ago(at: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> String {
    let secs = (now - at).num_seconds().max(0);
    let (local, today) = (
        at.with_timezone(&tz).date_naive(),
        now.with_timezone(&tz).date_naive(),
    );
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        _ if local == today => format!("{} h ago", secs / 3600),
        _ if today.pred_opt() == Some(local) => "Yesterday".into(),
        _ if local.year() == today.year() => local.format("%-d %b").to_string(),
        _ => local.format("%-d %b %Y").to_string(),
    }
}

/// A member's role as a badge.
pub fn role_badge(role: Role) -> Markup {
    let class = match role {
        Role::Owner => "badge badge-brand",
        Role::Admin => "badge badge-blue",
        Role::Member | Role::Viewer => "badge badge-gray",
    };
    html! { span class=(class) { (role.label()) } }
}

/// A subscription status as a coloured badge.
pub fn status_badge(status: Status) -> Markup {
    let colour = match status {
        Status::Trial => "badge-blue",
        Status::Active => "badge-green",
        Status::PastDue => "badge-amber",
        Status::Canceled => "badge-gray",
        Status::Expired => "badge-red",
    };
    html! { span.badge.dot.(colour) { (status.label()) } }
}
