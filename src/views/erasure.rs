//! The "Forget this lead" card of the lead page (docs/product.md, "Data rights"): what erasure
//! deletes and what it keeps, and the button.

use maud::{html, Markup};

use crate::db::leads::Lead;
use crate::views::components::csrf;

pub fn forget_card(lead: &Lead, token: &str) -> Markup {
    let action = format!("/leads/{}/forget", lead.id);
    let confirm = format!(
        "Forget {}? The lead, its messages and enrolments are erased for good; only a hash of the address stays so it is never mailed or imported again.",
        lead.full_name()
    );
    html! {
        section.card.card-danger aria-labelledby="forget-title" {
            h2 #forget-title { "Forget this lead" }
            p.muted {
                "For a person who asked to be erased: the lead, the messages sent to them and their enrolments are deleted. "
                "A salted hash of the address stays on the suppression list, so they are never mailed again and a CSV import skips them."
            }
            form method="post" action=(action) {
                (csrf(token))
                button.btn.btn-danger-outline type="submit" data-confirm=(confirm) { "Forget this lead" }
            }
        }
    }
}
