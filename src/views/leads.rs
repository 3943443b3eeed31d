//! Lead pages: the list (search, filters, inline create and edit, bulk
//! enrolment), the detail page and the edit page. Row and form fragments are
//! what HTMX swaps; the pages are built from the same fragments.

use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::leads::OwnerFilter;
use crate::db::leads::{Lead, LeadFilter};
use crate::domain::leads::{LeadInput, LeadStatus};
use crate::domain::plans::{format_limit, Limit};
use crate::forms::FieldErrors;
use crate::ids::{LeadId, SequenceId, UserId};
use crate::views::components::{csrf, Field};
use crate::views::format::date;
use crate::views::lead_bulk;
use crate::views::workspace::{self, form_problems, pagination, query_string, select, Pager};

pub use crate::views::lead_perms::Perms;

/// A lead form's state: what was typed, and what is wrong with it.
pub struct FormState<'a> {
    pub input: &'a LeadInput,
    pub errors: &'a FieldErrors,
    pub limit: Option<&'a str>,
}

pub struct ListPage<'a> {
    pub leads: &'a [Lead],
    pub filter: &'a LeadFilter,
    /// The next page down ("Older →") and the page above ("← Newer").
    pub older_href: Option<String>,
    pub newer_href: Option<String>,
    pub on_first: bool,
    pub tz: Tz,
    pub perms: Perms,
    pub csrf: &'a str,
    pub sequences: &'a [(SequenceId, String)],
    pub leads_this_month: (i64, Limit),
    /// Members (id, name), for the owner filter.
    pub members: &'a [(UserId, String)],
    pub me: UserId,
    pub form: FormState<'a>,
}

pub fn row_id(id: LeadId) -> String {
    format!("lead-{id}")
}

pub const FORM_ID: &str = "lead-form";

/// The lead fields as the form shows them.
pub fn input_of(lead: &Lead) -> LeadInput {
    LeadInput {
        first_name: lead.fields.first_name.clone(),
        last_name: lead.fields.last_name.clone(),
        email: lead.fields.email.clone(),
        company: lead.fields.company.clone(),
        title: lead.fields.title.clone(),
        phone: lead.fields.phone.clone(),
        status: lead.fields.status.to_string(),
        tags: lead.fields.tags.join(", "),
        notes: lead.fields.notes.clone(),
        time_zone: lead.fields.time_zone.clone(),
    }
}

fn status_options(with_all: bool) -> Vec<(String, String)> {
    let mut options = Vec::new();
    if with_all {
        options.push((String::new(), "All statuses".to_string()));
    }
    options.extend(
        LeadStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), s.label().to_string())),
    );
    options
}

/// The fields shared by the create and edit forms.
fn fields(input: &LeadInput, errors: &FieldErrors, with_notes: bool) -> Markup {
    let status = if input.status.is_empty() {
        "new"
    } else {
        &input.status
    };
    html! {
        div.form-row {
            (Field::new("first_name", "First name", &input.first_name).required().autocomplete("off").render(errors))
            (Field::new("last_name", "Last name", &input.last_name).autocomplete("off").render(errors))
            (Field::new("email", "Email", &input.email).kind("email").required().autocomplete("off").render(errors))
        }
        div.form-row {
            (Field::new("company", "Company", &input.company).autocomplete("off").render(errors))
            (Field::new("title", "Title", &input.title).autocomplete("off").render(errors))
            (Field::new("phone", "Phone", &input.phone).kind("tel").autocomplete("off").render(errors))
        }
        div.form-row {
            (select("status", "Status", &status_options(false), status, errors))
            (Field::new("tags", "Tags", &input.tags).hint("Separate tags with commas.").render(errors))
            (Field::new("time_zone", "Time zone", &input.time_zone).autocomplete("off")
                .hint("Such as Europe/Berlin. Sending hours follow it; empty: the organization's.").render(errors))
        }
        @if with_notes {
            (workspace::textarea("notes", "Notes", &input.notes, Some("Only your team sees notes. Up to 2,000 characters."), errors))
        }
    }
}

/// The "add a lead" form (HTMX swaps it with itself).
pub fn create_form(state: &FormState, token: &str) -> Markup {
    html! {
        form.stack #(FORM_ID) method="post" action="/leads" novalidate
            hx-post="/leads" hx-target="this" hx-swap="outerHTML" {
            (csrf(token))
            (form_problems(state.errors, state.limit))
            (fields(state.input, state.errors, false))
            div.form-actions {
                button.btn.btn-primary type="submit" { "Add lead" }
                span.htmx-indicator { span.spinner {} " Saving…" }
            }
        }
    }
}

fn tag_list(tags: &[String]) -> Markup {
    html! {
        @for tag in tags { span.badge.badge-gray { (tag) } " " }
    }
}

/// What every row of the list needs besides its lead.
#[derive(Clone, Copy)]
pub struct RowCtx<'a> {
    pub tz: Tz,
    pub perms: Perms,
    /// Members (id, name), to name each lead's owner.
    pub members: &'a [(UserId, String)],
}

fn owner_cell(owner: Option<UserId>, members: &[(UserId, String)]) -> Markup {
    let name = owner.and_then(|o| members.iter().find(|(id, _)| *id == o));
    html! {
        @match name {
            Some((_, name)) => (name),
            None => span.muted { "Unassigned" },
        }
    }
}

/// One row of the list.
pub fn row(lead: &Lead, ctx: RowCtx) -> Markup {
    let (tz, perms) = (ctx.tz, ctx.perms);
    let id = lead.id;
    let status = lead.fields.status;
    html! {
        tr #(row_id(id)) {
            td.stack-pick {
                label.sr-only for={ "pick-" (id) } { "Select " (lead.full_name()) }
                input #{ "pick-" (id) } type="checkbox" name="lead_id" value=(id) form=(lead_bulk::FORM_ID);
            }
            td.stack-title { a href={ "/leads/" (id) } { (lead.full_name()) } span.cell-sub { (lead.fields.email) } }
            td data-label="Company" { (lead.fields.company) @if !lead.fields.title.is_empty() { span.cell-sub { (lead.fields.title) } } }
            td data-label="Status" { span.badge.(status.badge()) { (status.label()) } }
            td data-label="Owner" { (owner_cell(lead.owner_user_id, ctx.members)) }
            td data-label="Tags" { (tag_list(&lead.fields.tags)) }
            td data-label="Added" { (date(lead.created_at, tz)) }
            td.actions {
                @if perms.manage {
                    a.btn.btn-sm href={ "/leads/" (id) "/edit" } hx-get={ "/leads/" (id) "/edit" }
                        hx-target={ "#" (row_id(id)) } hx-swap="outerHTML" { "Edit" }
                    " "
                    (delete_button(lead, true))
                } @else {
                    a.btn.btn-sm href={ "/leads/" (id) } { "Open" }
                }
            }
        }
    }
}

/// Delete with confirmation; `in_row` removes the row via HTMX.
pub fn delete_button(lead: &Lead, in_row: bool) -> Markup {
    let action = format!("/leads/{}/delete", lead.id);
    let confirm = format!(
        "Delete {}? Their messages and sequence enrolments are deleted too.",
        lead.full_name()
    );
    html! {
        form.inline-form method="post" action=(action) {
            @if in_row {
                button.btn.btn-sm.btn-danger-outline type="submit" data-confirm=(confirm)
                    hx-post=(action) hx-target={ "#" (row_id(lead.id)) } hx-swap="outerHTML" { "Delete" }
            } @else {
                button.btn.btn-danger-outline type="submit" data-confirm=(confirm) { "Delete lead" }
            }
        }
    }
}

/// The row in edit mode (HTMX inline edit).
pub fn edit_row(id: LeadId, state: &FormState, colspan: u8) -> Markup {
    html! {
        tr #(row_id(id)) .is-selected {
            td colspan=(colspan) {
                form.stack method="post" action={ "/leads/" (id) } novalidate
                    hx-post={ "/leads/" (id) } hx-target={ "#" (row_id(id)) } hx-swap="outerHTML" {
                    (form_problems(state.errors, state.limit))
                    (fields(state.input, state.errors, false))
                    div.form-actions {
                        button.btn.btn-primary type="submit" { "Save" }
                        a.btn.btn-ghost href="/leads" hx-get={ "/leads/" (id) "/row" }
                            hx-target={ "#" (row_id(id)) } hx-swap="outerHTML" { "Cancel" }
                    }
                }
            }
        }
    }
}

/// Columns of the lead table: tick box, name, company, status, owner,
/// tags, added, actions.
pub const COLUMNS: u8 = 8;

/// The owner filter's choices: anyone, my leads, unassigned, each member.
fn owner_select(filter: &LeadFilter, members: &[(UserId, String)], me: UserId) -> Markup {
    let current = match filter.owner {
        None => String::new(),
        Some(OwnerFilter::User(id)) if id == me => "me".into(),
        Some(o) => o.as_param(),
    };
    let mut options = vec![
        (String::new(), "Anyone".to_string()),
        ("me".into(), "My leads".into()),
        ("none".into(), "Unassigned".into()),
    ];
    options.extend(
        members
            .iter()
            .filter(|(id, _)| *id != me)
            .map(|(id, name)| (id.to_string(), name.clone())),
    );
    html! {
        div.field {
            label for="filter-owner" { "Owner" }
            select #filter-owner name="owner" {
                @for (value, text) in &options {
                    option value=(value) selected[*value == current] { (text) }
                }
            }
        }
    }
}

fn toolbar(filter: &LeadFilter, members: &[(UserId, String)], me: UserId) -> Markup {
    let status = filter.status.map(LeadStatus::as_str).unwrap_or("");
    html! {
        form.toolbar method="get" action="/leads" role="search" {
            div.field.toolbar-grow {
                label for="q" { "Search" }
                input #q type="search" name="q" value=(filter.q) placeholder="Name, email or company";
            }
            // Its own id: the add-a-lead form on the same page has a status field too.
            div.field {
                label for="filter-status" { "Status" }
                select #filter-status name="status" {
                    @for (value, text) in status_options(true) {
                        option value=(value) selected[value == status] { (text) }
                    }
                }
            }
            (owner_select(filter, members, me))
            div.field {
                label for="tag" { "Tag" }
                input #tag name="tag" value=(filter.tag.as_deref().unwrap_or("")) placeholder="Any tag";
            }
            div.toolbar-end {
                button.btn type="submit" { "Filter" }
                @if *filter != LeadFilter::default() { a.btn.btn-ghost href="/leads" { "Clear" } }
            }
        }
    }
}

fn bulk_bar(p: &ListPage) -> Markup {
    html! {
        @if !p.leads.is_empty() {
            (lead_bulk::bar(&lead_bulk::Bar {
                filter: p.filter,
                perms: p.perms,
                csrf: p.csrf,
                members: p.members,
                sequences: p.sequences,
            }))
        }
    }
}

fn table(p: &ListPage) -> Markup {
    let cols = COLUMNS;
    html! {
        div.table-wrap {
            // Compact: eight columns fit the content width without scrolling.
            table.data.stack.compact {
                caption.sr-only { "Leads, newest first" }
                thead { tr {
                    th scope="col" { span.sr-only { "Select" } }
                    th scope="col" { "Name" } th scope="col" { "Company" } th scope="col" { "Status" } th scope="col" { "Owner" }
                    th scope="col" { "Tags" } th scope="col" aria-sort="descending" { "Added" }
                    th scope="col" { span.sr-only { "Actions" } }
                } }
                tbody #lead-rows {
                    @let ctx = RowCtx { tz: p.tz, perms: p.perms, members: p.members };
                    @for lead in p.leads { (row(lead, ctx)) }
                    @if p.leads.is_empty() {
                        tr #leads-empty { td colspan=(cols) {
                            div.empty {
                                @if *p.filter == LeadFilter::default() {
                                    h2 { "No leads yet" }
                                    p { "Add your first lead above, or import a CSV file." }
                                } @else {
                                    h2 { "No leads match" }
                                    p { "Try another search or " a href="/leads" { "clear the filters" } "." }
                                }
                            }
                        } }
                    }
                }
            }
        }
    }
}

/// The whole list page body.
pub fn list_page(p: &ListPage) -> Markup {
    let (used, limit) = p.leads_this_month;
    let f = p.filter;
    // Open when it has something to show, or when the list is empty anyway.
    let open_form = !p.form.errors.is_empty() || p.form.limit.is_some() || p.leads.is_empty();
    let status = f.status.map(LeadStatus::as_str).unwrap_or("");
    let tag = f.tag.as_deref().unwrap_or("");
    let owner = f.owner.map(|o| o.as_param()).unwrap_or_default();
    let kept = [
        ("q", f.q.as_str()),
        ("status", status),
        ("tag", tag),
        ("owner", &owner),
    ];
    let export = format!("/leads/export{}", query_string(&kept));
    let first = format!("/leads{}", query_string(&kept));
    html! {
        div.page-head {
            div {
                h1 { "Leads" }
                p.muted { (used) " of " (format_limit(limit)) " new leads used this month · newest first" }
            }
            div.actions {
                a.btn href=(export) { "Export CSV" }
                @if p.perms.manage { a.btn href="/leads/import" { "Import CSV" } }
            }
        }
        div.stack {
            @if p.perms.manage {
                details.card.add-lead open[open_form] {
                    summary { h2 { "Add a lead" } }
                    (create_form(&p.form, p.csrf))
                }
            }
            (toolbar(f, p.members, p.me))
            (bulk_bar(p))
            (table(p))
            (pagination(&Pager { first: &first, newer: p.newer_href.as_deref(), older: p.older_href.as_deref(), on_first: p.on_first }, p.leads.len()))
        }
    }
}

/// The edit page (without JavaScript, or from the detail page).
pub fn edit_form(id: LeadId, state: &FormState, token: &str) -> Markup {
    html! {
        form.stack #lead-edit method="post" action={ "/leads/" (id) } novalidate
            hx-post={ "/leads/" (id) } hx-target="this" hx-swap="outerHTML" {
            (csrf(token))
            (form_problems(state.errors, state.limit))
            (fields(state.input, state.errors, true))
            div.form-actions {
                button.btn.btn-primary type="submit" { "Save changes" }
                a.btn.btn-ghost href={ "/leads/" (id) } { "Cancel" }
                span.htmx-indicator { span.spinner {} " Saving…" }
            }
        }
    }
}

pub fn edit_page(lead: &Lead, state: &FormState, token: &str) -> Markup {
    html! {
        div.page-head {
            div { h1 { "Edit " (lead.full_name()) } p.muted { (lead.fields.email) } }
            div.actions { a.btn href={ "/leads/" (lead.id) } { "Back to lead" } }
        }
        section.card { (edit_form(lead.id, state, token)) }
    }
}
