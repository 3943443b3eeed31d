//! The audit log page: filters (action, actor), the events newest first with
//! what changed, and keyset pagination links. The results are their own
//! fragment (`#audit-results`), so filtering with HTMX swaps only them.

use chrono_tz::Tz;
use maud::{html, Markup};
use serde_json::Value;

use crate::db::audit::AuditEvent;
use crate::domain::roles::Role;
use crate::ids::UserId;
use crate::views::format::{date_time, machine_time};

pub const RESULTS_ID: &str = "audit-results";

pub struct AuditView<'a> {
    pub org_name: &'a str,
    pub tz: Tz,
    pub events: &'a [AuditEvent],
    pub actions: &'a [String],
    pub actors: &'a [(Option<UserId>, String)],
    /// The filter values as given ("" = all).
    pub action: &'a str,
    pub actor: &'a str,
    /// Cursor of the page above (newer), if there is one.
    pub newer: Option<String>,
    /// Cursor of the next (older) page, if there is one.
    pub older: Option<String>,
    /// True when this is not the first page.
    pub paged: bool,
}

/// "member.role_changed" → "Member role changed".
pub fn action_label(action: &str) -> String {
    let words = action.replace(['.', '_'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub fn body(v: &AuditView) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Audit log" }
                p { "Who changed what in " (v.org_name) ", newest first. Times are in " (v.tz.name()) "." }
            }
        }
        div.stack {
            (filters(v))
            (results(v))
        }
    }
}

fn filters(v: &AuditView) -> Markup {
    html! {
        form.toolbar method="get" action="/audit" role="search" hx-get="/audit"
            hx-target={ "#" (RESULTS_ID) } hx-swap="outerHTML" hx-push-url="true" {
            div.field {
                label for="f-action" { "Action" }
                select #f-action name="action" {
                    option value="" { "All actions" }
                    @for a in v.actions {
                        option value=(a) selected[a == v.action] { (action_label(a)) }
                    }
                }
            }
            div.field {
                label for="f-actor" { "Who" }
                select #f-actor name="actor" {
                    option value="" { "Everyone" }
                    @for (id, label) in v.actors {
                        @let value = id.map_or("system".to_string(), |u| u.to_string());
                        option value=(value) selected[value == v.actor] { (label) }
                    }
                }
            }
            div.toolbar-end {
                button.btn type="submit" { "Filter" }
                @if !v.action.is_empty() || !v.actor.is_empty() { a.btn.btn-ghost href="/audit" { "Clear" } }
                span.htmx-indicator aria-hidden="true" { span.spinner {} }
            }
        }
    }
}

/// The events table and pagination: the HTMX fragment.
pub fn results(v: &AuditView) -> Markup {
    html! {
        div.stack #(RESULTS_ID) {
            @if v.events.is_empty() {
                div.card.flush {
                    div.empty {
                        h2 { "No events" }
                        p { @if v.action.is_empty() && v.actor.is_empty() {
                            "Changes to settings, members, roles, invitations and plans will be listed here."
                        } @else { "Nothing matches these filters." } }
                    }
                }
            } @else {
                div.table-wrap {
                    table.data.stack {
                        caption.sr-only { "Audit events, newest first" }
                        thead { tr {
                            th scope="col" { "When" }
                            th scope="col" { "Who" }
                            th scope="col" { "Action" }
                            th scope="col" { "Target" }
                            th scope="col" { "Change" }
                        } }
                        tbody { @for e in v.events { (row(v.tz, e)) } }
                    }
                }
            }
            (pagination(v))
        }
    }
}

fn row(tz: Tz, e: &AuditEvent) -> Markup {
    html! {
        tr {
            td.nowrap.stack-title { time datetime=(machine_time(e.created_at)) { (date_time(e.created_at, tz)) } }
            td.wrap data-label="Who" { (person(&e.actor_label)) }
            td data-label="Action" { span.badge.badge-gray title=(e.action) { (action_label(&e.action)) } }
            td.wrap data-label="Target" { (person(&e.target)) }
            td.wrap data-label="Change" { (changes(tz, e.before.as_ref(), e.after.as_ref())) }
        }
    }
}

/// "Name <email>" as the name with the address underneath; anything else as is.
fn person(label: &str) -> Markup {
    let split = label.strip_suffix('>').and_then(|l| l.rsplit_once(" <"));
    html! {
        @match split {
            Some((name, email)) => { (name) span.cell-sub { (email) } }
            None => { (label) }
        }
    }
}

/// A stored value as people read it: times in the organization's zone,
/// roles by their label, booleans as yes/no.
fn show(tz: Tz, v: &Value) -> String {
    match v {
        Value::String(s) => {
            if let Ok(at) = chrono::DateTime::parse_from_rfc3339(s) {
                date_time(at.with_timezone(&chrono::Utc), tz)
            } else if let Ok(role) = s.parse::<Role>() {
                role.label().to_string()
            } else {
                s.clone()
            }
        }
        Value::Bool(b) => (if *b { "yes" } else { "no" }).into(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// Keys of `before` and `after` in first-seen order.
fn keys<'a>(before: Option<&'a Value>, after: Option<&'a Value>) -> Vec<&'a String> {
    let mut keys: Vec<&String> = Vec::new();
    for obj in [before, after]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        for k in obj.keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

/// "role: Member → Admin" lines for each changed key.
fn changes(tz: Tz, before: Option<&Value>, after: Option<&Value>) -> Markup {
    let get = |side: Option<&Value>, k: &str| side.and_then(|v| v.get(k)).map(|v| show(tz, v));
    html! {
        ul.change-list {
            @for k in keys(before, after) {
                li {
                    span.muted { (k.replace('_', " ")) ": " }
                    @match (get(before, k), get(after, k)) {
                        (Some(old), Some(new)) => { (old) " → " strong { (new) } }
                        (None, Some(new)) => { strong { (new) } }
                        (Some(old), None) => { s { (old) } }
                        (None, None) => {}
                    }
                }
            }
        }
    }
}

/// The log with the current filter, at `at`: `("after", cursor)`,
/// `("before", cursor)` or the newest page.
fn page_link(v: &AuditView, at: Option<(&str, &str)>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if !v.action.is_empty() {
        q.append_pair("action", v.action);
    }
    if !v.actor.is_empty() {
        q.append_pair("actor", v.actor);
    }
    if let Some((side, cursor)) = at {
        q.append_pair(side, cursor);
    }
    let q = q.finish();
    if q.is_empty() {
        "/audit".into()
    } else {
        format!("/audit?{q}")
    }
}

fn pagination(v: &AuditView) -> Markup {
    let target = format!("#{RESULTS_ID}");
    html! {
        @if v.paged || v.older.is_some() {
            nav.pagination aria-label="Pagination" {
                span.page-info { (v.events.len()) " events on this page" }
                span.page-links {
                    @if v.paged {
                        @let href = page_link(v, None);
                        a href=(href) hx-get=(href) hx-target=(target) hx-swap="outerHTML" hx-push-url="true" { "« Newest" }
                    }
                    @if let Some(newer) = &v.newer {
                        @let href = page_link(v, Some(("before", newer)));
                        a rel="prev" href=(href) hx-get=(href) hx-target=(target) hx-swap="outerHTML" hx-push-url="true" { "← Newer" }
                    }
                    @if let Some(older) = &v.older {
                        @let href = page_link(v, Some(("after", older)));
                        a rel="next" href=(href) hx-get=(href) hx-target=(target) hx-swap="outerHTML" hx-push-url="true" { "Older →" }
                    }
                }
            }
        }
    }
}
