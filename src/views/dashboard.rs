//! The dashboard: the current organization at a glance.

use maud::{html, Markup};

use crate::db::models::{Organization, Subscription};
use crate::db::orgs::Overview;
use crate::domain::plans::format_limit;
use crate::domain::plans::LimitKind;

pub struct DashboardData<'a> {
    pub org: &'a Organization,
    pub subscription: &'a Subscription,
    pub overview: &'a Overview,
    pub effective_plan: crate::domain::plans::Plan,
    pub trial_days_left: i64,
}

pub fn body(d: &DashboardData) -> Markup {
    let plan = d.effective_plan;
    let status = d.subscription.status;
    html! {
        div.page-head {
            h1 { (d.org.name) }
            div.actions { a.btn href="/usage" { "Usage & plan" } a.btn.btn-primary href="/leads" { "Open leads" } }
        }
        section.stats aria-label="Overview" {
            div.stat #stat-plan { div.stat-label { "Plan" } div.stat-value { (plan.name()) } div.stat-sub { (status.label()) } }
            div.stat #stat-trial {
                div.stat-label { "Trial" }
                div.stat-value { (d.trial_days_left) }
                div.stat-sub { @if status == crate::domain::subscription::Status::Trial { "days left" } @else { "not on trial" } }
            }
            div.stat #stat-members {
                div.stat-label { "Members" }
                div.stat-value { (d.overview.members) }
                div.stat-sub { "of " (format_limit(plan.limit(LimitKind::Users))) }
            }
            div.stat #stat-leads {
                div.stat-label { "Leads" }
                div.stat-value { (d.overview.leads) }
                div.stat-sub { (format_limit(plan.limit(LimitKind::LeadsPerMonth))) " new per month" }
            }
        }
        section.card {
            h2 { "Next steps" }
            ul.checklist {
                (step(d.overview.leads > 0, "/leads", "Add or import your leads"))
                (step(d.overview.has_template, "/templates", "Write a message template"))
                (step(d.overview.has_sequence, "/sequences", "Build a sequence"))
                (step(d.overview.has_team, "/team", "Invite your team"))
            }
        }
    }
}

/// One getting-started step, ticked once it is done (the link stays).
fn step(done: bool, href: &str, text: &str) -> Markup {
    html! {
        li.done[done] {
            a href=(href) { (text) }
            @if done { span.sr-only { " (done)" } }
        }
    }
}
