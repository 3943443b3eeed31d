//! Bulk actions on the lead list: the action bar above the table (the
//! ticked rows, or every lead matching the filter), the confirmation page
//! for a delete or an "all matching" change, and the progress page of a
//! large change that runs as a background job.

use maud::{html, Markup};

use crate::db::lead_bulk::Job;
use crate::db::leads::LeadFilter;
use crate::domain::lead_bulk::{leads_count, BulkChange};
use crate::domain::leads::LeadStatus;
use crate::ids::{SequenceId, UserId};
use crate::views::components::csrf;
use crate::views::lead_perms::Perms;

/// The id of the bulk form; the row checkboxes belong to it (`form=`).
pub const FORM_ID: &str = "bulk-form";

/// What the action bar offers.
pub struct Bar<'a> {
    pub filter: &'a LeadFilter,
    pub perms: Perms,
    pub csrf: &'a str,
    pub members: &'a [(UserId, String)],
    pub sequences: &'a [(SequenceId, String)],
}

/// The current filter as hidden fields, so a bulk action on "all matching"
/// selects on the server exactly what the list shows.
fn filter_fields(f: &LeadFilter) -> Markup {
    let owner = f.owner.map(|o| o.as_param()).unwrap_or_default();
    html! {
        input type="hidden" name="q" value=(f.q);
        input type="hidden" name="status" value=(f.status.map(LeadStatus::as_str).unwrap_or(""));
        input type="hidden" name="tag" value=(f.tag.as_deref().unwrap_or(""));
        input type="hidden" name="owner" value=(owner);
    }
}

/// The actions the member may take, grouped as the select shows them.
fn action_options(b: &Bar) -> Markup {
    html! {
        option value="" { "Choose an action…" }
        @if b.perms.manage {
            optgroup label="Status" {
                @for s in LeadStatus::ALL { option value={ "status:" (s) } { "Set status: " (s.label()) } }
            }
            optgroup label="Tags" {
                option value="tag_add" { "Add the tag below" }
                option value="tag_remove" { "Remove the tag below" }
            }
            optgroup label="Owner" {
                @for (id, name) in b.members { option value={ "owner:" (id) } { "Give to " (name) } }
                option value="owner:none" { "Unassign" }
            }
        }
        @if b.perms.send && !b.sequences.is_empty() {
            optgroup label="Sequence" {
                @for (id, name) in b.sequences { option value={ "enrol:" (id) } { "Enrol in " (name) } }
            }
        }
        optgroup label="Other" {
            option value="export" { "Export as CSV" }
            @if b.perms.manage { option value="delete" { "Delete…" } }
        }
    }
}

/// The bar above the lead table; works as a plain form without JavaScript.
pub fn bar(b: &Bar) -> Markup {
    html! {
        form.bulk-bar.bulk-actions #(FORM_ID) method="post" action="/leads/bulk" {
            (csrf(b.csrf))
            (filter_fields(b.filter))
            fieldset.plain.bulk-scope {
                legend { "Apply to" }
                label { input type="radio" name="scope" value="picked" checked; " Ticked leads" }
                label { input type="radio" name="scope" value="matching"; " All leads matching the filter" }
            }
            div.field {
                label for="bulk-action" { "Action" }
                select #bulk-action name="action" { (action_options(b)) }
            }
            @if b.perms.manage {
                div.field {
                    label for="bulk-tag" { "Tag" }
                    input #bulk-tag name="bulk_tag" maxlength="40" placeholder="For tag actions";
                }
            }
            button.btn.btn-sm type="submit" { "Apply" }
        }
    }
}

/// What the confirmation page repeats from the bulk form.
pub struct Confirm<'a> {
    pub filter: &'a LeadFilter,
    pub csrf: &'a str,
    pub change: &'a BulkChange,
    /// Ticked ids, when the selection is the ticked rows.
    pub picked: &'a [String],
    pub count: usize,
    pub back: &'a str,
}

/// "Delete 1,234 leads?": the count the server found, and a form that sends
/// the same selection again with `confirm=yes`.
pub fn confirm_page(c: &Confirm) -> Markup {
    let n = leads_count(c.count);
    let delete = matches!(c.change, BulkChange::Delete);
    let (title, button) = if delete {
        (format!("Delete {n}?"), format!("Delete {n}"))
    } else {
        (format!("Change {n}?"), format!("Change {n}"))
    };
    html! {
        div.page-head { div { h1 { (title) } } }
        section.card.stack {
            p {
                "Selected: " strong { (n) }
                @if c.picked.is_empty() { " matching the filter" } @else { " you ticked" }
                ". This will " (c.change.describe()) "."
            }
            @if delete { p { "Their messages and sequence enrolments are deleted too. This cannot be undone." } }
            form.form-actions method="post" action="/leads/bulk" {
                (csrf(c.csrf))
                (filter_fields(c.filter))
                input type="hidden" name="scope" value=(if c.picked.is_empty() { "matching" } else { "picked" });
                @for id in c.picked { input type="hidden" name="lead_id" value=(id); }
                input type="hidden" name="action" value=(c.change.code());
                input type="hidden" name="bulk_tag" value=(c.change.tag());
                input type="hidden" name="confirm" value="yes";
                @if delete { button.btn.btn-danger type="submit" { (button) } }
                @else { button.btn.btn-primary type="submit" { (button) } }
                a.btn.btn-ghost href=(c.back) { "Cancel" }
            }
        }
    }
}

/// The job's progress; polls itself every two seconds while it runs (a
/// plain "Refresh" link without JavaScript).
pub fn progress(job: &Job, what: &str) -> Markup {
    let href = format!("/leads/bulk/{}", job.id);
    let percent = if job.total == 0 {
        100
    } else {
        i64::from(job.done) * 100 / i64::from(job.total)
    };
    html! {
        section.card.stack #bulk-progress aria-live="polite"
            hx-get=[(!job.finished()).then_some(&href)] hx-trigger=[(!job.finished()).then_some("every 2s")]
            hx-swap="outerHTML" {
            p { "Going to " (what) " for " strong { (leads_count(job.total as usize)) } "." }
            label for="bulk-meter" { (job.done) " of " (job.total) " done (" (percent) "%)" }
            progress.meter-bar #bulk-meter max=(job.total.max(1)) value=(job.done) {}
            @match job.status.as_str() {
                "done" => p.flash.flash-success role="status" { "Finished: " (leads_count(job.changed as usize)) " changed." },
                "failed" => p.flash.flash-error role="alert" { "Stopped: " (job.error.as_deref().unwrap_or("the change could not be finished.")) },
                _ => p.muted { "This runs in the background; you can leave this page. " a href=(href) { "Refresh" } },
            }
            p { a href="/leads" { "Back to leads" } }
        }
    }
}

/// The progress page around `progress`.
pub fn progress_page(job: &Job, what: &str) -> Markup {
    html! {
        div.page-head { div { h1 { "Bulk change" } p.muted { "Large selections change in batches." } } }
        (progress(job, what))
    }
}
