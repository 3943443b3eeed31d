//! The public landing page: what the product does and its pricing.

use maud::{html, Markup};

use crate::domain::billing::Interval;
use crate::views::layout;
use crate::views::plans::{billing_toggle, plan_cards};

pub fn page() -> Markup {
    layout::public_page(
        "Outreach for B2B teams",
        None,
        html! {
            section.hero {
                h1 { "Outreach your whole team can run" }
                p.lead { "Keep your leads, write templates, run multi-step sequences and send messages — with clear plans, live usage and your data kept apart from everyone else's." }
                div.hero-actions { a.btn.btn-primary href="/signup" { "Start your 14-day free trial" } a.btn href="/login" { "Sign in" } }
            }
            section.pricing.billing aria-labelledby="pricing-title" {
                div.pricing-head {
                    h2 #pricing-title { "Pricing" }
                    p { "Every plan starts with a 14-day free trial of any plan you like. Prices in euro, excl. VAT." }
                    (billing_toggle(Interval::Monthly))
                }
                (plans_grid())
            }
        },
    )
}

/// The four plans side by side, each with a sign-up button.
pub fn plans_grid() -> Markup {
    plan_cards(None, |plan| {
        html! {
            a.btn.btn-primary[plan.is_paid()] href="/signup" {
                @if plan.is_paid() { "Start free trial" } @else { "Sign up free" }
            }
        }
    })
}
