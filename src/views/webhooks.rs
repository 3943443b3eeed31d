//! The webhooks pages: `/settings/webhooks` lists the endpoints with the
//! form to add one (or the upgrade prompt), and shows a new endpoint's
//! secret once; `/settings/webhooks/{id}` has the endpoint's form, its
//! actions (test, rotate, delete) and its delivery log with redelivery.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};
use uuid::Uuid;

use crate::db::webhooks::{Attempt, Endpoint};
use crate::forms::FieldErrors;
use crate::views::components::{csrf, data_table, empty_state, form_errors, Field};
use crate::views::format::date_time;
use crate::webhooks::events::EventType;

/// The endpoint form as typed (or as stored).
#[derive(Debug, Clone, Default)]
pub struct FormValues {
    pub url: String,
    pub description: String,
    pub all_events: bool,
    pub events: Vec<String>,
    pub enabled: bool,
}

impl FormValues {
    /// An empty form: all events, enabled.
    pub fn new_endpoint() -> FormValues {
        FormValues {
            all_events: true,
            enabled: true,
            ..FormValues::default()
        }
    }

    pub fn of(e: &Endpoint) -> FormValues {
        let events: Vec<String> = e.event_types().iter().map(|t| t.to_string()).collect();
        FormValues {
            url: e.url.clone(),
            description: e.description.clone(),
            all_events: events.is_empty(),
            events,
            enabled: e.enabled,
        }
    }
}

/// The list page.
pub struct ListView<'a> {
    pub csrf: &'a str,
    /// The effective plan includes custom integrations.
    pub integrations: bool,
    pub endpoints: &'a [Endpoint],
    /// The endpoint just created and its secret (shown once).
    pub created: Option<(Uuid, &'a str)>,
    pub form: FormValues,
    pub errors: FieldErrors,
    pub tz: Tz,
}

pub fn list(v: &ListView) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Webhooks" }
                p { "Your own software is told when leads, messages, enrolments, members or your subscription change: "
                    "each event is POSTed as signed JSON to the endpoints you add here." }
            }
            div.actions { a.btn href="/settings" { "Settings" } }
        }
        @if !v.integrations { (upgrade()) }
        @if let Some((id, secret)) = v.created { (secret_notice(secret, Some(id))) }
        section.card.flush aria-labelledby="endpoints-title" {
            div.card-head { h2 #endpoints-title { "Endpoints" } }
            @if v.endpoints.is_empty() {
                (empty_state("No endpoints yet.", None))
            } @else {
                (data_table(&["Endpoint", "Events", "Status", "Added"], false,
                    html! { @for e in v.endpoints { (list_row(v, e)) } }))
            }
        }
        @if v.integrations {
            section.card aria-labelledby="add-title" {
                h2 #add-title { "Add an endpoint" }
                (endpoint_form("/settings/webhooks", v.csrf, &v.form, &v.errors, "Add endpoint"))
            }
        }
    }
}

/// Why nothing is sent, and where to change that.
fn upgrade() -> Markup {
    html! {
        section.card aria-labelledby="hooks-upgrade-title" {
            h2 #hooks-upgrade-title { "Webhooks come with the Professional and Enterprise plans" }
            p.muted {
                "Your current plan has no custom integrations, so no endpoint can be added and existing endpoints "
                "receive nothing. They are kept: upgrading makes them work again."
            }
            p { a.btn.btn-primary href="/plans" { "Compare plans" } }
        }
    }
}

fn secret_notice(secret: &str, id: Option<Uuid>) -> Markup {
    html! {
        div.flash.flash-success role="status" {
            p { strong { "Copy the signing secret now. " } "It is shown only this once. Receivers verify each event's "
                code { "webhook-signature" } " with it (Standard Webhooks)." }
            p { code.mono #webhook-secret { (secret) } }
            @if let Some(id) = id {
                p { a href={ "/settings/webhooks/" (id) } { "Open the endpoint, send a test event" } }
            }
        }
    }
}

fn events_text(e: &Endpoint) -> String {
    let types = e.event_types();
    if types.is_empty() {
        "All events".into()
    } else {
        types.join(", ")
    }
}

fn status_badge(e: &Endpoint, integrations: bool) -> Markup {
    html! {
        @if !integrations {
            span.badge.badge-amber { "Paused" }
            span.cell-sub { "Your plan has no custom integrations." }
        } @else if e.enabled {
            span.badge.badge-green { "Enabled" }
            @if e.failing_since.is_some() { " " span.cell-sub { "Deliveries are failing." } }
        } @else {
            span.badge { "Disabled" }
            @if let Some(why) = &e.disabled_reason { " " span.cell-sub { (why) } }
        }
    }
}

fn list_row(v: &ListView, e: &Endpoint) -> Markup {
    html! {
        tr {
            td.wrap {
                a href={ "/settings/webhooks/" (e.id) } { strong.mono { (e.url) } }
                @if !e.description.is_empty() { span.cell-sub { (e.description) } }
            }
            td.wrap { (events_text(e)) }
            td.wrap { (status_badge(e, v.integrations)) }
            td { (date_time(e.created_at, v.tz)) }
        }
    }
}

/// The form that adds or changes an endpoint.
fn endpoint_form(
    action: &str,
    token: &str,
    f: &FormValues,
    e: &FieldErrors,
    submit: &str,
) -> Markup {
    let events_error = e.get("events");
    html! {
        form.stack method="post" action=(action) novalidate {
            (csrf(token))
            (form_errors(e))
            (Field::new("url", "URL", &f.url).kind("url").required().autocomplete("off")
                .hint("Where events are POSTed; https:// only.").render(e))
            (Field::new("description", "Description", &f.description)
                .hint("Optional: what receives these events (at most 500 characters).").render(e))
            fieldset.has-error[events_error.is_some()] {
                legend { "Events" }
                div.checks {
                    label.checkbox {
                        input type="checkbox" name="all_events" value="on" checked[f.all_events];
                        "All events, including types added later"
                    }
                    @for t in EventType::ALL {
                        label.checkbox {
                            input type="checkbox" name="events" value=(t.as_str())
                                checked[f.events.iter().any(|x| x == t.as_str())];
                            code { (t.as_str()) }
                        }
                    }
                }
                @if let Some(msg) = events_error { p.field-error { (msg) } }
            }
            label.checkbox {
                input type="checkbox" name="enabled" value="on" checked[f.enabled];
                "Enabled"
            }
            div.form-actions { button.btn.btn-primary type="submit" { (submit) } }
        }
    }
}

/// The endpoint page.
pub struct DetailView<'a> {
    pub csrf: &'a str,
    pub integrations: bool,
    pub endpoint: &'a Endpoint,
    pub form: FormValues,
    pub errors: FieldErrors,
    pub attempts: &'a [Attempt],
    pub failed_only: bool,
    /// A secret just rotated (shown once).
    pub secret: Option<&'a str>,
    pub tz: Tz,
    pub now: DateTime<Utc>,
}

pub fn detail(v: &DetailView) -> Markup {
    let e = v.endpoint;
    let base = format!("/settings/webhooks/{}", e.id);
    html! {
        div.page-head {
            div {
                h1.truncate { "Webhook endpoint" }
                p.mono.wrap { (e.url) }
            }
            div.actions { a.btn href="/settings/webhooks" { "All endpoints" } }
        }
        @if !v.integrations { (upgrade()) }
        @if let Some(secret) = v.secret { (secret_notice(secret, None)) }
        div.grid-2 {
            section.card aria-labelledby="endpoint-title" {
                h2 #endpoint-title { "Endpoint" }
                p { (status_badge(e, v.integrations)) }
                (endpoint_form(&base, v.csrf, &v.form, &v.errors, "Save"))
            }
            div.stack {
                (actions_card(v, &base))
            }
        }
        (log_card(v, &base))
    }
}

fn actions_card(v: &DetailView, base: &str) -> Markup {
    let e = v.endpoint;
    html! {
        section.card aria-labelledby="actions-title" {
            h2 #actions-title { "Actions" }
            div.stack {
                @if v.integrations {
                    form method="post" action={ (base) "/test" } {
                        (csrf(v.csrf))
                        button.btn type="submit" { "Send test event" }
                        p.hint { "Sends a signed " code { "webhook.test" } " event to this endpoint only." }
                    }
                }
                form method="post" action={ (base) "/rotate" } {
                    (csrf(v.csrf))
                    button.btn type="submit" data-confirm="Make a new signing secret? The current one keeps signing for 24 hours." { "Rotate secret" }
                    p.hint {
                        @match e.previous_secret_expires_at.filter(|at| *at > v.now) {
                            Some(at) => { "The previous secret still signs until " (date_time(at, v.tz)) "." }
                            None => "For 24 hours after a rotation both secrets sign, so receivers can switch.",
                        }
                    }
                }
                form method="post" action={ (base) "/delete" } {
                    (csrf(v.csrf))
                    button.btn.btn-danger-outline type="submit" data-confirm="Delete this endpoint and its delivery log?" { "Delete endpoint" }
                }
            }
        }
    }
}

fn log_card(v: &DetailView, base: &str) -> Markup {
    html! {
        section.card.flush aria-labelledby="log-title" {
            div.card-head {
                h2 #log-title { "Delivery log" }
                div.cluster {
                    @if v.failed_only {
                        a.btn.btn-sm href=(base) { "All attempts" }
                    } @else {
                        a.btn.btn-sm href={ (base) "?failed=1" } { "Failed only" }
                    }
                }
            }
            div.card-body {
                form.form-row method="post" action={ (base) "/redeliver" } {
                    (csrf(v.csrf))
                    div.field {
                        label for="f-since" { "Redeliver failed events since" }
                        input #f-since type="datetime-local" name="since" required;
                    }
                    div.form-actions { button.btn type="submit" { "Redeliver failed" } }
                }
            }
            @if v.attempts.is_empty() {
                (empty_state("No delivery attempts in the last 30 days.", None))
            } @else {
                (data_table(&["Time", "Event", "Result", "Answer"], true,
                    html! { @for a in v.attempts { (log_row(v, base, a)) } }))
            }
        }
    }
}

fn log_row(v: &DetailView, base: &str, a: &Attempt) -> Markup {
    html! {
        tr {
            td {
                (date_time(a.attempted_at, v.tz))
                span.cell-sub { (a.latency_ms) " ms" }
            }
            td.wrap { code { (a.event_type) } span.cell-sub.mono.small { (a.webhook_event_id) } }
            td.wrap {
                @if a.succeeded { span.badge.badge-green { "Delivered" } }
                @else { span.badge.badge-red { "Failed" } }
                @if let Some(code) = a.status_code { " " span.small { "HTTP " (code) } }
                @if let Some(err) = a.error.as_ref().filter(|_| a.status_code.is_none()) {
                    span.cell-sub { (err) }
                }
                span.cell-sub { "Event " (a.event_status) }
            }
            td.wrap {
                @if !a.response_body.is_empty() {
                    details {
                        summary { "Show" }
                        pre.small.mono.log-answer { (a.response_body) }
                    }
                }
            }
            td.actions {
                form.inline-form method="post" action={ (base) "/redeliver" } {
                    (csrf(v.csrf))
                    input type="hidden" name="event" value=(a.webhook_event_id);
                    button.btn.btn-sm type="submit" { "Redeliver" }
                }
            }
        }
    }
}
