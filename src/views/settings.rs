//! Organization settings: the form (name, slug, time zone; brand name and
//! colour on plans with white label) and a summary beside it. The form is its
//! own HTMX fragment: saving swaps it in place, with errors next to fields.

use maud::{html, Markup};

use crate::domain::settings::time_zone_names;
use crate::forms::FieldErrors;
use crate::views::components::{csrf, form_errors, Field};

/// Element id of the settings form (its fragment).
pub const FORM_ID: &str = "settings-form";

/// The form's values as typed (strings, so invalid input is shown back).
#[derive(Debug, Clone, Default)]
pub struct SettingsValues {
    pub name: String,
    pub slug: String,
    pub time_zone: String,
    pub brand_name: String,
    pub brand_color: String,
}

pub struct SettingsView<'a> {
    pub csrf: &'a str,
    pub values: SettingsValues,
    pub errors: FieldErrors,
    pub white_label: bool,
    /// Show "Saved." next to the button (after an HTMX save).
    pub saved: bool,
    pub plan_name: &'a str,
    pub created: String,
    /// A logo is stored (shown only with white label).
    pub has_logo: bool,
    /// Why the last logo upload was refused.
    pub logo_error: Option<String>,
    /// The "Delete organization" card (owners only).
    pub deletion_card: Option<Markup>,
    /// The "Export all data" card (owners only).
    pub export_card: Option<Markup>,
}

pub fn body(v: &SettingsView) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Settings" }
                p { "How " (v.values.name) " appears, and the time zone its daily and monthly limits follow." }
            }
            div.actions {
                a.btn href="/team" { "Team" }
                a.btn href="/settings/suppression" { "Suppression list" }
                a.btn href="/audit" { "Audit log" }
                a.btn href="/settings/webhooks" { "Webhooks" }
                a.btn href="/settings/mailboxes" { "Mailboxes" }
            }
        }
        div.grid-2 {
            section.card aria-labelledby="general-title" {
                h2 #general-title { "Organization" }
                (form(v))
            }
            div.stack {
                (summary(v))
                @if v.white_label { (logo_card(v)) } @else { (white_label_card(v)) }
                @if let Some(card) = &v.export_card { (card) }
                @if let Some(card) = &v.deletion_card { (card) }
            }
        }
    }
}

/// The settings form: the HTMX fragment.
pub fn form(v: &SettingsView) -> Markup {
    let e = &v.errors;
    let values = &v.values;
    html! {
        form.stack #(FORM_ID) method="post" action="/settings" hx-post="/settings"
            hx-target="this" hx-swap="outerHTML" novalidate {
            (csrf(v.csrf))
            (form_errors(e))
            (Field::new("name", "Name", &values.name).required().autocomplete("organization").render(e))
            (Field::new("slug", "Slug", &values.slug).required().autocomplete("off")
                .hint("Lower-case letters, digits and single dashes; unique across Lead Dashboard.").render(e))
            (time_zone_field(&values.time_zone, e))
            @if v.white_label {
                hr.sep;
                h3 { "White label" }
                (Field::new("brand_name", "Brand name", &values.brand_name).autocomplete("off")
                    .hint("Shown instead of “Lead Dashboard” in the top bar. Leave empty to use the product name.").render(e))
                (Field::new("brand_color", "Brand colour", &values.brand_color).autocomplete("off")
                    .hint("# and six hex digits, like #0b7285. It must be dark enough for white text (contrast 4.5:1). Leave empty for the default.").render(e))
            }
            div.form-actions {
                button.btn.btn-primary type="submit" { "Save settings" }
                span.htmx-indicator { span.spinner {} " Saving…" }
                @if v.saved { span.muted.small role="status" { "Saved." } }
            }
        }
    }
}

fn time_zone_field(current: &str, errors: &FieldErrors) -> Markup {
    let error = errors.get("time_zone");
    html! {
        div.field.has-error[error.is_some()] {
            label for="f-time_zone" { "Time zone" }
            select #f-time_zone name="time_zone" aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| "f-time_zone-error")] {
                @for name in time_zone_names() {
                    option value=(name) selected[name == current] { (name) }
                }
            }
            p.hint { "“Today” and “this month” in usage limits and charts follow this zone." }
            @if let Some(e) = error { p.field-error #f-time_zone-error { (e) } }
        }
    }
}

fn summary(v: &SettingsView) -> Markup {
    html! {
        section.card aria-labelledby="summary-title" {
            h2 #summary-title { "At a glance" }
            dl.kv {
                dt { "Plan" } dd { (v.plan_name) }
                dt { "Created" } dd { (v.created) }
                dt { "Slug" } dd.mono { (v.values.slug) }
                @if v.white_label {
                    dt { "Brand colour" }
                    dd {
                        span.color-swatch {} " "
                        span.mono { @if v.values.brand_color.is_empty() { "Default" } @else { (v.values.brand_color) } }
                    }
                }
            }
        }
    }
}

fn white_label_card(_v: &SettingsView) -> Markup {
    html! {
        section.card aria-labelledby="wl-title" {
            h2 #wl-title { "White label" }
            p.muted { "Put your own brand name, colour and logo on every page your team sees. White label comes with the Enterprise plan." }
            p { a.btn.btn-sm href="/plans" { "Compare plans" } }
        }
    }
}

/// Element id of the logo card (its HTMX fragment).
pub const LOGO_CARD_ID: &str = "logo-card";

/// The logo card: current logo, upload form, remove button.
pub fn logo_card(v: &SettingsView) -> Markup {
    let error = v.logo_error.as_deref();
    let upload = format!("/settings/logo?csrf_token={}", v.csrf);
    let target = format!("#{LOGO_CARD_ID}");
    html! {
        section.card.stack #(LOGO_CARD_ID) aria-labelledby="logo-title" {
            h2 #logo-title { "Logo" }
            @if v.has_logo {
                p { img.brand-logo src="/brand/logo" alt="Your current logo"; }
            } @else {
                p.muted { "No logo yet: the top bar shows the brand name with the product icon." }
            }
            form.stack method="post" action=(upload) enctype="multipart/form-data" hx-post=(upload)
                hx-encoding="multipart/form-data" hx-target=(target) hx-swap="outerHTML" {
                div.field.has-error[error.is_some()] {
                    label for="f-logo" { @if v.has_logo { "Replace the logo" } @else { "Upload a logo" } }
                    input #f-logo type="file" name="logo" accept="image/png,image/jpeg,image/webp" required
                        aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "f-logo-error")];
                    p.hint { "PNG, JPEG or WebP, up to 256 KB. It is shown 28 pixels high." }
                    @if let Some(e) = error { p.field-error #f-logo-error { (e) } }
                }
                div.form-actions { button.btn.btn-sm.btn-primary type="submit" { "Upload logo" } }
            }
            @if v.has_logo {
                form method="post" action="/settings/logo/remove" hx-post="/settings/logo/remove"
                    hx-target=(target) hx-swap="outerHTML" data-confirm="Remove the logo?" {
                    (csrf(v.csrf))
                    button.btn.btn-sm.btn-danger-outline type="submit" { "Remove logo" }
                }
            }
        }
    }
}
