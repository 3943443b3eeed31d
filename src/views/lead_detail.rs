//! The lead detail page: the lead's fields and owner, the forms to send a
//! message or enrol it, its activity timeline (`views::lead_activity`) and
//! its sequence enrolments (pause/resume).

use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::cursor::Page;
use crate::db::enrollments::EnrollmentRow;
use crate::db::leads::Lead;
use crate::db::next_send::Wait;
use crate::db::templates::Template;
use crate::db::timeline::Entry;
use crate::ids::{LeadId, MailboxId, SequenceId, UserId};
use crate::views::badges::enrollment_status;
use crate::views::components::{csrf, data_table};
use crate::views::format::{date, date_time, machine_time};
use crate::views::lead_activity::{self, ActivityCard};
use crate::views::lead_perms::Perms;
use crate::views::leads::delete_button;

pub struct DetailPage<'a> {
    pub lead: &'a Lead,
    /// One page of the activity timeline, and whether it is the newest.
    pub activity: &'a Page<Entry>,
    pub on_first: bool,
    pub enrollments: &'a [EnrollmentRow],
    pub templates: &'a [Template],
    pub sequences: &'a [(SequenceId, String)],
    /// Members (id, name): the lead's owner and who it can be given to.
    pub members: &'a [(UserId, String)],
    /// The mailboxes the viewer may send a message from.
    pub send_from: &'a SendFrom,
    pub perms: Perms,
    pub tz: Tz,
    pub csrf: &'a str,
}

fn details(lead: &Lead, tz: Tz) -> Markup {
    let status = lead.fields.status;
    html! {
        section.card aria-labelledby="lead-details" {
            h2 #lead-details { "Details" }
            dl.kv {
                dt { "Email" } dd { (lead.fields.email) }
                dt { "Company" } dd { @if lead.fields.company.is_empty() { span.muted { "—" } } @else { (lead.fields.company) } }
                dt { "Title" } dd { @if lead.fields.title.is_empty() { span.muted { "—" } } @else { (lead.fields.title) } }
                dt { "Phone" } dd { @if lead.fields.phone.is_empty() { span.muted { "—" } } @else { (lead.fields.phone) } }
                dt { "Status" } dd { span.badge.(status.badge()) { (status.label()) } }
                dt { "Tags" } dd {
                    @if lead.fields.tags.is_empty() { span.muted { "—" } }
                    @for t in &lead.fields.tags { span.badge.badge-gray { (t) } " " }
                }
                dt { "Added" } dd { (date(lead.created_at, tz)) }
            }
            @if !lead.fields.notes.is_empty() {
                h3 { "Notes" }
                p.prewrap { (lead.fields.notes) }
            }
        }
    }
}

/// Who owns the lead; members with lead rights can give it to another
/// member or to nobody.
fn owner_card(p: &DetailPage) -> Markup {
    let owner = p.lead.owner_user_id;
    let name = owner
        .and_then(|id| p.members.iter().find(|(m, _)| *m == id))
        .map(|(_, n)| n.as_str());
    let action = format!("/leads/{}/owner", p.lead.id);
    html! {
        section.card.stack aria-labelledby="owner-title" {
            h2 #owner-title { "Owner" }
            p #lead-owner { @match name { Some(n) => strong { (n) }, None => span.muted { "Unassigned" } } }
            @if p.perms.manage {
                form.stack method="post" action=(action) {
                    (csrf(p.csrf))
                    div.field {
                        label for="f-owner" { "Give this lead to" }
                        select #f-owner name="owner" {
                            option value="" selected[owner.is_none()] { "Nobody (unassigned)" }
                            @for (id, member) in p.members {
                                option value=(id) selected[owner == Some(*id)] { (member) }
                            }
                        }
                    }
                    button.btn type="submit" { "Change owner" }
                }
            }
        }
    }
}

/// The mailboxes a member may send a single message from: (id, label), and
/// their own, the default (none: the platform server is the default).
#[derive(Debug, Clone, Default)]
pub struct SendFrom {
    pub options: Vec<(MailboxId, String)>,
    pub default: Option<MailboxId>,
}

/// The "Send from" select: the sender's own mailbox first chosen, or the
/// platform server when they have none.
fn send_from_select(from: &SendFrom) -> Markup {
    html! {
        div.field {
            label for="send-mailbox" { "Send from" }
            select #send-mailbox name="mailbox_id" {
                @if from.default.is_none() {
                    option value="" selected { "Platform server (replies are not read)" }
                }
                @for (id, label) in &from.options {
                    option value=(id) selected[from.default == Some(*id)] { (label) }
                }
            }
        }
    }
}

/// Choose a template and a mailbox, preview it for this lead, then send.
pub fn send_form(lead_id: LeadId, templates: &[Template], from: &SendFrom, token: &str) -> Markup {
    html! {
        section.card aria-labelledby="send-title" {
            h2 #send-title { "Send a message" }
            @if templates.is_empty() {
                p.muted { "No templates yet. " a href="/templates/new" { "Write one" } "." }
            } @else {
                form.stack method="post" action="/messages/preview"
                    hx-post="/messages/preview" hx-target="#send-preview" hx-swap="innerHTML" {
                    (csrf(token))
                    input type="hidden" name="lead_id" value=(lead_id);
                    div.field {
                        label for="send-template" { "Template" }
                        select #send-template name="template_id" {
                            @for t in templates {
                                option value=(t.id) { (t.name) @if t.is_global() { " (global)" } }
                            }
                        }
                    }
                    (send_from_select(from))
                    div.form-actions {
                        button.btn type="submit" { "Preview" }
                        span.htmx-indicator { span.spinner {} }
                    }
                }
                div #send-preview aria-live="polite" {}
            }
        }
    }
}

fn enrol_form(lead_id: LeadId, sequences: &[(SequenceId, String)], token: &str) -> Markup {
    html! {
        @if sequences.is_empty() {
            p.muted.small { "No sequences yet. " a href="/sequences" { "Build one" } "." }
        } @else {
            form.inline-form method="post" action="/sequences/enrol" {
                (csrf(token))
                input type="hidden" name="lead_id" value=(lead_id);
                input type="hidden" name="return_to" value={ "/leads/" (lead_id) };
                label.sr-only for="enrol-sequence" { "Sequence" }
                select #enrol-sequence name="sequence_id" {
                    @for (id, name) in sequences { option value=(id) { (name) } }
                }
                button.btn.btn-sm type="submit" { "Enrol" }
            }
        }
    }
}

/// The "Next send at" cell of an enrolment: each queued step and what it
/// waits for (a mailbox's next free slot is an estimate, and says so), then
/// when its next step is due.
pub fn next_send(e: &EnrollmentRow, tz: Tz) -> Markup {
    let en = &e.enrollment;
    html! {
        @for q in &e.queued {
            span.next-send { "Step " (q.step) " queued: " (queued_wait(&q.wait, tz)) } br;
        }
        @match (en.status.as_str(), en.next_run_at) {
            ("active" | "paused", Some(at)) => { "Step " (en.next_step) " due " span.cell-sub { (date_time(at, tz)) } },
            _ => { @if e.queued.is_empty() { span.muted { "—" } } },
        }
    }
}

fn queued_wait(wait: &Wait, tz: Tz) -> Markup {
    html! {
        @match wait {
            Wait::Nothing => "goes out with the next delivery",
            Wait::Until(at) => {
                "next send at about " time datetime=(machine_time(*at)) { (date_time(*at, tz)) }
                " (an estimate: it waits for its mailbox's sending window, gap or daily cap)"
            },
            Wait::Mailbox(status) => { "waits for its mailbox, which " (mailbox_halt(status)) },
        }
    }
}

/// Why a mailbox sends nothing, for the "Next send at" cell.
fn mailbox_halt(status: &str) -> &'static str {
    match status {
        "paused" => "is paused (too many bounces); it sends again once resumed",
        _ => "needs attention (its login failed); it sends again once that is fixed",
    }
}

/// Pause or resume buttons for an enrolment row.
pub fn pause_resume(e: &EnrollmentRow, token: &str, return_to: &str) -> Markup {
    let id = e.enrollment.id;
    html! {
        @match e.enrollment.status.as_str() {
            "active" => form.inline-form method="post" action={ "/enrollments/" (id) "/pause" } {
                (csrf(token)) input type="hidden" name="return_to" value=(return_to);
                button.btn.btn-sm type="submit" { "Pause" }
            },
            "paused" => form.inline-form method="post" action={ "/enrollments/" (id) "/resume" } {
                (csrf(token)) input type="hidden" name="return_to" value=(return_to);
                button.btn.btn-sm type="submit" { "Resume" }
            },
            _ => span.muted.small { "—" },
        }
    }
}

/// A card of the page labelled by its heading `#{id}`: the rows' `table`,
/// or the `none` note while there are no rows; `footer` follows either.
fn table_card(id: &str, title: &str, none: &str, table: Option<Markup>, footer: Markup) -> Markup {
    html! {
        section.card aria-labelledby=(id) {
            h2 id=(id) { (title) }
            @match table {
                Some(table) => (table),
                None => p.muted { (none) },
            }
            (footer)
        }
    }
}

fn enrollments(p: &DetailPage) -> Markup {
    let rows = html! {
        @for e in p.enrollments { tr {
            td { a href={ "/sequences/" (e.enrollment.sequence_id) } { (e.label) } }
            td {
                (enrollment_status(&e.enrollment.status))
                @if let Some(reason) = &e.enrollment.paused_reason { span.cell-sub.pause-reason { (reason) } }
            }
            td { (next_send(e, p.tz)) }
            td.actions { @if p.perms.send { (pause_resume(e, p.csrf, &format!("/leads/{}", p.lead.id))) } }
        } }
    };
    let columns = ["Sequence", "Status", "Next send at"];
    let table = (!p.enrollments.is_empty()).then(|| data_table(&columns, true, rows));
    let footer = html! {
        @if p.perms.send { div.bulk-bar.enrol-bar { "Enrol in" (enrol_form(p.lead.id, p.sequences, p.csrf)) } }
    };
    let none = "Not enrolled in any sequence.";
    table_card("enrol-title", "Sequences", none, table, footer)
}

pub fn page(p: &DetailPage) -> Markup {
    let lead = p.lead;
    html! {
        div.page-head {
            div {
                h1 { (lead.full_name()) }
                p.muted { (lead.fields.email) @if !lead.fields.company.is_empty() { " · " (lead.fields.company) } }
            }
            div.actions {
                a.btn href="/leads" { "All leads" }
                @if p.perms.manage {
                    a.btn href={ "/leads/" (lead.id) "/edit" } { "Edit" }
                    (delete_button(lead, false))
                }
            }
        }
        div.stack {
            div.grid-2 {
                div.stack {
                    (details(lead, p.tz))
                    (owner_card(p))
                }
                @if p.perms.send { (send_form(lead.id, p.templates, p.send_from, p.csrf)) }
            }
            (enrollments(p))
            (lead_activity::card(&ActivityCard {
                lead: lead.id,
                page: p.activity,
                on_first: p.on_first,
                members: p.members,
                tz: p.tz,
            }))
            @if p.perms.manage { (crate::views::erasure::forget_card(lead, p.csrf)) }
        }
    }
}
