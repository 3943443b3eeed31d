//! The mailboxes page (`/settings/mailboxes`): each connected mailbox with
//! its health, last error, last inbox read and today's sends against its
//! cap, and the form to connect one for those who may. Passwords are never
//! written into the page, not even after a refused form.

use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;

use chrono::{DateTime, Utc};

use crate::db::conversations::BounceRate;
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
    /// Editing only: the pacing beyond the cap.
    pub min_gap_seconds: String,
    pub window_start: String,
    pub window_end: String,
    pub day_mon: String,
    pub day_tue: String,
    pub day_wed: String,
    pub day_thu: String,
    pub day_fri: String,
    pub day_sat: String,
    pub day_sun: String,
}

/// The sending-day checkboxes: field name and label, Monday first (bit 0).
pub const DAYS: [(&str, &str); 7] = [
    ("day_mon", "Mon"),
    ("day_tue", "Tue"),
    ("day_wed", "Wed"),
    ("day_thu", "Thu"),
    ("day_fri", "Fri"),
    ("day_sat", "Sat"),
    ("day_sun", "Sun"),
];

impl FormValues {
    /// The sending days ticked, as the `send_days` bits (Monday = bit 0).
    pub fn send_days(&self) -> u8 {
        let ticked = [
            &self.day_mon,
            &self.day_tue,
            &self.day_wed,
            &self.day_thu,
            &self.day_fri,
            &self.day_sat,
            &self.day_sun,
        ];
        ticked
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .fold(0, |bits, (i, _)| bits | (1 << i))
    }

    /// A stored mailbox's settings as the edit form shows them (passwords
    /// empty: never shown).
    pub fn of(m: &Mailbox) -> FormValues {
        let day = |bit: u8| {
            if m.send_days & (1 << bit) != 0 {
                "on"
            } else {
                ""
            }
            .to_string()
        };
        FormValues {
            display_name: m.display_name.clone(),
            email: m.email.clone(),
            smtp_host: m.smtp_host.clone(),
            smtp_port: m.smtp_port.to_string(),
            smtp_security: m.smtp_security.clone(),
            smtp_username: m.smtp_username.clone(),
            imap_host: m.imap_host.clone(),
            imap_port: m.imap_port.to_string(),
            imap_security: m.imap_security.clone(),
            imap_username: m.imap_username.clone(),
            imap_folder: m.imap_folder.clone(),
            daily_cap: m.daily_cap.to_string(),
            min_gap_seconds: m.min_gap_seconds.to_string(),
            window_start: clock(m.window_start_minute),
            window_end: clock(m.window_end_minute % (24 * 60)),
            day_mon: day(0),
            day_tue: day(1),
            day_wed: day(2),
            day_thu: day(3),
            day_fri: day(4),
            day_sat: day(5),
            day_sun: day(6),
            ..FormValues::default()
        }
    }

    fn day(&self, name: &str) -> bool {
        let v = match name {
            "day_mon" => &self.day_mon,
            "day_tue" => &self.day_tue,
            "day_wed" => &self.day_wed,
            "day_thu" => &self.day_thu,
            "day_fri" => &self.day_fri,
            "day_sat" => &self.day_sat,
            _ => &self.day_sun,
        };
        !v.is_empty()
    }

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

/// One mailbox with its state and health.
pub struct Row {
    pub mailbox: Mailbox,
    pub state: MailboxState,
    pub sent_today: i32,
    /// When its next send may go (in the organization's time zone; a lead
    /// with its own zone may wait for its own window); `None` while it is
    /// not active.
    pub next_slot: Option<DateTime<Utc>>,
    pub bounce_rate: BounceRate,
    pub replies_7_days: i64,
}

/// The list page.
pub struct ListView<'a> {
    pub csrf: &'a str,
    /// The viewer may connect a mailbox (their own, or any).
    pub may_connect: bool,
    pub rows: &'a [Row],
    /// Per row: the viewer may edit, resume and remove it.
    pub manageable: Vec<bool>,
    pub me: Option<UserId>,
    pub form: FormValues,
    pub errors: FieldErrors,
    /// The plan's mailbox count stopped the form.
    pub over_limit: bool,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    /// Why the last action on a mailbox was refused (a resume whose login
    /// check failed); nothing was changed.
    pub refusal: Option<String>,
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
        @if let Some(why) = &v.refusal { div.banner.banner-danger role="alert" { (why) } }
        section.card.flush aria-labelledby="mailboxes-title" {
            div.card-head { h2 #mailboxes-title { "Connected mailboxes" } }
            @if v.rows.is_empty() {
                (empty_state("No mailbox connected yet: messages go out from the platform's address and replies are not read.", None))
            } @else {
                (data_table(&["Mailbox", "Status", "Sending", "Inbox"], true,
                    html! { @for (i, r) in v.rows.iter().enumerate() {
                        (row(v, r, v.manageable.get(i).copied().unwrap_or(false)))
                    } }))
            }
        }
        @if v.may_connect {
            section.card aria-labelledby="connect-title" {
                h2 #connect-title { "Connect a mailbox" }
                p.muted { "Both logins are checked before anything is saved." }
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

fn row(v: &ListView, r: &Row, manage: bool) -> Markup {
    let m = &r.mailbox;
    html! {
        tr {
            td.wrap.stack-title {
                @if manage {
                    a href={ "/settings/mailboxes/" (m.id) "/edit" } title="Edit this mailbox's settings" { strong { (m.email) } }
                } @else {
                    strong { (m.email) }
                }
                span.cell-sub { (m.display_name) }
                @if m.owner_user_id.is_some() && m.owner_user_id == v.me { span.cell-sub { "Yours" } }
            }
            td.wrap data-label="Status" {
                (status(&r.state))
                @if let (Some(err), Some(at)) = (&r.state.last_error, r.state.last_error_at) {
                    span.cell-sub { "Last error " (date_time(at, v.tz)) ": " (err) }
                }
                @if manage && r.state.status != "active" && !m.has_no_server() {
                    form.inline-form method="post" action={ "/settings/mailboxes/" (m.id) "/resume" } {
                        (csrf(v.csrf))
                        button.btn.btn-sm type="submit" { "Resume" }
                    }
                }
            }
            td data-label="Sending" {
                (r.sent_today) " / " (m.daily_cap) " today"
                span.cell-sub {
                    "Next: "
                    @match r.next_slot {
                        None => "not sending",
                        Some(at) if at <= v.now => "now",
                        Some(at) => (date_time(at, v.tz)),
                    }
                }
                span.cell-sub {
                    @match r.bounce_rate.percent() {
                        Some(pct) => { "Bounced: " (format!("{pct:.1} %")) " of " (r.bounce_rate.sends) " sends" }
                        None => "No sends yet",
                    }
                }
            }
            td data-label="Inbox" {
                @match r.state.last_poll_at {
                    Some(at) => { "Read " (date_time(at, v.tz)) },
                    None => span.muted { "Not read yet" },
                }
                span.cell-sub {
                    (r.replies_7_days) @if r.replies_7_days == 1 { " reply" } @else { " replies" } " in 7 days"
                }
            }
            td.actions {
                @if manage {
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

/// One server's fields; the password input always starts empty (when
/// editing, empty keeps the stored one).
fn server_fields(
    prefix: &str,
    title: &str,
    f: [&str; 4],
    e: &FieldErrors,
    editing: bool,
) -> Markup {
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
                @if editing {
                    (Field::new(&names[4], "Password", "").kind("password").autocomplete("new-password")
                        .hint("Leave empty to keep the stored password.").render(e))
                } @else {
                    (Field::new(&names[4], "Password", "").kind("password").required().autocomplete("new-password").render(e))
                }
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
                [&f.smtp_host, &f.smtp_port, &f.smtp_security, &f.smtp_username], e, false))
            (server_fields("imap", "Reading (IMAP)",
                [&f.imap_host, &f.imap_port, &f.imap_security, &f.imap_username], e, false))
            div.form-row {
                (Field::new("imap_folder", "Inbox folder", &f.imap_folder).hint("Usually INBOX.").render(e))
                (Field::new("daily_cap", "Daily cap", &f.daily_cap).kind("number")
                    .hint("At most this many messages a day from this mailbox.").render(e))
            }
            div.form-actions { button.btn.btn-primary type="submit" { "Connect mailbox" } }
        }
    }
}

/// Minutes after midnight as `HH:MM`.
pub fn clock(minute: i32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The edit page of one mailbox.
pub struct EditView<'a> {
    pub csrf: &'a str,
    pub mailbox: &'a Mailbox,
    pub form: FormValues,
    pub errors: FieldErrors,
}

pub fn edit(v: &EditView) -> Markup {
    let (f, e) = (&v.form, &v.errors);
    let action = format!("/settings/mailboxes/{}/edit", v.mailbox.id);
    html! {
        div.page-head {
            div {
                h1 { "Edit mailbox" }
                p.muted { (v.mailbox.email) }
            }
            div.actions { a.btn href="/settings/mailboxes" { "Mailboxes" } }
        }
        section.card aria-labelledby="edit-title" {
            h2 #edit-title { "Settings" }
            p.muted { "When a server, user name, password or folder changes, both logins are checked before anything is saved." }
            form.stack method="post" action=(action) novalidate {
                (csrf(v.csrf))
                (form_errors(e))
                div.form-row {
                    (Field::new("display_name", "Display name", &f.display_name).required()
                        .hint("The name recipients see, such as Ann Example.").render(e))
                    (Field::new("email", "Address", &v.mailbox.email).readonly()
                        .hint("To send from another address, connect another mailbox.").render(e))
                }
                (server_fields("smtp", "Sending (SMTP)",
                    [&f.smtp_host, &f.smtp_port, &f.smtp_security, &f.smtp_username], e, true))
                (server_fields("imap", "Reading (IMAP)",
                    [&f.imap_host, &f.imap_port, &f.imap_security, &f.imap_username], e, true))
                (Field::new("imap_folder", "Inbox folder", &f.imap_folder).hint("Usually INBOX.").render(e))
                fieldset {
                    legend { "Pacing" }
                    div.form-row {
                        (Field::new("daily_cap", "Daily cap", &f.daily_cap).kind("number").required()
                            .hint("At most this many messages a day.").render(e))
                        (Field::new("min_gap_seconds", "Minimum gap (seconds)", &f.min_gap_seconds).kind("number").required()
                            .hint("Between two sends, plus a random extra.").render(e))
                    }
                    div.form-row {
                        (Field::new("window_start", "Window starts", &f.window_start).kind("time").required().render(e))
                        (Field::new("window_end", "Window ends", &f.window_end).kind("time").required()
                            .hint("00:00 is the end of the day.").render(e))
                    }
                    (days_field(f, e))
                }
                div.form-actions {
                    button.btn.btn-primary type="submit" { "Save mailbox" }
                    a.btn href="/settings/mailboxes" { "Cancel" }
                }
            }
        }
    }
}

/// The sending days, one checkbox each, read in the lead's or the
/// organization's time zone.
fn days_field(f: &FormValues, e: &FieldErrors) -> Markup {
    let error = e.get("send_days");
    html! {
        fieldset.plain.field.has-error[error.is_some()] {
            legend { "Sending days" }
            div.cluster {
                @for (name, label) in DAYS {
                    label.checkbox { input type="checkbox" name=(name) value="on" checked[f.day(name)]; " " (label) }
                }
            }
            p.hint { "Days and hours are the lead's time zone when it has one, else the organization's." }
            @if let Some(msg) = error { p.field-error { (msg) } }
        }
    }
}
