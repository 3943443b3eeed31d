//! Template pages: the list (own and global), the editor with its live
//! preview against a lead, and the read-only view of global templates.
//! Rendered values are plain text; maud escapes them, so lead data can never
//! become markup.

use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::leads::Lead;
use crate::db::messages::Rendered;
use crate::db::templates::Template;
use crate::domain::placeholders::known_list;
use crate::domain::plans::{format_limit, Limit};
use crate::forms::FieldErrors;
use crate::ids::{LeadId, TemplateId};
use crate::views::components::{csrf, Field};
use crate::views::format::date;
use crate::views::workspace::{form_problems, textarea};

pub struct ListPage<'a> {
    pub templates: &'a [Template],
    pub own_count: i64,
    pub limit: Limit,
    pub can_manage: bool,
    pub tz: Tz,
    pub csrf: &'a str,
}

fn copy_button(t: &Template, token: &str) -> Markup {
    html! {
        form.inline-form method="post" action={ "/templates/" (t.id) "/copy" } {
            (csrf(token))
            button.btn.btn-sm type="submit" { "Copy to my organization" }
        }
    }
}

fn delete_button(t: &Template, token: &str, small: bool) -> Markup {
    html! {
        form.inline-form method="post" action={ "/templates/" (t.id) "/delete" } {
            (csrf(token))
            button.btn.btn-danger-outline.btn-sm[small] type="submit"
                data-confirm={ "Delete the template “" (t.name) "”?" } { "Delete" }
        }
    }
}

fn row(t: &Template, p: &ListPage) -> Markup {
    html! {
        tr {
            td { a href={ "/templates/" (t.id) } { (t.name) } span.cell-sub { (t.subject) } }
            td { @if t.is_global() { span.badge.badge-blue { "Global" } } @else { span.badge.badge-gray { "Own" } } }
            td { (date(t.updated_at, p.tz)) }
            td.actions {
                @if t.is_global() {
                    a.btn.btn-sm href={ "/templates/" (t.id) } { "View" } " "
                    @if p.can_manage { (copy_button(t, p.csrf)) }
                } @else if p.can_manage {
                    a.btn.btn-sm href={ "/templates/" (t.id) } { "Edit" } " "
                    (delete_button(t, p.csrf, true))
                } @else {
                    a.btn.btn-sm href={ "/templates/" (t.id) } { "View" }
                }
            }
        }
    }
}

pub fn list_page(p: &ListPage) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Templates" }
                p.muted { (p.own_count) " of " (format_limit(p.limit)) " own templates · global templates are free" }
            }
            @if p.can_manage { div.actions { a.btn.btn-primary href="/templates/new" { "New template" } } }
        }
        div.table-wrap { table.data {
            caption.sr-only { "Templates" }
            thead { tr { th scope="col" { "Template" } th scope="col" { "Kind" } th scope="col" { "Updated" } th scope="col" { span.sr-only { "Actions" } } } }
            tbody {
                @for t in p.templates { (row(t, p)) }
            }
        } }
    }
}

/// What the editor shows: typed values, the lead previewed, errors.
pub struct Editor<'a> {
    /// `None` for a new template.
    pub id: Option<TemplateId>,
    pub name: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub lead_id: Option<LeadId>,
    pub leads: &'a [Lead],
    pub errors: &'a FieldErrors,
    pub limit: Option<&'a str>,
    pub preview: Markup,
}

pub const FORM_ID: &str = "template-form";

fn lead_picker(e: &Editor) -> Markup {
    html! {
        div.field {
            label for="f-lead_id" { "Preview for" }
            select #f-lead_id name="lead_id" hx-post="/templates/preview" hx-trigger="change"
                hx-target="#template-preview" hx-swap="innerHTML" hx-include="closest form" {
                @if e.leads.is_empty() { option value="" { "A sample lead (Anna Berger, Northwind)" } }
                @for l in e.leads {
                    option value=(l.id) selected[Some(l.id) == e.lead_id] {
                        (l.full_name()) @if !l.fields.company.is_empty() { " — " (l.fields.company) }
                    }
                }
            }
        }
    }
}

/// The editor form (HTMX swaps it with itself on save errors).
pub fn editor_form(e: &Editor, token: &str) -> Markup {
    let action = match e.id {
        Some(id) => format!("/templates/{id}"),
        None => "/templates".to_string(),
    };
    let trigger = "keyup changed delay:400ms";
    html! {
        form.stack #(FORM_ID) method="post" action=(action) novalidate
            hx-post=(action) hx-target="this" hx-swap="outerHTML" {
            (csrf(token))
            @if let Some(id) = e.id { input type="hidden" name="template_id" value=(id); }
            (form_problems(e.errors, e.limit))
            (Field::new("name", "Name", e.name).required().autocomplete("off").render(e.errors))
            div.stack hx-post="/templates/preview" hx-trigger=(trigger) hx-target="#template-preview" hx-swap="innerHTML" hx-include="closest form" {
                (Field::new("subject", "Subject", e.subject).required().autocomplete("off").render(e.errors))
                (textarea("body", "Body", e.body, Some(&format!("Placeholders: {}.", known_list())), e.errors))
            }
            (lead_picker(e))
            div.form-actions {
                button.btn.btn-primary type="submit" { "Save template" }
                button.btn type="submit" formaction="/templates/preview"
                    hx-post="/templates/preview" hx-target="#template-preview" hx-swap="innerHTML" { "Preview" }
                a.btn.btn-ghost href="/templates" { "Cancel" }
                span.htmx-indicator { span.spinner {} }
            }
        }
    }
}

/// The rendered preview, or why it cannot be rendered yet.
pub fn preview(result: Result<Rendered, String>) -> Markup {
    html! {
        @match result {
            Ok(r) => div.mail-preview {
                p.mail-subject { strong { "Subject: " } (r.subject) }
                div.mail-body { (r.body) }
            },
            Err(e) => div.form-errors role="status" { strong { "Cannot preview yet" } (e) },
        }
    }
}

fn preview_card(preview: Markup) -> Markup {
    html! {
        section.card aria-labelledby="preview-title" {
            h2 #preview-title { "Preview" }
            div #template-preview aria-live="polite" { (preview) }
        }
    }
}

pub fn editor_page(e: Editor, existing: Option<&Template>, token: &str) -> Markup {
    let title = if e.id.is_some() {
        "Edit template"
    } else {
        "New template"
    };
    html! {
        div.page-head {
            div { h1 { (title) } p.muted { "Placeholders are replaced with the lead's details when a message is sent." } }
            div.actions { a.btn href="/templates" { "All templates" } }
        }
        div.grid-2 {
            section.card { (editor_form(&e, token)) }
            div.stack {
                (preview_card(e.preview.clone()))
                @if let Some(t) = existing { (danger_zone(t, token)) }
            }
        }
    }
}

/// A template that cannot be edited here (global, or the role does not allow it).
pub fn read_only_page(t: &Template, can_copy: bool, preview: Markup, token: &str) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { (t.name) }
                p.muted { @if t.is_global() { "A global template, provided to every organization. Copy it to change it." } @else { "Read only for your role." } }
            }
            div.actions {
                a.btn href="/templates" { "All templates" }
                @if can_copy { (copy_button(t, token)) }
            }
        }
        div.grid-2 {
            section.card {
                h2 { "Template" }
                dl.kv { dt { "Subject" } dd { (t.subject) } }
                div.mail-body { (t.body) }
            }
            (preview_card(preview))
        }
    }
}

/// Action row under an own template's editor.
pub fn danger_zone(t: &Template, token: &str) -> Markup {
    html! {
        section.card.card-danger {
            h2 { "Delete this template" }
            p.muted { "Messages already sent keep their text. A template used by a sequence step cannot be deleted." }
            (delete_button(t, token, false))
        }
    }
}
