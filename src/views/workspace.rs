//! Small pieces the workspace pages (leads, templates, sequences, messages)
//! share: select fields, textareas,
//! the upgrade prompt and the keyset "next page" navigation.

use maud::{html, Markup};

use crate::forms::FieldErrors;

/// A labelled `<select>` with its error; `options` are (value, label).
pub fn select(
    name: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
    errors: &FieldErrors,
) -> Markup {
    labelled(name, label, None, errors, |id, described| {
        html! {
            select #(id) name=(name) aria-invalid=[described.map(|_| "true")]
                aria-describedby=[described] {
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
        }
    })
}

/// A labelled `<textarea>` with hint and error.
pub fn textarea(
    name: &str,
    label: &str,
    value: &str,
    hint: Option<&str>,
    errors: &FieldErrors,
) -> Markup {
    labelled(name, label, hint, errors, |id, described| {
        html! {
            textarea #(id) name=(name) rows="6" aria-invalid=[described.map(|_| "true")]
                aria-describedby=[described] { (value) }
        }
    })
}

/// A field: label, the control, hint and error. `control` gets the element
/// id and, when there is an error, the id of the error that describes it.
fn labelled(
    name: &str,
    label: &str,
    hint: Option<&str>,
    errors: &FieldErrors,
    control: impl FnOnce(&str, Option<&str>) -> Markup,
) -> Markup {
    let id = format!("f-{name}");
    let error = errors.get(name);
    let err_id = format!("{id}-error");
    html! {
        div.field.has-error[error.is_some()] {
            label for=(id) { (label) }
            (control(&id, error.map(|_| err_id.as_str())))
            @if let Some(h) = hint { p.hint { (h) } }
            @if let Some(e) = error { p.field-error #(err_id) { (e) } }
        }
    }
}

/// Shown on the messages and sequences pages while the organization has no
/// sender mailbox: mail then goes out from the platform address.
pub fn no_mailbox_banner() -> Markup {
    html! {
        div.banner.banner-info role="status" {
            "Replies cannot be detected until you connect a mailbox. "
            a href="/settings/mailboxes" { "Connect a mailbox" }
        }
    }
}

/// The box shown when a plan limit stopped an action, with the way out.
pub fn upgrade_prompt(message: &str) -> Markup {
    html! {
        div.form-errors.upgrade-prompt role="alert" tabindex="-1" {
            strong { "Plan limit reached" }
            (message) " "
            a href="/plans" { "Compare plans and upgrade" }
        }
    }
}

/// Errors that belong to no single field (key `_form`), or the upgrade
/// prompt when a limit was reached.
pub fn form_problems(errors: &FieldErrors, limit: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = limit { (upgrade_prompt(message)) }
        (crate::views::components::form_errors(errors))
    }
}

/// The links of a keyset-paged list.
pub struct Pager<'a> {
    /// The first page (the newest rows).
    pub first: &'a str,
    /// The page above this one, when there is one.
    pub newer: Option<&'a str>,
    /// The next page down, when more follow.
    pub older: Option<&'a str>,
    pub on_first: bool,
}

/// Keyset pagination both ways: "Newest" back to the first page, "Newer"
/// one page up, "Older" one page down; the position stays in the URL.
pub fn pagination(p: &Pager, shown: usize) -> Markup {
    html! {
        nav.pagination aria-label="Pagination" {
            span.page-info { (shown) (if shown == 1 { " item" } else { " items" }) " on this page" }
            span.page-links {
                @if p.on_first { span aria-disabled="true" { "« Newest" } }
                @else { a href=(p.first) rel="first" { "« Newest" } }
                @if let Some(href) = p.newer { a href=(href) rel="prev" { "← Newer" } }
                @else { span aria-disabled="true" { "← Newer" } }
                @if let Some(href) = p.older { a href=(href) rel="next" { "Older →" } }
                @else { span aria-disabled="true" { "Older →" } }
            }
        }
    }
}

/// A query string from (key, value) pairs, skipping empty values.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        ser.append_pair(k, v);
    }
    let s = ser.finish();
    if s.is_empty() {
        s
    } else {
        format!("?{s}")
    }
}
