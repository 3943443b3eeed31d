//! Invitations: the open-invitations table and invite form of the team page,
//! and the pages behind an invitation link (accept, sign in or sign up, and
//! the clear "this link no longer works" pages).

use maud::{html, Markup};

use crate::db::invitations::{OpenInvitation, State};
use crate::domain::membership::INVITABLE;
use crate::domain::plans::format_limit;
use crate::domain::roles::Role;
use crate::views::components::{csrf, form_errors, Field};
use crate::views::team::{action_button, date, relative, role_badge, TeamView};

/// The "Open invitations" card (owners and admins).
pub fn pending_card(v: &TeamView) -> Markup {
    html! {
        @if !v.invitations.is_empty() {
            section.card.flush #invitations aria-labelledby="invitations-title" {
                div.card-head { h2 #invitations-title { "Open invitations" } }
                div.table-wrap {
                    table.data {
                        thead { tr {
                            th scope="col" { "Email" }
                            th scope="col" { "Role" }
                            th scope="col" { "Expires" }
                            th scope="col" { span.sr-only { "Actions" } }
                        } }
                        tbody { @for i in v.invitations { (pending_row(v, i)) } }
                    }
                }
            }
        }
    }
}

fn pending_row(v: &TeamView, open: &OpenInvitation) -> Markup {
    let inv = &open.invitation;
    let expired = inv.state(v.now) == State::Expired;
    let base = format!("/team/invitations/{}", inv.id);
    html! {
        tr #{ "invitation-" (inv.id) } {
            td {
                (inv.email)
                @if let Some(by) = &open.inviter { span.cell-sub { "Invited by " (by) } }
            }
            td { (role_badge(inv.role())) }
            td.nowrap {
                @if expired { span.badge.badge-amber { "Expired" } }
                @else { span title=(date(v.tz, inv.expires_at)) { (relative(v.now, inv.expires_at)) } }
            }
            td.actions {
                (action_button(v, &format!("{base}/resend"), "Resend", "btn btn-sm",
                    &format!("Send {} a new link? The old link stops working.", inv.email)))
                (action_button(v, &format!("{base}/revoke"), "Revoke", "btn btn-sm btn-ghost",
                    &format!("Revoke the invitation for {}?", inv.email)))
            }
        }
    }
}

/// The "Invite a member" card: seats left, then the form — or the upgrade
/// prompt when no seat is left, or a note when the inviter's email is unconfirmed.
pub fn invite_card(v: &TeamView) -> Markup {
    let seats = &v.seats;
    html! {
        section.card.stack #invite aria-labelledby="invite-title" {
            div.card-head {
                h2 #invite-title { "Invite a member" }
                span.muted.small {
                    @match seats.left() {
                        Some(left) => { (left) (if left == 1 { " seat" } else { " seats" }) " left of " (format_limit(seats.limit)) }
                        None => { "Unlimited seats" }
                    }
                }
            }
            @if let Some(message) = v.invite.limit_message.as_deref().or(seats.full().then_some("")) {
                div.banner.banner-warn role="status" {
                    div {
                        strong { "No seats left." }
                        " "
                        @if message.is_empty() {
                            "Your " (seats.plan_name) " plan includes " (format_limit(seats.limit))
                            " seats, and members plus open invitations use them all. Upgrade to invite more, or revoke an open invitation."
                        } @else { (message) }
                    }
                    div.banner-actions { a.btn.btn-sm.btn-primary href="/plans" { "Upgrade plan" } }
                }
            } @else if !v.email_verified {
                div.banner.banner-info role="status" {
                    "Please confirm your email address before inviting others. "
                    a href="/account" { "Resend the confirmation link" }
                }
            } @else {
                (invite_form(v))
            }
        }
    }
}

fn invite_form(v: &TeamView) -> Markup {
    let errors = &v.invite.errors;
    let role_error = errors.get("role");
    let chosen = if v.invite.role.is_empty() {
        Role::Member.as_str()
    } else {
        v.invite.role.as_str()
    };
    html! {
        form.stack method="post" action="/team/invitations" hx-post="/team/invitations"
            hx-target="#team" hx-swap="outerHTML" novalidate {
            (csrf(v.csrf))
            (form_errors(errors))
            div.form-row {
                (Field::new("email", "Email address", &v.invite.email).kind("email").required()
                    .autocomplete("off").render(errors))
                div.field.has-error[role_error.is_some()] {
                    label for="f-role" { "Role" }
                    select #f-role name="role" aria-invalid=[role_error.map(|_| "true")]
                        aria-describedby=[role_error.map(|_| "f-role-error")] {
                        @for r in INVITABLE {
                            option value=(r.as_str()) selected[r.as_str() == chosen] { (r.label()) }
                        }
                    }
                    @if let Some(e) = role_error { p.field-error #f-role-error { (e) } }
                }
            }
            div.form-actions {
                button.btn.btn-primary type="submit" { "Send invitation" }
                span.muted.small { "The link is valid for 7 days. Admins manage members; members work with leads; viewers only read." }
            }
        }
    }
}

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
            p.small.muted { "Not now? " a href="/dashboard" { "Go to your dashboard" } }
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
