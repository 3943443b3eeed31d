//! The user's sessions: where they are signed in (browser and system in
//! words, address, sign-in and last activity, in one cell that wraps on
//! phones), the current one marked, a button to end each other one and one
//! to end all others. `#sessions-card` is the fragment every form swaps.

use chrono::{DateTime, Utc};
use maud::{html, Markup};

use crate::db::sessions::SessionRow;
use crate::domain::user_agent;
use crate::ids::SessionId;
use crate::views::account::tabs;
use crate::views::components::csrf;
use crate::views::format::machine_time;

pub const CARD_ID: &str = "sessions-card";

pub fn body(rows: &[SessionRow], current: SessionId, token: &str, now: DateTime<Utc>) -> Markup {
    html! {
        div.page-head {
            div { h1 { "Your account" } p { "Where you are signed in." } }
        }
        (tabs("/account/sessions"))
        (card(rows, current, token, now))
    }
}

pub fn card(rows: &[SessionRow], current: SessionId, token: &str, now: DateTime<Utc>) -> Markup {
    let others = rows.iter().filter(|r| r.id != current).count();
    html! {
        section.card.flush #(CARD_ID) aria-labelledby="sessions-title" {
            div.card-head {
                h2 #sessions-title { "Active sessions" }
                @if others > 0 {
                    form.inline-form method="post" action="/account/sessions/end-others"
                        hx-post="/account/sessions/end-others" hx-target={ "#" (CARD_ID) } hx-swap="outerHTML" {
                        (csrf(token))
                        button.btn.btn-sm.btn-danger-outline type="submit"
                            data-confirm="Sign out every other session?" { "Sign out all other sessions" }
                    }
                } @else {
                    span.small.muted { "You are signed in on this device only." }
                }
            }
            div.table-wrap {
                table.data {
                    thead { tr { th { "Session" } th { span.sr-only { "Action" } } } }
                    tbody { @for row in rows { (session_row(row, row.id == current, token, now)) } }
                }
            }
            div.card-foot {
                p.small.muted {
                    "Sessions end by themselves after a period without activity and some time after sign-in. "
                    "Changing your password signs out every other session."
                }
            }
        }
    }
}

fn session_row(row: &SessionRow, is_current: bool, token: &str, now: DateTime<Utc>) -> Markup {
    let action = format!("/account/sessions/{}/end", row.id);
    html! {
        tr.is-selected[is_current] {
            td.wrap {
                strong { (user_agent::describe(&row.user_agent)) }
                @if is_current { " " span.badge.badge-green { "This device" } }
                span.cell-sub { "Address " span.mono { (row.ip) } }
                span.cell-sub {
                    "Signed in " (when(row.created_at, now))
                    " · last active "
                    @if is_current { "now" } @else { (when(row.last_seen_at, now)) }
                }
            }
            td.actions {
                @if !is_current {
                    form.inline-form method="post" action=(action) hx-post=(action)
                        hx-target={ "#" (CARD_ID) } hx-swap="outerHTML" {
                        (csrf(token))
                        button.btn.btn-sm type="submit" { "Sign out" }
                    }
                }
            }
        }
    }
}

/// The card after a change, with the confirmation swapped into `#flash`.
pub fn card_with_flash(
    rows: &[SessionRow],
    current: SessionId,
    token: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Markup {
    html! {
        (card(rows, current, token, now))
        div #flash aria-live="polite" hx-swap-oob="true" { div.flash.flash-success role="status" { (text) } }
    }
}

/// "5 minutes ago" with the exact UTC time in `datetime` and `title`.
fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    let exact = at.format("%-d %b %Y, %H:%M UTC").to_string();
    html! { time datetime=(machine_time(at)) title=(exact) { (ago(at, now)) } }
}

/// A coarse relative time in words.
pub fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds().max(0);
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => plural(secs / 60, "minute"),
        3600..=86_399 => plural(secs / 3600, "hour"),
        _ => plural(secs / 86_400, "day"),
    }
}

#[cfg(test)]
mod tests {
    use super::ago;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn relative_times() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 30).unwrap();
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now - Duration::minutes(1), now), "1 minute ago");
        assert_eq!(ago(now - Duration::minutes(59), now), "59 minutes ago");
        assert_eq!(ago(now - Duration::hours(3), now), "3 hours ago");
        assert_eq!(ago(now - Duration::days(2), now), "2 days ago");
        assert_eq!(ago(now + Duration::minutes(5), now), "just now");
    }
}
