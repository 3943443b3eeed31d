//! The suppression list page (`/settings/suppression`): addresses that are
//! never mailed, why, and by whom; a form to add one and, per entry, a
//! remove form that asks for a reason. `#suppression-card` is the fragment
//! every form swaps. Addresses show masked: only a salted hash is kept.

use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::suppression::{Reason, SuppressionRow};
use crate::forms::FieldErrors;
use crate::views::components::{csrf, data_table, empty_state, form_errors, Field};
use crate::views::format::date_time;

pub const CARD_ID: &str = "suppression-card";

/// Everything the page shows.
pub struct SuppressionView<'a> {
    pub csrf: &'a str,
    pub rows: &'a [SuppressionRow],
    /// Entries in all (the list shows the newest).
    pub total: i64,
    pub email: &'a str,
    pub note: &'a str,
    pub errors: FieldErrors,
    /// The entry whose remove form the errors belong to.
    pub removing: Option<crate::ids::SuppressionId>,
    pub tz: Tz,
}

pub fn body(v: &SuppressionView) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Suppression list" }
                p {
                    "Addresses here are never mailed: messages and sequence steps to them are refused and count against no limit. "
                    "People land here when they unsubscribe or are forgotten; a CSV import skips them. "
                    "Only a salted hash of each address is stored, so addresses show masked."
                }
            }
            div.actions { a.btn href="/settings" { "Settings" } }
        }
        (card(v))
    }
}

/// The swapped fragment: add form and list.
pub fn card(v: &SuppressionView) -> Markup {
    html! {
        section.card.flush #(CARD_ID) aria-labelledby="suppression-title" {
            div.card-head { h2 #suppression-title { "Suppressed addresses (" (v.total) ")" } }
            div.card-body { (add_form(v)) }
            @if v.rows.is_empty() {
                (empty_state("No suppressed addresses.", None))
            } @else {
                (data_table(&["Address", "Reason", "Note", "Added"], true,
                    html! { @for row in v.rows { (entry(v, row)) } }))
                @if v.total > v.rows.len() as i64 {
                    p.card-body.muted.small { "Showing the newest " (v.rows.len()) " of " (v.total) "." }
                }
            }
        }
    }
}

fn add_form(v: &SuppressionView) -> Markup {
    let e = if v.removing.is_none() {
        &v.errors
    } else {
        &FieldErrors::new()
    };
    let target = format!("#{CARD_ID}");
    html! {
        form.stack method="post" action="/settings/suppression" hx-post="/settings/suppression"
            hx-target=(target) hx-swap="outerHTML" novalidate {
            (csrf(v.csrf))
            (form_errors(e))
            (Field::new("email", "Email address", v.email).kind("email").required().autocomplete("off")
                .hint("This address will never be mailed by this organization.").render(e))
            (Field::new("note", "Note (optional)", v.note).autocomplete("off").render(e))
            div.form-actions { button.btn.btn-primary type="submit" { "Add to the list" } }
        }
    }
}

fn reason_badge(reason: Reason) -> Markup {
    let class = match reason {
        Reason::Unsubscribed => "badge badge-gray",
        Reason::Forgotten => "badge badge-red",
        Reason::Added => "badge badge-blue",
        Reason::Bounced => "badge badge-amber",
    };
    html! { span class=(class) { (reason.label()) } }
}

fn entry(v: &SuppressionView, row: &SuppressionRow) -> Markup {
    let action = format!("/settings/suppression/{}/delete", row.id);
    let target = format!("#{CARD_ID}");
    let field_id = format!("why-{}", row.id);
    let error = (v.removing == Some(row.id))
        .then(|| v.errors.get("why"))
        .flatten();
    html! {
        tr {
            td.wrap {
                @match &row.email_hint {
                    Some(hint) => span.mono { (hint) },
                    None => span.muted { "Forgotten (hash only)" },
                }
            }
            td { (reason_badge(row.reason)) }
            td.wrap { (row.note) }
            td.wrap {
                (date_time(row.created_at, v.tz))
                span.cell-sub { @match &row.created_by { Some(by) => { "by " (by) }, None => "by the recipient or the system" } }
            }
            td.actions {
                form.inline-form method="post" action=(action) hx-post=(action)
                    hx-target=(target) hx-swap="outerHTML" novalidate {
                    (csrf(v.csrf))
                    label.sr-only for=(field_id) { "Reason for removing" }
                    input.reason #(field_id) type="text" name="why" placeholder="Reason for removing" required
                        aria-invalid=[error.map(|_| "true")];
                    button.btn.btn-sm.btn-danger-outline type="submit" { "Remove" }
                }
                @if let Some(e) = error { p.field-error { (e) } }
            }
        }
    }
}
