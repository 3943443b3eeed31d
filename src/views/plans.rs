//! Plans: the four plans side by side with a monthly/yearly switch that works
//! without script (radios + CSS), the owner's change buttons, the subscription
//! card, and the confirmation page that lists what a downgrade would exceed.
//! `#plans-body` is the HTMX target of every form here.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};

use crate::domain::billing::{Excess, Interval, SubscriptionState};
use crate::domain::plans::{format_euros, format_limit, Feature, LimitKind, Plan};
use crate::domain::subscription::Status;
use crate::views::components::csrf;
use crate::views::format::{local_date, status_badge};
use crate::views::usage::price_line;

/// The id every plan form targets.
pub const BODY_ID: &str = "plans-body";

/// What `/plans` shows.
pub struct PlansView<'a> {
    pub state: SubscriptionState,
    pub effective: Plan,
    pub trial_days_left: i64,
    pub period_end: DateTime<Utc>,
    /// The instant of the request the page answers.
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub role_label: &'static str,
    /// OWNER: may change plan, cancel, resume, add a payment method.
    pub can_manage: bool,
    /// OWNER and ADMIN: see the subscription details.
    pub can_view_billing: bool,
    pub portal_url: Option<String>,
    /// A change sent to Stripe and not confirmed by its webhook yet.
    pub pending: Option<String>,
    /// The interval of a change Stripe scheduled for the period end.
    pub scheduled_interval: Option<Interval>,
    pub csrf: &'a str,
    /// A message above the plans after a change (HTMX answers carry it here).
    pub flash: Option<String>,
    pub error: Option<String>,
}

pub fn body(v: &PlansView) -> Markup {
    let head = html! {
        div.page-head {
            div {
                h1 { "Plans" }
                p { "You are on " strong { (v.state.plan.name()) } " " (status_badge(v.state.status)) (trial_note(v)) ". Prices in euro, excl. VAT." }
            }
            div.actions { (billing_toggle(v.state.interval)) }
        }
    };
    let cards = plan_cards(Some(v.effective), |plan| plan_action(v, plan));
    html! {
        div #(BODY_ID) .stack-lg {
            @if let Some(f) = &v.flash { div.flash.flash-success role="status" { (f) } }
            @if let Some(e) = &v.error { div.form-errors role="alert" tabindex="-1" { (e) } }
            (status_banners(v))
            @if v.can_manage {
                form.billing.stack-lg method="post" action="/plans/change" hx-post="/plans/change"
                    hx-target={ "#" (BODY_ID) } hx-swap="outerHTML" {
                    (head)
                    (cards)
                    (csrf(v.csrf))
                }
            } @else {
                div.billing.stack-lg { (head) (cards) }
            }
            @if v.can_view_billing { (subscription_card(v)) }
        }
    }
}

fn trial_note(v: &PlansView) -> String {
    if v.state.status == Status::Trial {
        let d = v.trial_days_left;
        format!(" · {d} trial day{} left", if d == 1 { "" } else { "s" })
    } else {
        String::new()
    }
}

/// Monthly / yearly radios (`name=interval`); the `.billing` ancestor shows the matching prices.
pub fn billing_toggle(selected: Interval) -> Markup {
    html! {
        fieldset.billing-toggle {
            legend.sr-only { "Billing interval" }
            input type="radio" #iv-monthly name="interval" value="monthly" checked[selected == Interval::Monthly];
            label for="iv-monthly" { "Monthly" }
            input type="radio" #iv-yearly name="interval" value="yearly" checked[selected == Interval::Yearly];
            label for="iv-yearly" { "Yearly " span.save { "2 months free" } }
        }
    }
}

fn status_banners(v: &PlansView) -> Markup {
    let s = &v.state;
    let end = local_date(v.period_end, v.tz);
    html! {
        @if !v.can_manage {
            div.banner.banner-info role="status" {
                "You are " (article(v.role_label)) " " strong { (v.role_label) } " here: only an owner can change the plan."
            }
        }
        @if let Some(what) = &v.pending { (pending_banner(what, ("/plans", BODY_ID), "/plans")) }
        @if s.status == Status::PastDue {
            div.banner.banner-warn role="alert" #past-due {
                strong { "A payment failed." } " Pay the open amount to keep " (s.plan.name()) ". "
                @if v.can_view_billing { a href="/billing#pay-now" { "Pay now" } }
            }
        }
        @if let Some(next) = s.scheduled_plan.filter(|_| s.keeps_plan(v.now)) {
            div.banner role="status" #scheduled-change {
                div { strong { "Your plan changes to " (next.name()) (interval_note(v.scheduled_interval)) " on " (end) "." } " Until then " (s.plan.name()) " stays in force." }
                @if v.can_manage { div.banner-actions { (small_form("/plans/resume", v.csrf, &format!("Keep {}", s.plan.name()), "btn-sm")) } }
            }
        }
        @if s.cancel_at_period_end {
            div.banner.banner-warn role="status" #cancel-pending {
                div { strong { "Your subscription ends on " (end) "." } " After that the Free limits apply; nothing is deleted." }
                @if v.can_manage { div.banner-actions { (small_form("/plans/resume", v.csrf, "Resume subscription", "btn-sm")) } }
            }
        }
        @if !s.keeps_plan(v.now) {
            div.banner.banner-warn role="status" #subscription-ended {
                strong { "Your " (s.plan.name()) " subscription is " (s.status.label().to_lowercase()) "." }
                " The Free plan's limits apply until you choose a plan."
            }
        }
    }
}

/// " (yearly)" when a scheduled change names its interval.
fn interval_note(interval: Option<Interval>) -> String {
    interval
        .map(|i| format!(" ({})", i.label().to_lowercase()))
        .unwrap_or_default()
}

/// "Waiting for confirmation": polls `source` every two seconds with HTMX
/// and swaps in its `#target` (the confirmed state shows once the webhook
/// has arrived); without script, the link reloads `page`.
pub fn pending_banner(what: &str, (source, target): (&str, &str), page: &str) -> Markup {
    html! {
        div.banner.banner-info role="status" #pending-change
            hx-get=(source) hx-select={ "#" (target) } hx-target={ "#" (target) }
            hx-swap="outerHTML" hx-trigger="every 2s" {
            strong { (what) " is waiting for confirmation from Stripe." }
            " This page updates by itself once Stripe confirms. "
            a href=(page) { "Refresh" }
        }
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    }
}

/// A one-button form that works with and without HTMX.
fn small_form(action: &str, token: &str, label: &str, class: &str) -> Markup {
    html! {
        form method="post" action=(action) hx-post=(action) hx-target={ "#" (BODY_ID) } hx-swap="outerHTML" {
            (csrf(token))
            button.btn.(class) type="submit" { (label) }
        }
    }
}

/// The button at the foot of a plan card for the owner.
fn plan_action(v: &PlansView, plan: Plan) -> Markup {
    if !v.can_manage {
        return html! {};
    }
    let s = &v.state;
    let in_trial = s.status == Status::Trial;
    if plan == v.effective {
        return html! { button.btn.btn-primary type="button" disabled { "Your plan" } };
    }
    if s.scheduled_plan == Some(plan) && s.keeps_plan(v.now) {
        let starts = v.period_end.with_timezone(&v.tz).format("%-d %b");
        return html! { button.btn type="button" disabled { "Starts " (starts) } };
    }
    let upgrade = plan.rank() > v.effective.rank();
    let label = match (upgrade, in_trial) {
        (true, true) => format!("Try {}", plan.name()),
        (true, false) => format!("Upgrade to {}", plan.name()),
        (false, _) => format!("Downgrade to {}", plan.name()),
    };
    html! {
        button.btn.btn-primary[upgrade] type="submit" name="plan" value=(plan.as_str()) { (label) }
    }
}

fn subscription_card(v: &PlansView) -> Markup {
    let s = &v.state;
    let running = matches!(s.status, Status::Active | Status::PastDue);
    let can_cancel = v.can_manage && running && s.plan.is_paid() && !s.cancel_at_period_end;
    let wants_method = v.can_manage && !s.has_payment_method && s.plan.is_paid();
    html! {
        section.card aria-labelledby="subscription-title" #subscription {
            div.card-head { h2 #subscription-title { "Subscription" } }
            dl.kv {
                dt { "Plan" } dd { (s.plan.name()) " " (status_badge(s.status)) }
                dt { "Price" } dd { (price_line(s.plan, s.interval)) }
                @if s.status == Status::Trial {
                    dt { "Trial ends" } dd { (s.trial_ends_at.map(|t| local_date(t, v.tz)).unwrap_or_default()) }
                } @else if running {
                    dt { (if s.cancel_at_period_end { "Ends" } else { "Current period ends" }) }
                    dd { (local_date(v.period_end, v.tz)) }
                }
                dt { "Payment method" }
                dd {
                    @if s.has_payment_method { "On file" } @else { "None" }
                    @if let Some(url) = &v.portal_url { " · " a href=(url) { "Manage" } }
                }
            }
            @if can_cancel || wants_method {
                div.card-foot.cluster {
                    @if wants_method {
                        (small_form("/plans/payment-method", v.csrf, "Add payment method", "btn-primary"))
                        span.muted.small { "Needed to keep " (s.plan.name()) " after " (if s.status == Status::Trial { "the trial" } else { "this period" }) "; nothing is charged now." }
                    }
                    @if can_cancel {
                        form method="post" action="/plans/cancel" hx-post="/plans/cancel" hx-target={ "#" (BODY_ID) } hx-swap="outerHTML" {
                            (csrf(v.csrf))
                            button.btn.btn-danger-outline type="submit"
                                data-confirm="Cancel the subscription at the end of the period?" { "Cancel subscription" }
                        }
                    }
                }
            }
        }
    }
}

/// The four plans side by side; `current` is marked; `foot` renders each card's button.
pub fn plan_cards(current: Option<Plan>, foot: impl Fn(Plan) -> Markup) -> Markup {
    html! {
        div.plans {
            @for plan in Plan::ALL {
                @let is_current = current == Some(plan);
                article.plan.is-current[is_current].is-featured[plan == Plan::Professional && !is_current]
                    aria-current=[is_current.then_some("true")] {
                    @if is_current { span.plan-tag { "Current plan" } }
                    @else if plan == Plan::Professional { span.plan-tag { "Most popular" } }
                    h2.plan-name { (plan.name()) }
                    (prices(plan))
                    p.plan-desc { (description(plan)) }
                    ul.features {
                        @for kind in LimitKind::ALL { li.yes { (limit_line(kind, plan.limit(kind))) } }
                        @for feature in Feature::ALL {
                            @if plan.spec().features.has(feature) { li.yes { (feature_label(plan, feature)) } }
                            @else { li.no { span.sr-only { "Not included: " } (feature_label(plan, feature)) } }
                            @if feature == Feature::ApiAccess { (api_lines(plan)) }
                        }
                    }
                    div.plan-foot { (foot(plan)) }
                }
            }
        }
    }
}

fn prices(plan: Plan) -> Markup {
    let spec = plan.spec();
    if !plan.is_paid() {
        return html! {
            p.plan-price { "€0" span.per { "/month" } }
            p.plan-price-note { "Free forever" }
        };
    }
    let per_month_of_year = format_euros((spec.yearly_cents + 6) / 12);
    html! {
        p.plan-price.when-monthly { (format_euros(spec.monthly_cents)) span.per { "/month" } }
        p.plan-price.when-yearly { (format_euros(spec.yearly_cents)) span.per { "/year" } }
        p.plan-price-note {
            span.when-monthly { "or " (format_euros(spec.yearly_cents)) " billed yearly" }
            span.when-yearly { "≈ " (per_month_of_year) " / month" }
        }
    }
}

fn description(plan: Plan) -> &'static str {
    match plan {
        Plan::Free => "Try the workflow on a handful of leads.",
        Plan::Starter => "For a small team starting outreach.",
        Plan::Professional => "For growing teams that automate.",
        Plan::Enterprise => "Your brand, no limits, a named contact.",
    }
}

fn feature_label(plan: Plan, feature: Feature) -> &'static str {
    match (plan, feature) {
        (Plan::Starter, Feature::PrioritySupport) => "Priority email support",
        _ => feature.label(),
    }
}

/// The API's rate limit and its `api_call` meter, under "API access".
fn api_lines(plan: Plan) -> Markup {
    match plan.api_calls_per_minute() {
        Some(n) => html! {
            li.yes { (format_limit(Some(n))) " API calls / minute" }
            li.yes { "API calls counted per day on Usage" }
        },
        None => html! {},
    }
}

/// "1 user", "3 users", "500 leads / month", "Unlimited sequences".
pub fn limit_line(kind: LimitKind, limit: Option<i64>) -> String {
    let (one, many, per) = match kind {
        LimitKind::LeadsPerMonth => ("lead", "leads", " / month"),
        LimitKind::Users => ("user", "users", ""),
        LimitKind::MessagesPerDay => ("message", "messages", " / day"),
        LimitKind::Templates => ("template", "templates", ""),
        LimitKind::Sequences => ("sequence", "sequences", ""),
    };
    match limit {
        None => format!("Unlimited {many}"),
        Some(1) => format!("1 {one}{per}"),
        Some(n) => format!("{} {many}{per}", format_limit(Some(n))),
    }
}

/// What a downgrade needs confirmed.
pub struct DowngradeView<'a> {
    pub from: Plan,
    pub to: Plan,
    pub interval: Interval,
    pub in_trial: bool,
    pub effective_at: DateTime<Utc>,
    pub tz: Tz,
    pub impact: &'a [Excess],
    pub csrf: &'a str,
}

pub fn confirm_downgrade(d: &DowngradeView) -> Markup {
    let when = if d.in_trial {
        "It applies at once: you are in your trial.".to_string()
    } else {
        format!(
            "It takes effect on {}, at the end of the current period; until then {} stays in force.",
            local_date(d.effective_at, d.tz),
            d.from.name()
        )
    };
    html! {
        div #(BODY_ID) .stack-lg {
            div.page-head {
                div { h1 { "Downgrade to " (d.to.name()) "?" } p { "From " (d.from.name()) ". " (when) } }
            }
            section.card aria-labelledby="impact-title" #downgrade-impact {
                h2 #impact-title { "What changes" }
                (impact_table(d))
                div.card-foot.cluster {
                    form method="post" action="/plans/change" hx-post="/plans/change" hx-target={ "#" (BODY_ID) } hx-swap="outerHTML" {
                        (csrf(d.csrf))
                        input type="hidden" name="plan" value=(d.to.as_str());
                        input type="hidden" name="interval" value=(d.interval.form_value());
                        input type="hidden" name="confirm" value="yes";
                        button.btn.btn-danger type="submit" { "Downgrade to " (d.to.name()) }
                    }
                    a.btn href="/plans" { "Keep " (d.from.name()) }
                }
            }
        }
    }
}

fn impact_table(d: &DowngradeView) -> Markup {
    html! {
        @if d.impact.is_empty() {
            p { "Everything you have today fits within " (d.to.name()) "'s limits." }
        } @else {
            p { "These are over " (d.to.name()) "'s limits today:" }
            div.table-wrap {
                table.data {
                    thead { tr { th { "Limit" } th.num { "You have" } th.num { (d.to.name()) " allows" } } }
                    tbody {
                        @for e in d.impact {
                            tr data-exceeds=(e.kind.as_str()) {
                                td { (e.kind.label()) }
                                td.num { (format_limit(Some(e.used))) }
                                td.num { (format_limit(Some(e.limit))) }
                            }
                        }
                    }
                }
            }
            p.muted.small { "Nothing is deleted: what is over the limit stays readable, but nothing new of that kind can be added until you are under the limit again (new leads count from the next month)." }
        }
        @let lost: Vec<_> = Feature::ALL.into_iter()
            .filter(|f| d.from.spec().features.has(*f) && !d.to.spec().features.has(*f)).collect();
        @if !lost.is_empty() {
            p { "Features you lose: " (lost.iter().map(|f| f.label()).collect::<Vec<_>>().join(", ")) "." }
        }
    }
}
