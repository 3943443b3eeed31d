//! The organization picker: the user's organizations and a form for a new one.

use maud::{html, Markup};

use crate::db::orgs::Membership;
use crate::forms::FieldErrors;
use crate::views::components::{csrf, Field};

pub fn body(
    orgs: &[Membership],
    current: Option<crate::ids::OrgId>,
    token: &str,
    errors: &FieldErrors,
    name: &str,
) -> Markup {
    html! {
        div.page-head { h1 { "Your organizations" } }
        section.card {
            @if orgs.is_empty() {
                p.muted { "You are not a member of any organization yet. Create one below, or ask a team owner for an invitation." }
            } @else {
                div.table-wrap { table.data {
                    thead { tr { th { "Organization" } th { "Your role" } th { "Plan" } th { span.sr-only { "Action" } } } }
                    tbody { @for m in orgs { (row(m, current == Some(m.org_id), token)) } }
                } }
            }
        }
        section.card {
            h2 { "Create an organization" }
            form.stack method="post" action="/orgs" novalidate {
                (csrf(token))
                (Field::new("name", "Organization name", name).required().render(errors))
                button.btn.btn-primary type="submit" { "Create organization" }
            }
        }
    }
}

fn row(m: &Membership, is_current: bool, token: &str) -> Markup {
    let role = m.role.label();
    let plan = m.plan.name();
    html! {
        tr {
            td { strong { (m.name) } br; span.muted.small.mono { (m.slug) } }
            td { span.badge.badge-gray { (role) } }
            td { (plan) }
            td.num {
                @if is_current { span.badge.badge-green { "Current" } }
                @else {
                    form.inline-form method="post" action="/orgs/switch" {
                        (csrf(token))
                        input type="hidden" name="org_id" value=(m.org_id);
                        button.btn.btn-sm type="submit" { "Open" }
                    }
                }
            }
        }
    }
}
