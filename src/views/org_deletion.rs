//! The danger zone of the settings page: deleting the organization, with
//! the password and the organization's name typed again.

use maud::{html, Markup};

use crate::forms::FieldErrors;
use crate::views::components::{csrf, form_errors, Field};

/// Element id of the card (its HTMX fragment).
pub const CARD_ID: &str = "org-deletion-card";

/// The card for an OWNER; `scheduled` is the date already set, if any.
pub fn card(
    csrf_token: &str,
    org_name: &str,
    scheduled: Option<&str>,
    errors: &FieldErrors,
) -> Markup {
    let target = format!("#{CARD_ID}");
    html! {
        section.card.stack #(CARD_ID) aria-labelledby="org-deletion-title" {
            h2 #org-deletion-title { "Delete organization" }
            @if let Some(day) = scheduled {
                p { "This organization will be deleted on " strong { (day) } ". Use “Cancel deletion” in the banner above to keep it." }
            } @else {
                p.muted {
                    "Seven days after you confirm, every lead, template, sequence, message, member and audit entry of "
                    strong { (org_name) } " is erased. Invoices are kept, as the law requires. "
                    "The subscription ends now and nothing more is charged; every member is told by mail. "
                    "Until the date, an owner can cancel."
                }
                form.stack method="post" action="/settings/delete" hx-post="/settings/delete"
                    hx-target=(target) hx-swap="outerHTML" novalidate {
                    (csrf(csrf_token))
                    (form_errors(errors))
                    (Field::new("password", "Your password", "").kind("password").required()
                        .autocomplete("current-password").render(errors))
                    (Field::new("confirm_name", "Type the organization's name to confirm", "").required()
                        .autocomplete("off").hint(org_name).render(errors))
                    div.form-actions {
                        button.btn.btn-danger type="submit" { "Delete organization" }
                    }
                }
            }
        }
    }
}

/// The card alone on a page (a refused form without JavaScript).
pub fn body(card: Markup) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Delete organization" }
                p { a href="/settings" { "Back to settings" } }
            }
        }
        (card)
    }
}
