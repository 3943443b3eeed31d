//! The API keys page (`/settings/api-keys`): the create form (owners, on a
//! plan with API access), a just-created key shown once, and the list by
//! prefix with creator, last use and revocation. `#api-keys-card` is the
//! fragment every form swaps. Without API access the page says so and
//! offers the plans instead of the form.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::api_keys::KeyRow;
use crate::domain::api_keys::KeyScope;
use crate::forms::FieldErrors;
use crate::views::components::{csrf, data_table, empty_state, form_errors, Field};
use crate::views::format::{ago, date_time};

pub const CARD_ID: &str = "api-keys-card";

/// Everything the page shows.
pub struct KeysView<'a> {
    pub csrf: &'a str,
    /// OWNER: may create and revoke.
    pub can_manage: bool,
    /// The effective plan includes API access.
    pub api_access: bool,
    pub keys: &'a [KeyRow],
    /// The full key of a key created by this very request.
    pub created: Option<&'a str>,
    pub name: &'a str,
    pub scope: KeyScope,
    pub errors: FieldErrors,
    pub tz: Tz,
    pub now: DateTime<Utc>,
}

pub fn body(v: &KeysView) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "API keys" }
                p { "Keys let your own software use the Lead Dashboard API with " code { "Authorization: Bearer <key>" } "." }
            }
            div.actions {
                a.btn href="/settings" { "Settings" }
            }
        }
        @if !v.api_access { (upgrade(v)) }
        (card(v))
    }
}

/// Why there is no form, and where to get one.
fn upgrade(v: &KeysView) -> Markup {
    html! {
        section.card aria-labelledby="api-upgrade-title" {
            h2 #api-upgrade-title { "API access comes with the Professional and Enterprise plans" }
            p.muted {
                "Your current plan has no API access, so no key can be created and existing keys are refused "
                "(they answer 403 and say why). The keys and everything else are kept: upgrading makes them work again."
            }
            @if v.can_manage {
                p { a.btn.btn-primary href="/plans" { "Compare plans and upgrade" } }
            } @else {
                p.muted { "Ask an owner of this organization to upgrade." }
            }
        }
    }
}

/// The swapped fragment: new key, form and list.
pub fn card(v: &KeysView) -> Markup {
    html! {
        section.card.flush #(CARD_ID) aria-labelledby="api-keys-title" {
            div.card-head { h2 #api-keys-title { "Keys" } }
            @if v.created.is_some() || (v.can_manage && v.api_access) {
                div.card-body.stack {
                    @if let Some(key) = v.created { (created_notice(key)) }
                    @if v.can_manage && v.api_access { (form(v)) }
                }
            }
            @if v.keys.is_empty() {
                (empty_state("No API keys yet.", None))
            } @else {
                (data_table(&["Key", "Scope", "Created", "Last used", "Status"], v.can_manage,
                    html! { @for key in v.keys { (row(v, key)) } }))
            }
        }
    }
}

fn created_notice(key: &str) -> Markup {
    html! {
        div.flash.flash-success role="status" {
            p { strong { "Copy your new key now. " } "It is shown only this once; we store only a hash of it." }
            p { code.mono #new-api-key { (key) } }
        }
    }
}

fn form(v: &KeysView) -> Markup {
    let e = &v.errors;
    let target = format!("#{CARD_ID}");
    html! {
        form.stack method="post" action="/settings/api-keys" hx-post="/settings/api-keys"
            hx-target=(target) hx-swap="outerHTML" novalidate {
            (csrf(v.csrf))
            (form_errors(e))
            (Field::new("name", "Name", v.name).required().autocomplete("off")
                .hint("What the key is for, e.g. “CRM sync”.").render(e))
            (scope_field(v.scope, e))
            div.form-actions { button.btn.btn-primary type="submit" { "Create key" } }
        }
    }
}

fn scope_field(current: KeyScope, errors: &FieldErrors) -> Markup {
    let error = errors.get("scope");
    html! {
        div.field.has-error[error.is_some()] {
            label for="f-scope" { "Scope" }
            select #f-scope name="scope" aria-invalid=[error.map(|_| "true")] {
                @for scope in KeyScope::ALL {
                    option value=(scope.as_str()) selected[scope == current] { (scope.label()) }
                }
            }
            p.hint { "Read-only keys can list and read; read-and-write keys can also create, change and delete, like an admin." }
            @if let Some(e) = error { p.field-error { (e) } }
        }
    }
}

fn row(v: &KeysView, key: &KeyRow) -> Markup {
    let revoke = format!("/settings/api-keys/{}/revoke", key.id);
    let target = format!("#{CARD_ID}");
    html! {
        tr {
            td.wrap {
                strong { (key.name) }
                span.cell-sub.mono { "ld_" (key.prefix) "_…" }
            }
            td { (key.scope.label()) }
            td.wrap {
                (date_time(key.created_at, v.tz))
                span.cell-sub { "by " (key.created_by.as_deref().unwrap_or("a former member")) }
            }
            td { @match key.last_used_at { Some(at) => (ago(at, v.now, v.tz)), None => "Never" } }
            td {
                @match key.revoked_at {
                    Some(at) => { span.badge { "Revoked" } span.cell-sub { (date_time(at, v.tz)) } }
                    None => span.badge.badge-green { "Active" },
                }
            }
            @if v.can_manage {
                td.actions {
                    @if key.revoked_at.is_none() {
                        form.inline-form method="post" action=(revoke) hx-post=(revoke)
                            hx-target=(target) hx-swap="outerHTML" {
                            (csrf(v.csrf))
                            button.btn.btn-sm.btn-danger-outline type="submit"
                                data-confirm="Revoke this key? Software using it stops working at once." { "Revoke" }
                        }
                    }
                }
            }
        }
    }
}
