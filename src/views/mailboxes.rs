//! The mailboxes page (`/settings/mailboxes`): each connected mailbox with
//! its health, last error, last inbox read and today's sends against its
//! cap, and the form to connect one for those who may. Passwords are never
//! written into the page, not even after a refused form.

use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;

use crate::db::mailboxes::{Mailbox, MailboxState};
use crate::forms::FieldErrors;
use crate::ids::UserId;
use crate::views::components::{csrf, data_table, empty_state, form_errors, Field};
use crate::views::format::date_time;

/// The connect form as typed (passwords are read, never shown back).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FormValues {
    pub display_name: String,
    pub email: String,
    pub smtp_host: String,
    pub smtp_port: String,
    pub smtp_security: String,
    pub smtp_username: String,
    pub smtp_password: String,
    pub imap_host: String,
    pub imap_port: String,
    pub imap_security: String,
    pub imap_username: String,
    pub imap_password: String,
    pub imap_folder: String,
    pub daily_cap: String,
}

impl FormValues {
    /// An empty form with the usual ports, TLS, INBOX and a cap of 50.
    pub fn new_mailbox() -> FormValues {
        FormValues {
            smtp_port: "465".into(),
            smtp_security: "tls".into(),
            imap_port: "993".into(),
            imap_security: "tls".into(),
            imap_folder: "INBOX".into(),
            daily_cap: "50".into(),
            ..FormValues::default()
        }
    }
}

/// One mailbox with its state and how many sends it booked today.
pub struct Row {
    pub mailbox: Mailbox,
    pub state: MailboxState,
    pub sent_today: i32,
}

/// The list page.
pub struct ListView<'a> {
    pub csrf: &'a str,
    /// The viewer may connect a mailbox (their own, or any).
    pub may_connect: bool,
    pub rows: &'a [Row],
    /// Per row: the viewer may remove it.
    pub removable: Vec<bool>,
    pub me: Option<UserId>,
    pub form: FormValues,
    pub errors: FieldErrors,
    /// The plan's mailbox count stopped the form.
    pub over_limit: bool,
    pub tz: Tz,
}

pub fn list(v: &ListView) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Mailboxes" }
                p { "Outreach goes out from these mailboxes, paced like a person writing, and their inboxes are read "
                    "(never changed) to find replies, auto-replies and bounces." }
            }
            div.actions { a.btn href="/settings" { "Settings" } }
        }
        section.card.flush aria-labelledby="mailboxes-title" {
            div.card-head { h2 #mailboxes-title { "Connected mailboxes" } }
            @if v.rows.is_empty() {
                (empty_state("No mailbox connected yet: messages go out from the platform's address and replies are not read.", None))
            } @else {
                (data_table(&["Mailbox", "Status", "Last inbox read", "Sent today"], true,
                    html! { @for (i, r) in v.rows.iter().enumerate() {
                        (row(v, r, v.removable.get(i).copied().unwrap_or(false)))
                    } }))
            }
        }
        @if v.may_connect {
            section.card aria-labelledby="connect-title" {
                h2 #connect-title { "Connect a mailbox" }
                p.muted { "Both logins are checked before anything is saved. To change a mailbox, remove it and connect it again." }
                @if v.over_limit { p { a.btn.btn-primary href="/plans" { "Compare plans" } } }
                (connect_form(v.csrf, &v.form, &v.errors))
            }
        }
    }
}

fn status(s: &MailboxState) -> Markup {
    html! {
        @match s.status.as_str() {
            "active" => { span.badge.badge-green { "Active" } }
            "paused" => { span.badge.badge-red { "Paused" } }
            _ => { span.badge.badge-amber { "Needs attention" } }
        }
        @if let Some(why) = &s.status_reason { span.cell-sub { (why) } }
    }
}

fn row(v: &ListView, r: &Row, removable: bool) -> Markup {
    let m = &r.mailbox;
    html! {
        tr {
            td.wrap.stack-title {
                strong { (m.email) }
                span.cell-sub { (m.display_name) }
                @if m.owner_user_id.is_some() && m.owner_user_id == v.me { span.cell-sub { "Yours" } }
            }
            td.wrap data-label="Status" {
                (status(&r.state))
                @if let (Some(err), Some(at)) = (&r.state.last_error, r.state.last_error_at) {
                    span.cell-sub { "Last error " (date_time(at, v.tz)) ": " (err) }
                }
            }
            td data-label="Inbox read" {
                @match r.state.last_poll_at {
                    Some(at) => (date_time(at, v.tz)),
                    None => span.muted { "Not yet" },
                }
            }
            td data-label="Sent today" { (r.sent_today) " / " (m.daily_cap) }
            td.actions {
                @if removable {
                    form.inline-form method="post" action={ "/settings/mailboxes/" (m.id) "/delete" } {
                        (csrf(v.csrf))
                        button.btn.btn-sm.btn-danger-outline type="submit"
                            data-confirm="Remove this mailbox? Messages already sent keep their history." { "Remove" }
                    }
                }
            }
        }
    }
}

fn security_select(name: &str, label: &str, value: &str, e: &FieldErrors) -> Markup {
    let id = format!("f-{name}");
    let error = e.get(name);
    html! {
        div.field.has-error[error.is_some()] {
            label for=(id) { (label) }
            select #(id) name=(name) aria-invalid=[error.map(|_| "true")] {
                @for (v, text) in [("tls", "TLS"), ("starttls", "STARTTLS"), ("none", "None (unencrypted)")] {
                    option value=(v) selected[value == v] { (text) }
                }
            }
            @if let Some(msg) = error { p.field-error { (msg) } }
        }
    }
}

/// One server's fields; the password input always starts empty.
fn server_fields(prefix: &str, title: &str, f: [&str; 4], e: &FieldErrors) -> Markup {
    let [host, port, security, username] = f;
    let names =
        ["host", "port", "security", "username", "password"].map(|n| format!("{prefix}_{n}"));
    html! {
        fieldset {
            legend { (title) }
            div.form-row {
                (Field::new(&names[0], "Host", host).required().autocomplete("off").render(e))
                (Field::new(&names[1], "Port", port).kind("number").required().render(e))
                (security_select(&names[2], "Security", security, e))
            }
            div.form-row {
                (Field::new(&names[3], "User name", username).required().autocomplete("off").render(e))
                (Field::new(&names[4], "Password", "").kind("password").required().autocomplete("new-password").render(e))
            }
        }
    }
}

fn connect_form(token: &str, f: &FormValues, e: &FieldErrors) -> Markup {
    html! {
        form.stack method="post" action="/settings/mailboxes" novalidate {
            (csrf(token))
            (form_errors(e))
            div.form-row {
                (Field::new("display_name", "Display name", &f.display_name).required()
                    .hint("The name recipients see, such as Ann Example.").render(e))
                (Field::new("email", "Address", &f.email).kind("email").required().render(e))
            }
            (server_fields("smtp", "Sending (SMTP)",
                [&f.smtp_host, &f.smtp_port, &f.smtp_security, &f.smtp_username], e))
            (server_fields("imap", "Reading (IMAP)",
                [&f.imap_host, &f.imap_port, &f.imap_security, &f.imap_username], e))
            div.form-row {
                (Field::new("imap_folder", "Inbox folder", &f.imap_folder).hint("Usually INBOX.").render(e))
                (Field::new("daily_cap", "Daily cap", &f.daily_cap).kind("number")
                    .hint("At most this many messages a day from this mailbox.").render(e))
            }
            div.form-actions { button.btn.btn-primary type="submit" { "Connect mailbox" } }
        }
    }
}
