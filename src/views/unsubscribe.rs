//! The unsubscribe pages behind a message mail's link (`/u/{token}`): the
//! confirmation with one button, the result, and the clear "not a valid
//! link" page. Public layout, no sign-in, no CSRF field (see
//! `routes::unsubscribe`).

use maud::{html, Markup};

use crate::db::suppression::{Link, LinkInfo};
use crate::views::layout::public_page;

/// The page title and body for what a link leads to.
pub fn page(token: &str, link: &Link) -> Markup {
    let (title, body) = match link {
        Link::Unknown => ("Unsubscribe link not valid", unknown()),
        Link::Ready(info) => ("Unsubscribe", confirm(token, info)),
        Link::Done(info) => ("You are unsubscribed", done(info, false)),
        Link::Already(info) => ("Already unsubscribed", done(info, true)),
    };
    public_page(title, None, body)
}

fn who(info: &LinkInfo) -> Markup {
    html! {
        @match &info.address {
            Some(address) => { strong { (address) } }
            None => "this address",
        }
    }
}

fn confirm(token: &str, info: &LinkInfo) -> Markup {
    let action = format!("/u/{token}");
    html! {
        section.auth-card {
            h1 { "Unsubscribe" }
            p.muted { "Stop all email from " strong { (info.org_name) } " to " (who(info)) "?" }
            form.stack method="post" action=(action) {
                button.btn.btn-primary type="submit" { "Unsubscribe" }
            }
        }
    }
}

fn done(info: &LinkInfo, already: bool) -> Markup {
    html! {
        section.auth-card {
            @if already {
                h1 { "Already unsubscribed" }
                p.muted { (info.org_name) " already no longer emails " (who(info)) ". Nothing changed." }
            } @else {
                h1 { "You are unsubscribed" }
                p.muted { (info.org_name) " will not email " (who(info)) " again." }
            }
        }
    }
}

fn unknown() -> Markup {
    html! {
        section.auth-card {
            h1 { "This unsubscribe link is not valid" }
            p.muted {
                "It may be mistyped or incomplete. Nothing changed. "
                "Open the link from the email again, or reply to the sender and ask them to stop."
            }
        }
    }
}
