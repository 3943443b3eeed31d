//! Status badges shared by the lead page, its activity feed and the message
//! and sequence pages.

use maud::{html, Markup};

/// Badge for a message status.
pub fn message_status(status: &str) -> Markup {
    let (class, label) = match status {
        "sent" => ("badge-green", "Sent"),
        "sending" => ("badge-amber", "Sending"),
        "failed" => ("badge-red", "Failed"),
        "bounced" => ("badge-red", "Bounced"),
        _ => ("badge-amber", "Queued"),
    };
    html! { span.badge.(class) { (label) } }
}

/// Badge for an enrolment status.
pub fn enrollment_status(status: &str) -> Markup {
    let (class, label) = match status {
        "active" => ("badge-green", "Active"),
        "paused" => ("badge-amber", "Paused"),
        "completed" => ("badge-blue", "Completed"),
        _ => ("badge-gray", "Stopped"),
    };
    html! { span.badge.(class) { (label) } }
}
