//! Sequence pages: the list (own and global, with the create form), and one
//! sequence with its ordered steps (add, remove, reorder) and enrolments
//! (pause, resume, next send at) and the mailboxes it sends from. The steps
//! card is the fragment HTMX swaps.

use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::enrollments::EnrollmentRow;
use crate::db::mailboxes::Mailbox;
use crate::db::senders::Senders;
use crate::db::sequences::{Sequence, SequenceSummary, StepView};
use crate::db::templates::Template;
use crate::domain::plans::{format_limit, Limit};
use crate::domain::senders::SenderMode;
use crate::forms::FieldErrors;
use crate::views::badges::enrollment_status;
use crate::views::components::{csrf, Field};
use crate::views::lead_detail::{next_send, pause_resume};
use crate::views::workspace::form_problems;

pub struct ListPage<'a> {
    pub sequences: &'a [SequenceSummary],
    pub own_count: i64,
    pub limit: Limit,
    pub can_manage: bool,
    pub csrf: &'a str,
    pub name: &'a str,
    pub errors: &'a FieldErrors,
    pub limit_message: Option<&'a str>,
    /// False shows the "connect a mailbox" banner.
    pub has_mailbox: bool,
}

pub fn create_form(p: &ListPage) -> Markup {
    html! {
        form.stack #sequence-form method="post" action="/sequences" novalidate
            hx-post="/sequences" hx-target="this" hx-swap="outerHTML" {
            (csrf(p.csrf))
            (form_problems(p.errors, p.limit_message))
            div.form-row {
                (Field::new("name", "Name", p.name).required().autocomplete("off").render(p.errors))
            }
            div.form-actions { button.btn.btn-primary type="submit" { "Create sequence" } }
        }
    }
}

fn copy_button(s: &Sequence, token: &str) -> Markup {
    html! {
        form.inline-form method="post" action={ "/sequences/" (s.id) "/copy" } {
            (csrf(token)) button.btn.btn-sm type="submit" { "Copy to my organization" }
        }
    }
}

pub fn list_page(p: &ListPage) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Sequences" }
                p.muted { (p.own_count) " of " (format_limit(p.limit)) " own sequences · global sequences are free" }
            }
        }
        div.stack {
            @if !p.has_mailbox { (crate::views::workspace::no_mailbox_banner()) }
            @if p.can_manage {
                section.card aria-labelledby="new-seq" { h2 #new-seq { "New sequence" } (create_form(p)) }
            }
            div.table-wrap { table.data {
                caption.sr-only { "Sequences" }
                thead { tr { th scope="col" { "Sequence" } th scope="col" { "Kind" } th.num scope="col" { "Steps" } th.num scope="col" { "Active enrolments" } th scope="col" { span.sr-only { "Actions" } } } }
                tbody {
                    @for s in p.sequences { tr {
                        td { a href={ "/sequences/" (s.sequence.id) } { (s.sequence.name) } }
                        td { @if s.sequence.is_global() { span.badge.badge-blue { "Global" } } @else { span.badge.badge-gray { "Own" } } }
                        td.num { (s.steps) }
                        td.num { (s.active) }
                        td.actions {
                            a.btn.btn-sm href={ "/sequences/" (s.sequence.id) } { "Open" } " "
                            @if s.sequence.is_global() && p.can_manage { (copy_button(&s.sequence, p.csrf)) }
                        }
                    } }
                }
            } }
        }
    }
}

pub struct DetailPage<'a> {
    pub sequence: &'a Sequence,
    /// What the rename field shows: the name, or a refused new one.
    pub name_value: &'a str,
    pub steps: &'a [StepView],
    pub templates: &'a [Template],
    pub enrollments: &'a [EnrollmentRow],
    pub editable: bool,
    pub can_manage: bool,
    pub can_send: bool,
    pub tz: Tz,
    pub csrf: &'a str,
    pub errors: &'a FieldErrors,
    /// How the sequence sends in this organization, and the organization's
    /// mailboxes to choose from.
    pub senders: &'a Senders,
    pub mailboxes: &'a [Mailbox],
}

fn step_button(step: &StepView, action: &str, label: &str, disabled: bool) -> Markup {
    let url = format!("/steps/{}/{action}", step.id);
    html! {
        form.inline-form method="post" action=(url) {
            button.btn.btn-sm.btn-ghost[action != "delete"].btn-danger-outline[action == "delete"] type="submit" disabled[disabled]
                hx-post=(url) hx-target="#steps" hx-swap="outerHTML"
                aria-label={ (label) " step " (step.position) } { (label) }
        }
    }
}

fn add_step_form(p: &DetailPage) -> Markup {
    let action = format!("/sequences/{}/steps", p.sequence.id);
    let error = p.errors.get("template_id");
    html! {
        form.stack.add-step method="post" action=(action) novalidate
            hx-post=(action) hx-target="#steps" hx-swap="outerHTML" {
            (csrf(p.csrf))
            h3 { "Add a step" }
            div.form-row {
                div.field.has-error[error.is_some()] {
                    label for="f-template_id" { "Template" }
                    select #f-template_id name="template_id" {
                        @for t in p.templates { option value=(t.id) { (t.name) @if t.is_global() { " (global)" } } }
                    }
                    @if let Some(e) = error { p.field-error { (e) } }
                }
                (Field::new("delay_days", "Wait (days)", "1").kind("number").hint("After the previous step, or after enrolling for the first.").render(p.errors))
            }
            div.form-actions { button.btn type="submit" { "Add step" } }
        }
    }
}

/// The steps card (HTMX fragment).
pub fn steps_card(p: &DetailPage) -> Markup {
    let last = p.steps.len();
    html! {
        section.card #steps aria-labelledby="steps-title" {
            h2 #steps-title { "Steps" }
            (form_problems(p.errors, None))
            @if p.steps.is_empty() {
                p.muted { "No steps yet. Add the first message below." }
            } @else {
                div.table-wrap { table.data {
                    thead { tr { th.num scope="col" { "#" } th scope="col" { "Template" } th scope="col" { "Wait" } @if p.editable { th scope="col" { span.sr-only { "Actions" } } } } }
                    tbody { @for (i, s) in p.steps.iter().enumerate() { tr {
                        td.num { (s.position) }
                        td { a href={ "/templates/" (s.template_id) } { (s.template_name) } @if s.template_global { " " span.badge.badge-blue { "Global" } } }
                        td { @if s.delay_days == 0 { "Right away" } @else { (s.delay_days) (if s.delay_days == 1 { " day" } else { " days" }) } }
                        @if p.editable { td.actions {
                            (step_button(s, "up", "Up", i == 0)) " "
                            (step_button(s, "down", "Down", i + 1 == last)) " "
                            (step_button(s, "delete", "Remove", false))
                        } }
                    } } }
                } }
            }
            @if p.editable { (add_step_form(p)) }
        }
    }
}

fn enrollments_card(p: &DetailPage) -> Markup {
    html! {
        section.card aria-labelledby="enrolled-title" {
            h2 #enrolled-title { "Enrolled leads" }
            @if p.enrollments.is_empty() {
                p.muted { "Nobody is enrolled yet. Select leads on the " a href="/leads" { "lead list" } ", tick them and choose “Enrol in …” under Action." }
            } @else {
                div.table-wrap { table.data.stack {
                    thead { tr { th scope="col" { "Lead" } th scope="col" { "Status" } th scope="col" { "Next send at" } th scope="col" { span.sr-only { "Actions" } } } }
                    tbody { @for e in p.enrollments { tr {
                        td.stack-title { a href={ "/leads/" (e.enrollment.lead_id) } { (e.label) } span.cell-sub { (e.sub) } }
                        td data-label="Status" { (enrollment_status(&e.enrollment.status)) }
                        td data-label="Next send" { (next_send(e, p.tz)) }
                        td.actions { @if p.can_send { (pause_resume(e, p.csrf, &format!("/sequences/{}", p.sequence.id))) } }
                    } } }
                } }
            }
        }
    }
}

/// What each way of sending means, under its radio button.
fn mode_hint(mode: SenderMode) -> &'static str {
    match mode {
        SenderMode::Enroller => "Each lead's steps go out from the mailbox of the member who enrolled it (the platform server if they have none).",
        SenderMode::Mailboxes => "Each new enrolment takes the ticked mailbox with the fewest running enrolments of this sequence (ties: by address); mailboxes that need attention or are paused are passed over while another can send.",
        SenderMode::LeadOwner => "Steps go out from the mailbox of the lead's owner; without an owner or a mailbox, from the enrolling member's.",
    }
}

/// "Sends from": which mailbox an enrolment's first step goes out from (its
/// later steps keep it). Members who may edit sequences change it.
fn senders_card(p: &DetailPage) -> Markup {
    let action = format!("/sequences/{}/senders", p.sequence.id);
    html! {
        section.card #senders aria-labelledby="senders-title" {
            h2 #senders-title { "Sends from" }
            @if p.can_manage {
                form.stack method="post" action=(action) {
                    (csrf(p.csrf))
                    fieldset.plain.checks {
                        legend { "Each enrolment's steps go out from" }
                        @for mode in SenderMode::ALL {
                            label.radio {
                                input type="radio" name="mode" value=(mode.as_str()) checked[p.senders.mode == mode];
                                span { (mode.label()) span.hint { (mode_hint(mode)) } }
                            }
                        }
                    }
                    (rotation_choices(p))
                    div.form-actions { button.btn type="submit" { "Save" } }
                }
            } @else {
                p { (p.senders.mode.label()) "." }
            }
        }
    }
}

/// The mailboxes a rotation may use: every mailbox of the organization.
fn rotation_choices(p: &DetailPage) -> Markup {
    html! {
        @if p.mailboxes.is_empty() {
            p.muted { "No mailbox is connected yet: " a href="/settings/mailboxes" { "connect one" } " to send from it." }
        } @else {
            fieldset.plain.checks {
                legend { "Mailboxes of the rotation" }
                @for m in p.mailboxes {
                    label.checkbox {
                        input type="checkbox" name="mailbox_id" value=(m.id) checked[p.senders.mailboxes.contains(&m.id)];
                        span { (m.display_name) " <" (m.email) ">" }
                    }
                }
            }
        }
    }
}

/// The "stop on reply" setting of an own sequence: a lead that becomes
/// Replied or Lost leaves it, and its enrolment says why.
fn stop_on_reply_card(s: &Sequence, token: &str) -> Markup {
    html! {
        section.card aria-labelledby="stop-title" {
            h2 #stop-title { "When a lead replies" }
            form.stack method="post" action={ "/sequences/" (s.id) "/stop-on-reply" } {
                (csrf(token))
                label.checkbox {
                    input type="checkbox" name="stop_on_reply" value="on" checked[s.stop_on_reply];
                    span {
                        "Stop on reply"
                        span.hint { "Leads set to Replied or Lost leave this sequence; the lead page says why. Unsubscribed leads always leave." }
                    }
                }
                div.form-actions { button.btn type="submit" { "Save" } }
            }
        }
    }
}

pub fn detail_page(p: &DetailPage) -> Markup {
    let s = p.sequence;
    html! {
        div.page-head {
            div {
                h1 { (s.name) }
                p.muted { @if s.is_global() { "A global sequence, provided to every organization. Copy it to change it." } @else { "Each step waits its delay after the one before, then sends its template." } }
            }
            div.actions {
                a.btn href="/sequences" { "All sequences" }
                @if s.is_global() && p.can_manage { (copy_button(s, p.csrf)) }
            }
        }
        div.grid-2 {
            div.stack {
                (steps_card(p))
                (enrollments_card(p))
                (senders_card(p))
            }
            @if p.editable {
                div.stack {
                    (stop_on_reply_card(s, p.csrf))
                    section.card {
                        h2 { "Rename" }
                        form.stack method="post" action={ "/sequences/" (s.id) } {
                            (csrf(p.csrf))
                            (Field::new("name", "Name", p.name_value).required().render(p.errors))
                            div.form-actions { button.btn type="submit" { "Save name" } }
                        }
                    }
                    section.card.card-danger {
                        h2 { "Delete this sequence" }
                        p.muted { "Its steps and enrolments are deleted; messages already sent stay." }
                        form method="post" action={ "/sequences/" (s.id) "/delete" } {
                            (csrf(p.csrf))
                            button.btn.btn-danger-outline type="submit" data-confirm={ "Delete the sequence “" (s.name) "”?" } { "Delete sequence" }
                        }
                    }
                }
            }
        }
    }
}
