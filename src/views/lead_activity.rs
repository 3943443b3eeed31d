//! The lead page's activity timeline (`db::timeline`): one line per thing
//! that happened — added, status moved, a message and its delivery state,
//! enrolled in a sequence and where that stands, fields edited — newest
//! first, who did it and when, with "Newer / Older" pages that keep their
//! place in the URL.

use chrono_tz::Tz;
use maud::{html, Markup};
use serde_json::Value;
use uuid::Uuid;

use crate::db::cursor::Page;
use crate::db::timeline::{Activity, Change, Entry};
use crate::domain::leads::LeadStatus;
use crate::ids::{LeadId, UserId};
use crate::views::badges::{enrollment_status, message_status};
use crate::views::format::{date_time, machine_time};
use crate::views::workspace::{pagination, Pager};

pub struct ActivityCard<'a> {
    pub lead: LeadId,
    pub page: &'a Page<Entry>,
    /// Whether this is the newest page (no `after=` / `before=`).
    pub on_first: bool,
    /// Members (id, name), to name who did what and owners.
    pub members: &'a [(UserId, String)],
    pub tz: Tz,
}

pub fn card(c: &ActivityCard) -> Markup {
    let base = format!("/leads/{}", c.lead);
    let (newer, older) = c.page.link_cursors(Entry::cursor);
    let newer = newer.map(|k| format!("{base}?before={}#activity", k.encode()));
    let older = older.map(|k| format!("{base}?after={}#activity", k.encode()));
    let first = format!("{base}#activity");
    let paged = !c.on_first || c.page.has_older;
    html! {
        section.card #activity aria-labelledby="activity-title" {
            h2 #activity-title { "Activity" }
            @if c.page.rows.is_empty() {
                p.muted { "Nothing recorded for this lead yet." }
            } @else {
                ol.timeline {
                    @for e in &c.page.rows { (item(c, e)) }
                }
            }
            @if paged {
                (pagination(&Pager {
                    first: &first,
                    newer: newer.as_deref(),
                    older: older.as_deref(),
                    on_first: c.on_first,
                }, c.page.rows.len()))
            }
        }
    }
}

fn item(c: &ActivityCard, e: &Entry) -> Markup {
    html! {
        li.timeline-item data-kind=(kind(&e.activity)) {
            div.timeline-what { (what(c, &e.activity)) }
            p.timeline-meta {
                time datetime=(machine_time(e.at)) { (date_time(e.at, c.tz)) }
                @if let Some(who) = e.actor { " · " (member_name(c, who)) }
            }
        }
    }
}

/// A stable word per kind of entry, for styling and for tests.
fn kind(a: &Activity) -> &'static str {
    match a {
        Activity::Created { .. } => "created",
        Activity::Status { .. } => "status",
        Activity::Message { .. } => "message",
        Activity::Enrolled { .. } => "enrolled",
        Activity::EnrolmentState { .. } => "enrolment",
        Activity::Edited { .. } => "edited",
        Activity::Inbound { kind, .. } => match kind.as_str() {
            "reply" => "reply",
            "auto_reply" => "auto-reply",
            _ => "bounce",
        },
    }
}

fn what(c: &ActivityCard, a: &Activity) -> Markup {
    match a {
        Activity::Created { status, source } => html! {
            "Added as " (status_badge(status)) span.muted { " · " (source_label(source)) }
        },
        Activity::Status { from, to, note } => html! {
            "Status " (status_badge(from)) " → " (status_badge(to))
            @if let Some(note) = note { span.muted { " · " (note) } }
        },
        Activity::Inbound {
            kind,
            from,
            subject,
            text,
            bounce_status,
        } => inbound(kind, from, subject, text, bounce_status.as_deref()),
        Activity::Message {
            id,
            subject,
            status,
            error,
            step,
            sequence,
        } => html! {
            "Message " a href={ "/messages/" (id) } { "“" (subject) "”" } " " (message_status(status))
            @if let Some(step) = step {
                span.muted { " · step " (step) " of " (sequence.as_deref().unwrap_or("a deleted sequence")) }
            }
            @if let Some(error) = error { p.timeline-error { (error) } }
        },
        Activity::Enrolled {
            sequence_id,
            sequence,
        } => html! { "Enrolled in " (sequence_link(*sequence_id, sequence.as_deref())) },
        Activity::EnrolmentState {
            sequence_id,
            sequence,
            status,
            reason,
        } => html! {
            (sequence_link(*sequence_id, sequence.as_deref())) " " (enrollment_status(status))
            @if let Some(reason) = reason { span.muted { " · " (reason) } }
        },
        Activity::Edited { changes } => edited(c, changes),
    }
}

/// Mail that came back from the lead. Its text is shown as text (maud
/// escapes it), never as HTML.
fn inbound(kind: &str, from: &str, subject: &str, text: &str, status: Option<&str>) -> Markup {
    let status = status.unwrap_or("");
    html! {
        @match kind {
            "reply" => { "Reply from " (from) },
            "auto_reply" => { "Automatic reply from " (from) span.muted { " · not counted as a reply" } },
            "bounce" => { "Bounced " span.badge.badge-red { (status) } span.muted { " · the address is suppressed" } },
            _ => { "Delivery delayed " span.badge.badge-gray { (status) } },
        }
        @if !subject.is_empty() { p.muted { "“" (subject) "”" } }
        @if !text.is_empty() { p.prewrap.inbound-text { (text) } }
    }
}

/// "Note added" with its text when the notes were empty before and nothing
/// else changed; otherwise "Edited" and a line per field.
fn edited(c: &ActivityCard, changes: &std::collections::BTreeMap<String, Change>) -> Markup {
    let only_notes = changes.len() == 1 && changes.contains_key("notes");
    let note_added = only_notes && is_empty(&changes["notes"].from);
    html! {
        @if note_added { "Note added" } @else { "Edited" }
        ul.changes {
            @for (field, change) in changes { li {
                span.change-field { (field_label(field)) } ": "
                @if field == "notes" {
                    @if is_empty(&change.to) { span.muted { "cleared" } }
                    @else { p.prewrap { (plain(&change.to)) } }
                } @else {
                    (value(c, field, &change.from)) " → " (value(c, field, &change.to))
                }
            } }
        }
    }
}

fn value(c: &ActivityCard, field: &str, v: &Value) -> Markup {
    if field == "owner" {
        return match v.as_str().and_then(|s| s.parse::<Uuid>().ok()) {
            Some(id) => html! { (member_name(c, UserId(id))) },
            None => html! { span.muted { "Unassigned" } },
        };
    }
    if is_empty(v) {
        return html! { span.muted { "—" } };
    }
    html! { (plain(v)) }
}

/// A stored value as text: a string as is, a list of tags joined.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn is_empty(v: &Value) -> bool {
    plain(v).is_empty()
}

fn field_label(field: &str) -> &str {
    match field {
        "first_name" => "First name",
        "last_name" => "Last name",
        "email" => "Email",
        "company" => "Company",
        "title" => "Title",
        "phone" => "Phone",
        "tags" => "Tags",
        "notes" => "Notes",
        "time_zone" => "Time zone",
        "owner" => "Owner",
        other => other,
    }
}

fn member_name(c: &ActivityCard, id: UserId) -> String {
    c.members
        .iter()
        .find(|(m, _)| *m == id)
        .map_or_else(|| "a former member".to_string(), |(_, n)| n.clone())
}

fn status_badge(status: &str) -> Markup {
    match status.parse::<LeadStatus>() {
        Ok(s) => html! { span.badge.(s.badge()) { (s.label()) } },
        Err(_) => html! { span.badge.badge-gray { (status) } },
    }
}

fn source_label(source: &str) -> &'static str {
    match source {
        "csv" => "from a CSV import",
        "api" => "through the API",
        _ => "on the leads page",
    }
}

fn sequence_link(id: Uuid, name: Option<&str>) -> Markup {
    match name {
        Some(name) => html! { a href={ "/sequences/" (id) } { (name) } },
        None => html! { span.muted { "a deleted sequence" } },
    }
}
