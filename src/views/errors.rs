//! Error pages and their HTMX fragment form. They show a title and a plain
//! explanation (with a reference id for internal errors), nothing technical.

use maud::{html, Markup};

use crate::views::layout;

/// The title of the "plan limit reached" error (402); its page and fragment
/// offer the way out: comparing plans.
pub const LIMIT_TITLE: &str = "Plan limit reached";

fn upgrade_prompt(title: &str) -> Markup {
    html! { @if title == LIMIT_TITLE { " " a href="/plans" { "Compare plans" } } }
}

pub fn page(status: u16, title: &str, message: &str) -> Markup {
    layout::public_page(
        title,
        None,
        html! {
            section.card.error-card {
                p.muted.small { "Error " (status) }
                h1 { (title) }
                p { (message) }
                p {
                    @if title == LIMIT_TITLE { a.btn.btn-primary href="/plans" { "Compare plans" } " " a.btn href="/dashboard" { "Back to the dashboard" } }
                    @else { a.btn.btn-primary href="/" { "Go to the start page" } }
                }
            }
        },
    )
}

pub fn fragment(title: &str, message: &str) -> Markup {
    html! {
        div.flash.flash-error role="alert" { strong { (title) ". " } (message) (upgrade_prompt(title)) }
    }
}
