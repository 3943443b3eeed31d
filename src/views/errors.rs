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

/// The error card: status, title, explanation and the way on.
fn card(status: u16, title: &str, message: &str, home: (&str, &str)) -> Markup {
    html! {
        section.card.error-card {
            p.muted.small { "Error " (status) }
            h1 { (title) }
            p { (message) }
            p {
                @if title == LIMIT_TITLE { a.btn.btn-primary href="/plans" { "Compare plans" } " " a.btn href="/dashboard" { "Back to the dashboard" } }
                @else { a.btn.btn-primary href=(home.0) { (home.1) } }
            }
        }
    }
}

/// An error for someone signed out: the public layout.
pub fn page(status: u16, title: &str, message: &str) -> Markup {
    layout::public_page(
        title,
        None,
        card(status, title, message, ("/", "Go to the start page")),
    )
}

/// An error for someone signed in: inside the app shell, with their
/// navigation and organization switcher, so they are never thrown out of
/// the app by a wrong link.
pub fn app_page(shell: &layout::Shell, status: u16, title: &str, message: &str) -> Markup {
    let home = if shell.org.is_some() {
        ("/dashboard", "Back to the dashboard")
    } else {
        ("/orgs", "Choose an organization")
    };
    layout::app_page(
        shell,
        layout::Nav::None,
        title,
        card(status, title, message, home),
    )
}

pub fn fragment(title: &str, message: &str) -> Markup {
    html! {
        div.flash.flash-error role="alert" { strong { (title) ". " } (message) (upgrade_prompt(title)) }
    }
}
