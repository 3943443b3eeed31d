//! The notices page: the signed-in user's notices in the current organization,
//! newest first, with "mark read" per notice and for all. Marking answers the
//! changed list or row plus the bell (out-of-band), so the count stays right.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::notices::Notice;
use crate::views::components::{csrf, empty_state};
use crate::views::format::{ago, machine_time};
use crate::views::layout;

pub const LIST_ID: &str = "notice-list";

pub fn body(notices: &[Notice], tz: Tz, now: DateTime<Utc>, token: &str) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Notices" }
                p { "Plan limit warnings and other news for you in this organization." }
            }
        }
        (list(notices, tz, now, token))
    }
}

/// The card with all notices (the "mark all read" target).
pub fn list(notices: &[Notice], tz: Tz, now: DateTime<Utc>, token: &str) -> Markup {
    let unread = notices.iter().any(|n| n.read_at.is_none());
    html! {
        section.card #(LIST_ID) aria-labelledby="notices-title" {
            div.card-head {
                h2 #notices-title { "All notices" }
                @if unread {
                    form method="post" action="/notices/read" hx-post="/notices/read"
                        hx-target={ "#" (LIST_ID) } hx-swap="outerHTML" {
                        (csrf(token))
                        button.link.small type="submit" { "Mark all read" }
                    }
                }
            }
            @if notices.is_empty() {
                (empty_state("No notices yet. Owners and admins hear here when usage reaches 80% and 100% of a plan limit.", None))
            } @else {
                ul.notice-list { @for n in notices { (item(n, tz, now, token)) } }
            }
        }
    }
}

pub fn item_id(id: crate::ids::NoticeId) -> String {
    format!("notice-{id}")
}

/// One notice (the "mark read" target).
pub fn item(n: &Notice, tz: Tz, now: DateTime<Utc>, token: &str) -> Markup {
    let id = item_id(n.id);
    let action = format!("/notices/{}/read", n.id);
    html! {
        li.is-unread[n.read_at.is_none()] #(id) {
            span.notice-title { (title(&n.kind)) }
            span.notice-time { time datetime=(machine_time(n.created_at)) { (ago(n.created_at, now, tz)) } }
            p.notice-body {
                (n.message)
                @if n.kind.starts_with("limit_") { " " a href="/plans" { "Compare plans" } }
                @if n.kind == "export_ready" { " " a href="/settings#export" { "Download it" } }
            }
            @if n.read_at.is_none() {
                form.notice-action.small method="post" action=(action) hx-post=(action)
                    hx-target={ "#" (id) } hx-swap="outerHTML" {
                    (csrf(token))
                    button.link.small type="submit" { "Mark read" }
                }
            }
        }
    }
}

fn title(kind: &str) -> &'static str {
    match kind {
        "limit_warning" => "Approaching a plan limit",
        "limit_reached" => "Plan limit reached",
        "export_ready" => "Your export is ready",
        _ => "Notice",
    }
}

/// The bell with its new count, swapped in out-of-band.
pub fn bell_oob(unread: i64) -> Markup {
    layout::bell(unread, true)
}
