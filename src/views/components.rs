//! Small markup pieces every page uses: labelled fields with their error,
//! the hidden CSRF input, form error summaries, empty states and data tables.

use maud::{html, Markup};

use crate::forms::FieldErrors;

/// Settings for one labelled input.
pub struct Field<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    pub kind: &'a str,
    pub required: bool,
    pub autocomplete: Option<&'a str>,
    pub hint: Option<&'a str>,
    pub readonly: bool,
}

impl<'a> Field<'a> {
    pub fn new(name: &'a str, label: &'a str, value: &'a str) -> Self {
        Field {
            name,
            label,
            value,
            kind: "text",
            required: false,
            autocomplete: None,
            hint: None,
            readonly: false,
        }
    }

    pub fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn autocomplete(mut self, value: &'a str) -> Self {
        self.autocomplete = Some(value);
        self
    }

    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub fn readonly(mut self) -> Self {
        self.readonly = true;
        self
    }

    /// The field, with its error (from `errors`) shown underneath.
    pub fn render(&self, errors: &FieldErrors) -> Markup {
        let id = format!("f-{}", self.name);
        let error = errors.get(self.name);
        let err_id = format!("{id}-error");
        html! {
            div.field.has-error[error.is_some()] {
                label for=(id) { (self.label) }
                input #(id) name=(self.name) type=(self.kind) value=(self.value)
                    required[self.required] readonly[self.readonly]
                    autocomplete=[self.autocomplete]
                    aria-invalid=[error.map(|_| "true")]
                    aria-describedby=[error.map(|_| err_id.as_str())];
                @if let Some(hint) = self.hint { p.hint { (hint) } }
                @if let Some(e) = error { p.field-error #(err_id) { (e) } }
            }
        }
    }
}

pub fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(token); }
}

/// A summary of errors that belong to no single field (key `_form`).
pub fn form_errors(errors: &FieldErrors) -> Markup {
    html! {
        @if let Some(e) = errors.get("_form") {
            div.form-errors role="alert" { (e) }
        }
    }
}

pub fn empty_state(message: &str, action: Option<(&str, &str)>) -> Markup {
    html! {
        div.empty {
            p { (message) }
            @if let Some((href, label)) = action { a.btn.btn-primary href=(href) { (label) } }
        }
    }
}

/// A data table in its scrolling wrapper: a column header for each of
/// `columns`, with `actions` one more for the rows' buttons (named for
/// screen readers only), and the body `rows`.
pub fn data_table(columns: &[&str], actions: bool, rows: Markup) -> Markup {
    html! {
        div.table-wrap {
            table.data.stack {
                thead { tr {
                    @for column in columns { th scope="col" { (column) } }
                    @if actions { th scope="col" { span.sr-only { "Actions" } } }
                } }
                tbody { (rows) }
            }
        }
    }
}
