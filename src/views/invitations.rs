//! Invitations: the pages behind an invitation link (accept, sign in or
//! sign up, and the clear "this link no longer works" pages). The team
//! page's invitation cards are in `views::team`; the email in `mail::invitations`.

use maud::{html, Markup};

use crate::domain::roles::Role;
use crate::views::components::csrf;

/// What the person behind an invitation link is shown.
pub struct LinkView<'a> {
    pub token: &'a str,
    pub org_name: &'a str,
    pub inviter: Option<&'a str>,
    pub role: Role,
    pub email: &'a str,
}

fn invited_line(l: &LinkView) -> Markup {
    html! {
        p.muted {
            @if let Some(by) = l.inviter { (by) " invited " } @else { "You are invited " }
            @if l.inviter.is_some() { "you " }
            "to join " strong { (l.org_name) } " as " (article(l.role)) " " strong { (l.role.label().to_lowercase()) } "."
        }
    }
}

fn article(role: Role) -> &'static str {
    if role == Role::Admin {
        "an"
    } else {
        "a"
    }
}

/// Signed in with the invited address: one button to accept.
pub fn accept_body(l: &LinkView, token_csrf: &str) -> Markup {
    let action = format!("/invitations/{}", l.token);
    html! {
        section.auth-card {
            h1 { "Join " (l.org_name) }
            (invited_line(l))
            form.stack method="post" action=(action) {
                (csrf(token_csrf))
                button.btn.btn-primary type="submit" { "Accept invitation" }
            }
            p.auth-alt { "Not now? " a href="/dashboard" { "Go to your dashboard" } }
        }
    }
}

/// Signed out: sign in (and come back) or create an account with that address.
pub fn signed_out_body(l: &LinkView) -> Markup {
    let back = format!("/invitations/{}", l.token);
    let login: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &back)
        .finish();
    let signup: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("invitation", l.token)
        .finish();
    html! {
        section.auth-card {
            h1 { "Join " (l.org_name) }
            (invited_line(l))
            p { "The invitation is for " strong { (l.email) } ". Sign in with that address, or create an account for it." }
            div.stack-sm {
                a.btn.btn-primary.btn-block href={ "/signup?" (signup) } { "Create an account" }
                a.btn.btn-block href={ "/login?" (login) } { "Sign in" }
            }
        }
    }
}

/// Signed in with another address: nothing is accepted.
pub fn wrong_email_body(l: &LinkView, signed_in_as: &str) -> Markup {
    html! {
        section.auth-card {
            h1 { "This invitation is for someone else" }
            p {
                "The invitation to " strong { (l.org_name) } " was sent to " strong { (l.email) }
                ", but you are signed in as " strong { (signed_in_as) } "."
            }
            p.muted { "Sign out and sign in (or create an account) with the invited address, or ask for an invitation to your own address." }
            p.small { a href="/dashboard" { "Back to your dashboard" } }
        }
    }
}

/// The invited address is the user's, but they have not confirmed it yet:
/// an account can be opened with any address, so only a confirmed one may
/// accept.
pub fn unverified_email_body(l: &LinkView) -> Markup {
    html! {
        section.auth-card {
            h1 { "Confirm your address first" }
            p {
                "The invitation to " strong { (l.org_name) } " was sent to " strong { (l.email) }
                ". Your account uses this address, but it is not confirmed yet."
            }
            p.muted { "Open the confirmation link we sent you (or send a new one from your account page), then open this invitation link again." }
            p { a.btn href="/account" { "Go to your account" } }
        }
    }
}

/// Why an invitation link does not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Unknown,
    Expired,
    Revoked,
    Used,
}

impl Problem {
    pub fn status(self) -> u16 {
        match self {
            Problem::Unknown => 404,
            Problem::Expired | Problem::Revoked | Problem::Used => 410,
        }
    }

    fn text(self) -> (&'static str, &'static str) {
        match self {
            Problem::Unknown => (
                "Invitation not found",
                "This invitation link is not valid. It may have been replaced by a newer one: check for a more recent email, or ask the person who invited you to send it again.",
            ),
            Problem::Expired => (
                "This invitation has expired",
                "Invitation links work for 7 days. Ask an owner or admin of the organization to resend it.",
            ),
            Problem::Revoked => (
                "This invitation was withdrawn",
                "The organization revoked this invitation. If you think that is a mistake, contact the person who invited you.",
            ),
            Problem::Used => (
                "This invitation has already been used",
                "Each invitation link works once. If it was you who accepted it, sign in to reach the organization.",
            ),
        }
    }

    pub fn title(self) -> &'static str {
        self.text().0
    }
}

pub fn problem_body(p: Problem) -> Markup {
    let (title, text) = p.text();
    html! {
        section.auth-card {
            h1 { (title) }
            p { (text) }
            p { a.btn href="/" { "Go to the start page" } }
        }
    }
}
