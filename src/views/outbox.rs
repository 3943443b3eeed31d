//! The development outbox: mail that would have been sent, shown when no
//! SMTP server is configured, with its links made clickable.

use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::outbox::OutboxMail;
use crate::views::format::date_time;

/// The http(s) links in a plain-text body.
pub fn links(body: &str) -> Vec<&str> {
    body.split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| w.trim_end_matches(['.', ',', ')', '>']))
        .collect()
}

fn status(m: &OutboxMail) -> Markup {
    let class = match m.status.as_str() {
        "sent" => "badge-green",
        "failed" => "badge-red",
        _ => "badge-amber",
    };
    html! { span.badge.(class) { (m.status) } }
}

pub fn page(mails: &[OutboxMail], tz: Tz) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Outbox" }
                p.muted { "No SMTP server is configured (SMTP_URL), so mail is kept here. You see mail addressed to you and your organization's messages." }
            }
        }
        @if mails.is_empty() {
            div.card { div.empty { h2 { "No mail yet" } p { "Mail you or your organization would receive shows up here." } } }
        }
        div.stack {
            @for m in mails {
                article.card {
                    div.card-head {
                        h2 { (m.subject) }
                        span { span.badge.badge-gray { (m.kind) } " " (status(m)) }
                    }
                    p.muted.small { "To " (m.to_email) " · " (date_time(m.created_at, tz)) }
                    div.mail-preview { div.mail-body { (m.body_text) } }
                    @let found = links(&m.body_text);
                    @if !found.is_empty() {
                        p { @for l in found { a href=(l) { (l) } " " } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_links_in_plain_text() {
        let body = "Accept: http://127.0.0.1:8080/invitations/abc.\nOr https://x.example/y, thanks";
        assert_eq!(
            links(body),
            vec![
                "http://127.0.0.1:8080/invitations/abc",
                "https://x.example/y"
            ]
        );
    }
}
