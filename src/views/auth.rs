//! Sign-up and sign-in forms (signed-out shell).

use maud::{html, Markup};

use crate::forms::FieldErrors;
use crate::views::components::{csrf, form_errors, Field};
use crate::views::layout;

/// Values a sign-up form is re-rendered with.
#[derive(Debug, Default, Clone)]
pub struct SignupValues {
    pub name: String,
    pub email: String,
    /// Set when signing up from an invitation: the email cannot be changed.
    pub invitation_token: Option<String>,
}

pub fn signup_page(token: &str, values: &SignupValues, errors: &FieldErrors) -> Markup {
    let email_fixed = values.invitation_token.is_some();
    let mut email = Field::new("email", "Work email", &values.email)
        .kind("email")
        .required()
        .autocomplete("email");
    if email_fixed {
        email = email
            .readonly()
            .hint("The invitation was sent to this address.");
    }
    layout::public_page(
        "Create your account",
        Some(token),
        html! {
            section.auth-card {
                h1 { "Create your account" }
                @if email_fixed {
                    p.muted { "One step to accept your invitation: your name and a password." }
                } @else {
                    p.muted { "14 days free on any plan. No card needed." }
                }
                form.stack method="post" action="/signup" novalidate {
                    (csrf(token))
                    @if let Some(t) = &values.invitation_token { input type="hidden" name="invitation" value=(t); }
                    (form_errors(errors))
                    (Field::new("name", "Your name", &values.name).required().autocomplete("name").render(errors))
                    (email.render(errors))
                    (Field::new("password", "Password", "").kind("password").required()
                        .autocomplete("new-password").hint("At least 8 characters.").render(errors))
                    button.btn.btn-primary type="submit" { "Create account" }
                }
                p.auth-alt { "Already have an account? " a href=(sign_in_href(values)) { "Sign in" } }
            }
        },
    )
}

/// Sign-in link of the sign-up form; from an invitation it leads back to it.
fn sign_in_href(values: &SignupValues) -> String {
    match &values.invitation_token {
        Some(t) => {
            let t: String = form_urlencoded::byte_serialize(t.as_bytes()).collect();
            format!("/login?next=%2Finvitations%2F{t}")
        }
        None => "/login".into(),
    }
}

pub fn login_page(token: &str, email: &str, errors: &FieldErrors, next: Option<&str>) -> Markup {
    layout::public_page(
        "Sign in",
        Some(token),
        html! {
            section.auth-card {
                h1 { "Sign in" }
                form.stack method="post" action="/login" novalidate {
                    (csrf(token))
                    @if let Some(n) = next { input type="hidden" name="next" value=(n); }
                    (form_errors(errors))
                    (Field::new("email", "Email", email).kind("email").required().autocomplete("username").render(errors))
                    (Field::new("password", "Password", "").kind("password").required()
                        .autocomplete("current-password").render(errors))
                    button.btn.btn-primary type="submit" { "Sign in" }
                }
                p.auth-alt {
                    a href="/password/forgot" { "Forgot your password?" }
                    " · New here? " a href="/signup" { "Create an account" }
                }
            }
        },
    )
}
