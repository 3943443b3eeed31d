//! Message pages: the history (newest first, keyset pages), one message, and
//! the send flow's preview (a fragment on the lead page, or a page of its own
//! without JavaScript).

use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::leads::Lead;
use crate::db::messages::{MessageRow, Rendered};
use crate::db::templates::Template;
use crate::views::badges::message_status;
use crate::views::components::csrf;
use crate::views::format::date_time;
use crate::views::workspace::{no_mailbox_banner, pagination, upgrade_prompt, Pager};

pub struct ListPage<'a> {
    pub rows: &'a [MessageRow],
    pub newer_href: Option<String>,
    pub older_href: Option<String>,
    pub on_first: bool,
    pub tz: Tz,
    /// False shows the "connect a mailbox" banner.
    pub has_mailbox: bool,
}

pub fn list_page(p: &ListPage) -> Markup {
    html! {
        div.page-head {
            div { h1 { "Messages" } p.muted { "Every message sent to your leads, newest first." } }
        }
        div.stack {
            @if !p.has_mailbox { (no_mailbox_banner()) }
            div.table-wrap { table.data.stack {
                caption.sr-only { "Messages, newest first" }
                thead { tr {
                    th scope="col" { "Subject" } th scope="col" { "To" } th scope="col" { "Status" }
                    th scope="col" { "Sender" } th scope="col" aria-sort="descending" { "Created" }
                } }
                tbody {
                    @for r in p.rows { (row(r, p.tz)) }
                    @if p.rows.is_empty() {
                        tr { td colspan="5" { div.empty {
                            h2 { "No messages yet" }
                            p { "Open a lead and send it a template, or enrol leads in a sequence." }
                            a.btn.btn-primary href="/leads" { "Go to leads" }
                        } } }
                    }
                }
            } }
            (pagination(
                &Pager {
                    first: "/messages",
                    newer: p.newer_href.as_deref(),
                    older: p.older_href.as_deref(),
                    on_first: p.on_first,
                },
                p.rows.len()
            ))
        }
    }
}

fn row(r: &MessageRow, tz: Tz) -> Markup {
    let m = &r.message;
    html! {
        tr {
            td.wrap.stack-title { a href={ "/messages/" (m.id) } { (m.subject) } }
            td data-label="To" { a href={ "/leads/" (m.lead_id) } { (r.lead_name) } span.cell-sub { (m.to_email) } }
            td data-label="Status" { (message_status(&m.status)) }
            td data-label="Sender" { @match &r.sender_name { Some(n) => (n), None => span.muted { "Sequence" } } }
            td data-label="Created" { (date_time(m.created_at, tz)) }
        }
    }
}

pub fn detail_page(r: &MessageRow, tz: Tz) -> Markup {
    let m = &r.message;
    html! {
        div.page-head {
            div { h1 { (m.subject) } p.muted { "To " (r.lead_name) " <" (m.to_email) ">" } }
            div.actions { a.btn href="/messages" { "All messages" } a.btn href={ "/leads/" (m.lead_id) } { "Open lead" } }
        }
        div.grid-2 {
            section.card {
                h2 { "Message" }
                div.mail-preview {
                    p.mail-subject { strong { "Subject: " } (m.subject) }
                    div.mail-body { (m.body) }
                }
            }
            section.card {
                h2 { "Delivery" }
                dl.kv {
                    dt { "Status" } dd { (message_status(&m.status)) }
                    dt { "Created" } dd { (date_time(m.created_at, tz)) }
                    dt { "Sent" } dd { @match m.sent_at { Some(t) => (date_time(t, tz)), None => span.muted { "—" } } }
                    dt { "Sender" } dd { @match &r.sender_name { Some(n) => (n), None => span.muted { "Sequence" } } }
                    @if let Some(step) = m.step_position { dt { "Sequence step" } dd { (step) } }
                    @if let Some(e) = &m.error { dt { "Error" } dd.wrap { (e) } }
                }
            }
        }
    }
}

/// The rendered message and the button that sends it (from `mailbox_id`,
/// empty for the sender's default).
pub fn send_preview(
    lead: &Lead,
    template: &Template,
    rendered: &Rendered,
    mailbox_id: &str,
    token: &str,
) -> Markup {
    html! {
        div.mail-preview {
            p.mail-subject { strong { "Subject: " } (rendered.subject) }
            div.mail-body { (rendered.body) }
        }
        form.form-actions method="post" action="/messages"
            hx-post="/messages" hx-target="#send-preview" hx-swap="innerHTML" {
            (csrf(token))
            input type="hidden" name="lead_id" value=(lead.id);
            input type="hidden" name="template_id" value=(template.id);
            input type="hidden" name="mailbox_id" value=(mailbox_id);
            button.btn.btn-primary type="submit" { "Send to " (lead.fields.email) }
            span.htmx-indicator { span.spinner {} " Sending…" }
        }
    }
}

/// After a send (HTMX): what happened.
pub fn send_result(outcome: Result<&str, &str>) -> Markup {
    html! {
        @match outcome {
            Ok(message) => div.flash.flash-success role="status" { (message) },
            Err(limit) => (upgrade_prompt(limit)),
        }
    }
}

/// The send preview as a page (without JavaScript).
pub fn send_page(lead: &Lead, body: Markup) -> Markup {
    html! {
        div.page-head {
            div { h1 { "Send a message" } p.muted { "To " (lead.full_name()) " <" (lead.fields.email) ">" } }
            div.actions { a.btn href={ "/leads/" (lead.id) } { "Back to lead" } }
        }
        section.card { (body) }
    }
}
