//! Error pages and their HTMX fragment form. They show a title and a plain
//! explanation (with a reference id for internal errors), nothing technical.

use maud::{html, Markup};

use crate::views::layout;

pub fn page(status: u16, title: &str, message: &str) -> Markup {
    layout::public_page(
        title,
        None,
        html! {
            section.card.error-card {
                p.muted.small { "Error " (status) }
                h1 { (title) }
                p { (message) }
                p { a.btn.btn-primary href="/" { "Go to the start page" } }
            }
        },
    )
}

pub fn fragment(title: &str, message: &str) -> Markup {
    html! {
        div.flash.flash-error role="alert" { strong { (title) ". " } (message) }
    }
}
