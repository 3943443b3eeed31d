//! Signed-out account pages: "forgot password", the answer it always gives,
//! the reset form, and the page for a link that no longer works. Each card
//! (`#forgot-card`, `#reset-card`) is also the HTMX fragment of its form.

use maud::{html, Markup};

use crate::forms::FieldErrors;
use crate::views::components::{csrf, form_errors, Field};
use crate::views::layout;

pub fn forgot_page(token: &str, email: &str, errors: &FieldErrors) -> Markup {
    layout::public_page(
        "Reset your password",
        Some(token),
        forgot_card(token, email, errors),
    )
}

pub fn forgot_card(token: &str, email: &str, errors: &FieldErrors) -> Markup {
    html! {
        section.auth-card #forgot-card {
            h1 { "Forgot your password?" }
            p.muted { "Enter the email address of your account and we will send you a link to choose a new password." }
            form.stack method="post" action="/password/forgot" hx-post="/password/forgot"
                hx-target="#forgot-card" hx-swap="outerHTML" novalidate {
                (csrf(token))
                (form_errors(errors))
                (Field::new("email", "Email", email).kind("email").required().autocomplete("username").render(errors))
                button.btn.btn-primary type="submit" { "Send reset link" }
            }
            p.auth-alt { "Remembered it? " a href="/login" { "Sign in" } }
        }
    }
}

/// The same answer whether or not the address has an account.
pub fn sent_page() -> Markup {
    layout::public_page("Check your email", None, sent_card())
}

pub fn sent_card() -> Markup {
    html! {
        section.auth-card #forgot-card {
            h1 { "Check your email" }
            p { "If an account uses that address, we have sent it a link to choose a new password. The link works once, for one hour." }
            p.muted.small { "Nothing arrived after a few minutes? Check your spam folder, or "
                a href="/password/forgot" { "ask for a new link" } "." }
            p { a.btn href="/login" { "Back to sign in" } }
        }
    }
}

pub fn reset_page(token: &str, reset_token: &str, email: &str, errors: &FieldErrors) -> Markup {
    layout::public_page(
        "Choose a new password",
        Some(token),
        reset_card(token, reset_token, email, errors),
    )
}

pub fn reset_card(token: &str, reset_token: &str, email: &str, errors: &FieldErrors) -> Markup {
    let action = format!("/password/reset/{reset_token}");
    html! {
        section.auth-card #reset-card {
            h1 { "Choose a new password" }
            p.muted { "For " strong { (email) } ". Every session of this account is signed out when you save it." }
            form.stack method="post" action=(action) hx-post=(action) hx-target="#reset-card" hx-swap="outerHTML" novalidate {
                (csrf(token))
                (form_errors(errors))
                // Lets password managers file the new password under the right account.
                input type="hidden" name="username" value=(email) autocomplete="username";
                (Field::new("password", "New password", "").kind("password").required()
                    .autocomplete("new-password").hint("At least 8 characters.").render(errors))
                button.btn.btn-primary type="submit" { "Save new password and sign in" }
            }
        }
    }
}

/// A reset, verification or email-change link that is unknown, expired or used.
pub fn link_invalid_page(what: &str, retry_href: &str, retry_label: &str) -> Markup {
    layout::public_page(
        "Link no longer valid",
        None,
        html! {
            section.auth-card {
                h1 { "This link no longer works" }
                p { "The " (what) " link is unknown, has expired, or was already used. Links work once, and only for a limited time." }
                p { a.btn.btn-primary href=(retry_href) { (retry_label) } }
            }
        },
    )
}

/// The page an email link opens: one button that does what the link is
/// for. A GET never acts, so a mail scanner that fetches the link changes
/// nothing.
pub fn confirm_link_page(token: &str, action: &str, heading: &str, text: &str) -> Markup {
    layout::public_page(
        heading,
        Some(token),
        html! {
            section.auth-card {
                h1 { (heading) }
                p { (text) }
                form.stack method="post" action=(action) {
                    (csrf(token))
                    button.btn.btn-primary type="submit" { (heading) }
                }
            }
        },
    )
}

/// Email confirmed, for someone who is not signed in on this browser.
pub fn email_confirmed_page(email: &str) -> Markup {
    layout::public_page(
        "Email confirmed",
        None,
        html! {
            section.auth-card {
                h1 { "Email address confirmed" }
                p { "Thank you: " strong { (email) } " is confirmed." }
                p { a.btn.btn-primary href="/login" { "Sign in" } }
            }
        },
    )
}
