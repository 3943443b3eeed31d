//! The public landing page: what the product does and its pricing.

use maud::{html, Markup};

use crate::domain::plans::{format_euros, format_limit, LimitKind, Plan};
use crate::views::layout;

pub fn page() -> Markup {
    layout::public_page(
        "Outreach for B2B teams",
        None,
        html! {
            section.hero {
                h1 { "Outreach your whole team can run" }
                p.lead { "Keep your leads, write templates, run multi-step sequences and send messages — with clear plans, live usage and your data kept apart from everyone else's." }
                p { a.btn.btn-primary href="/signup" { "Start your 14-day free trial" } " " a.btn href="/login" { "Sign in" } }
            }
            section.pricing aria-labelledby="pricing-title" {
                h2 #pricing-title { "Pricing" }
                (plans_grid(None))
            }
        },
    )
}

/// The four plans side by side; `current` is marked.
pub fn plans_grid(current: Option<Plan>) -> Markup {
    html! {
        div.plans {
            @for plan in Plan::ALL {
                @let spec = plan.spec();
                article.plan.is-current[current == Some(plan)] {
                    h3 { (plan.name()) }
                    p.plan-price { (format_euros(spec.monthly_cents)) span.per { " / month" } }
                    p.small.muted { (format_euros(spec.yearly_cents)) " billed yearly" }
                    ul.features {
                        @for kind in LimitKind::ALL {
                            li.yes { (format_limit(plan.limit(kind))) " " (kind.label().to_lowercase()) }
                        }
                        @for (label, has) in spec.features.list() {
                            li.yes[has].no[!has] { (label) }
                        }
                    }
                }
            }
        }
    }
}
