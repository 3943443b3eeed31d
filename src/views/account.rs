//! The account page: profile, email address (confirmation, change), password
//! and account deletion, one card each. Every card is also the fragment its
//! form's HTMX request swaps (`#profile-card`, `#email-card`, …).

use chrono::{DateTime, Utc};
use maud::{html, Markup};

use crate::db::account_deletion::{Fate, Plan};
use crate::db::models::User;
use crate::forms::FieldErrors;
use crate::views::components::{csrf, form_errors, Field};

/// The cards of the account page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    Profile,
    Email,
    Password,
    Delete,
}

impl Card {
    pub fn id(self) -> &'static str {
        match self {
            Card::Profile => "profile-card",
            Card::Email => "email-card",
            Card::Password => "password-card",
            Card::Delete => "delete-card",
        }
    }

    fn target(self) -> String {
        format!("#{}", self.id())
    }
}

/// The result of a form, shown in its card: errors, or a confirmation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub card: Card,
    pub errors: FieldErrors,
    pub notice: Option<String>,
    /// The text the user typed into the card's main field, kept on errors.
    pub value: String,
}

impl Outcome {
    pub fn failed(card: Card, errors: FieldErrors, value: &str) -> Outcome {
        Outcome {
            card,
            errors,
            notice: None,
            value: value.to_string(),
        }
    }

    pub fn done(card: Card, notice: &str) -> Outcome {
        Outcome {
            card,
            errors: FieldErrors::new(),
            notice: Some(notice.to_string()),
            value: String::new(),
        }
    }
}

/// What the page shows, loaded fresh for each response.
pub struct AccountData {
    pub user: User,
    pub pending_email: Option<(String, DateTime<Utc>)>,
    pub deletion: Plan,
    pub live_sessions: usize,
}

/// Profile / Sessions tabs at the top of both account pages.
pub fn tabs(current: &str) -> Markup {
    let tab = |href: &str, label: &str| {
        html! { a href=(href) aria-current=[(href == current).then_some("page")] { (label) } }
    };
    html! {
        nav.tabs aria-label="Account sections" {
            (tab("/account", "Profile & security"))
            (tab("/account/sessions", "Sessions"))
        }
    }
}

pub fn body(data: &AccountData, token: &str, outcome: Option<&Outcome>) -> Markup {
    html! {
        div.page-head {
            div { h1 { "Your account" } p { "Signed in as " strong { (data.user.email) } } }
        }
        (tabs("/account"))
        div.grid-2 {
            div.stack {
                (profile_card(&data.user, token, outcome))
                (email_card(data, token, outcome))
                (password_card(token, outcome))
            }
            div.stack {
                (sessions_card(data.live_sessions))
                (delete_card(&data.deletion, token, outcome))
            }
        }
    }
}

/// The card a form's outcome belongs to (the HTMX fragment).
pub fn card(data: &AccountData, token: &str, outcome: &Outcome) -> Markup {
    let o = Some(outcome);
    match outcome.card {
        Card::Profile => profile_card(&data.user, token, o),
        Card::Email => email_card(data, token, o),
        Card::Password => password_card(token, o),
        Card::Delete => delete_card(&data.deletion, token, o),
    }
}

fn outcome_for(outcome: Option<&Outcome>, card: Card) -> Option<&Outcome> {
    outcome.filter(|o| o.card == card)
}

fn notice(outcome: Option<&Outcome>) -> Markup {
    html! {
        @if let Some(text) = outcome.and_then(|o| o.notice.as_deref()) {
            div.flash.flash-success role="status" { (text) }
        }
        @if let Some(o) = outcome { (form_errors(&o.errors)) }
    }
}

/// `form` attributes for a card: plain POST, or HTMX swapping the card.
fn form_attrs(card: Card) -> (String, &'static str) {
    (card.target(), "outerHTML")
}

/// A card that is one form: heading (id, text), the outcome's notice and
/// errors, then `fields` posted to `action`.
fn form_card(
    card: Card,
    (heading_id, heading): (&str, &str),
    action: &str,
    o: Option<&Outcome>,
    token: &str,
    fields: Markup,
) -> Markup {
    let (target, swap) = form_attrs(card);
    html! {
        section.card #(card.id()) aria-labelledby=(heading_id) {
            h2 id=(heading_id) { (heading) }
            (notice(o))
            form.stack method="post" action=(action) hx-post=(action) hx-target=(target) hx-swap=(swap) novalidate {
                (csrf(token))
                (fields)
            }
        }
    }
}

fn profile_card(user: &User, token: &str, outcome: Option<&Outcome>) -> Markup {
    let o = outcome_for(outcome, Card::Profile);
    let errors = o.map(|o| o.errors.clone()).unwrap_or_default();
    let name = o
        .filter(|o| !o.errors.is_empty())
        .map_or(user.name.as_str(), |o| o.value.as_str());
    let fields = html! {
        (Field::new("name", "Your name", name).required().autocomplete("name")
            .hint("Shown to your team and in the audit log.").render(&errors))
        div.form-actions { button.btn.btn-primary type="submit" { "Save name" } }
    };
    let heading = ("profile-title", "Profile");
    form_card(Card::Profile, heading, "/account", o, token, fields)
}

fn email_status(user: &User) -> Markup {
    html! {
        dl.kv {
            dt { "Current address" }
            dd {
                (user.email) " "
                @if user.email_verified_at.is_some() { span.badge.badge-green { "Confirmed" } }
                @else { span.badge.badge-amber { "Not confirmed" } }
            }
        }
    }
}

fn resend_form(token: &str) -> Markup {
    html! {
        div.banner.banner-warn role="status" {
            div { "Please confirm your address with the link we sent you. Until then you cannot invite others or send messages." }
            div.banner-actions {
                form method="post" action="/account/verify/resend" hx-post="/account/verify/resend"
                    hx-target=(Card::Email.target()) hx-swap="outerHTML" {
                    (csrf(token))
                    button.btn.btn-sm type="submit" { "Resend the link" }
                }
            }
        }
    }
}

fn email_card(data: &AccountData, token: &str, outcome: Option<&Outcome>) -> Markup {
    let user = &data.user;
    let o = outcome_for(outcome, Card::Email);
    let errors = o.map(|o| o.errors.clone()).unwrap_or_default();
    let typed = o.map_or("", |o| o.value.as_str());
    let (target, swap) = form_attrs(Card::Email);
    html! {
        section.card #(Card::Email.id()) aria-labelledby="email-title" {
            h2 #email-title { "Email address" }
            div.stack {
                (notice(o))
                (email_status(user))
                @if user.email_verified_at.is_none() { (resend_form(token)) }
                @if let Some((pending, until)) = &data.pending_email {
                    div.banner.banner-info role="status" {
                        "We sent a confirmation link to " strong { (pending) } ". "
                        "Your account keeps using " (user.email) " until you open it (the link works until "
                        (until.format("%-d %b %Y, %H:%M UTC")) ")."
                    }
                }
                form.stack method="post" action="/account/email" hx-post="/account/email" hx-target=(target) hx-swap=(swap) novalidate {
                    (csrf(token))
                    (Field::new("new_email", "New email address", typed).kind("email").required()
                        .autocomplete("email").render(&errors))
                    (Field::new("email_password", "Current password", "").kind("password").required()
                        .autocomplete("current-password")
                        .hint("We send a link to the new address; the change happens when you open it.")
                        .render(&errors))
                    div.form-actions { button.btn type="submit" { "Send confirmation link" } }
                }
            }
        }
    }
}

fn password_card(token: &str, outcome: Option<&Outcome>) -> Markup {
    let o = outcome_for(outcome, Card::Password);
    let errors = o.map(|o| o.errors.clone()).unwrap_or_default();
    let fields = html! {
        (Field::new("current_password", "Current password", "").kind("password").required()
            .autocomplete("current-password").render(&errors))
        (Field::new("new_password", "New password", "").kind("password").required()
            .autocomplete("new-password")
            .hint("At least 8 characters. Your other sessions will be signed out.").render(&errors))
        div.form-actions {
            button.btn.btn-primary type="submit" { "Change password" }
            a.small href="/password/forgot" { "Forgot your current password?" }
        }
    };
    let heading = ("password-title", "Password");
    form_card(
        Card::Password,
        heading,
        "/account/password",
        o,
        token,
        fields,
    )
}

fn sessions_card(live: usize) -> Markup {
    html! {
        section.card aria-labelledby="sessions-title" {
            h2 #sessions-title { "Sessions" }
            p.muted {
                @if live <= 1 { "You are signed in on this device only." }
                @else { "You are signed in on " (live) " devices or browsers." }
            }
            a.btn href="/account/sessions" { "Review sessions" }
        }
    }
}

fn deletion_effects(plan: &Plan) -> Markup {
    let removed = plan.with_fate(Fate::DeletedWithUser);
    let left = plan.with_fate(Fate::Left);
    html! {
        ul.small {
            li { "Your profile, sessions and memberships are removed for good." }
            @if !removed.is_empty() {
                li { "Deleted with all their data, as you are their only member: "
                    @for (i, s) in removed.iter().enumerate() { @if i > 0 { ", " } strong { (s.name) } } "." }
            }
            @if !left.is_empty() {
                li { "You leave: " @for (i, s) in left.iter().enumerate() { @if i > 0 { ", " } strong { (s.name) } }
                    ". Their data stays with the team." }
            }
        }
    }
}

fn blockers(plan: &Plan) -> Markup {
    html! {
        div.banner.banner-danger role="alert" {
            div {
                strong { "You are the last owner of:" }
                ul { @for s in plan.with_fate(Fate::Blocks) {
                    li { strong { (s.name) } " (" (s.members - 1) " other " (if s.members == 2 { "member" } else { "members" }) ")" }
                } }
                "An organization must keep an owner. Switch to each of them, make another member an owner on its "
                a href="/team" { "Team" } " page (or remove the other members), then come back here."
            }
        }
    }
}

fn delete_card(plan: &Plan, token: &str, outcome: Option<&Outcome>) -> Markup {
    let o = outcome_for(outcome, Card::Delete);
    let errors = o.map(|o| o.errors.clone()).unwrap_or_default();
    let blocked = plan.is_blocked();
    let (target, swap) = form_attrs(Card::Delete);
    html! {
        section.card.card-danger #(Card::Delete.id()) aria-labelledby="delete-title" {
            h2 #delete-title { "Delete account" }
            div.stack {
                @if let Some(o) = o { (form_errors(&o.errors)) }
                @if blocked { (blockers(plan)) }
                (deletion_effects(plan))
                form.stack method="post" action="/account/delete" hx-post="/account/delete" hx-target=(target) hx-swap=(swap) novalidate {
                    (csrf(token))
                    (Field::new("password", "Your password", "").kind("password").required()
                        .autocomplete("current-password").render(&errors))
                    div.form-actions {
                        button.btn.btn-danger type="submit" disabled[blocked]
                            data-confirm="Delete your account for good? This cannot be undone." { "Delete my account" }
                    }
                }
            }
        }
    }
}

/// The public page shown after an account was deleted.
pub fn deleted_page() -> Markup {
    crate::views::layout::public_page(
        "Account deleted",
        None,
        html! {
            section.auth-card {
                h1 { "Your account is deleted" }
                p { "Your profile, sessions and memberships are gone, and so are the organizations where you were the only member. Thank you for having used Lead Dashboard." }
                p { a.btn.btn-primary href="/" { "Go to the start page" } }
            }
        },
    )
}
