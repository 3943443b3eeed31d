//! What a message read from a mailbox's inbox is: a delivery report
//! (RFC 3464 bounce, hard or soft), an automatic answer (RFC 3834 headers,
//! common out-of-office forms), a person's reply, or anything else. Pure:
//! the caller looks up the Message-IDs it names and acts.
//!
//! Order matters: a delivery report usually carries `Auto-Submitted` too, so
//! it is checked first; an out-of-office usually carries `In-Reply-To`, so
//! automatic answers win over replies. Nothing is rendered: HTML is reduced
//! to text, and the text kept is capped at `MAX_TEXT_CHARS`.

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{Message, MessageParser, MimeHeaders};

/// The most text kept of a message (characters).
pub const MAX_TEXT_CHARS: usize = 20_000;

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Written by a person, answering (In-Reply-To / References, or a
    /// "Re:" subject for the caller's fallback match).
    Reply,
    /// An automatic answer: out of office, vacation, autoresponder.
    AutoReply,
    /// A delivery status report.
    Bounce(Bounce),
    /// Anything else (newsletters, new conversations): not kept.
    Other,
}

/// The facts of a delivery status report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// `5.x.x` with `Action: failed`: the address does not take mail.
    pub hard: bool,
    /// The enhanced status code, e.g. `5.1.1`.
    pub status: String,
    pub action: String,
    /// Final-Recipient (else Original-Recipient), the address alone.
    pub recipient: Option<String>,
    /// The Message-ID of the returned message (no angle brackets).
    pub original_message_id: Option<String>,
    /// The server's words (`Diagnostic-Code`), if given.
    pub diagnostic: String,
}

/// A classified message with what is kept of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub kind: Kind,
    /// Its own Message-ID (no angle brackets), the key that dedupes it.
    pub message_id: Option<String>,
    /// The Message-IDs it answers: In-Reply-To first, then References
    /// (newest first), without duplicates.
    pub answers: Vec<String>,
    /// The sender's address, lower-cased.
    pub from: Option<String>,
    pub date: Option<DateTime<Utc>>,
    pub subject: String,
    /// Plain text (HTML reduced to text), at most `MAX_TEXT_CHARS`.
    pub text: String,
}

/// Why a message could not be classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// Not a mail message at all (no header block).
    NotAMessage,
    /// No sender address.
    NoSender,
}

/// Classifies one raw RFC 5322 message.
pub fn classify(raw: &[u8]) -> Result<Classified, Malformed> {
    let msg = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(Malformed::NotAMessage)?;
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| a.contains('@'));
    let subject = msg.subject().unwrap_or("").trim().replace('\0', "");
    let answers = answered_ids(&msg);
    let kind = if let Some(bounce) = delivery_report(&msg) {
        Kind::Bounce(bounce)
    } else if from.is_none() {
        return Err(Malformed::NoSender);
    } else if is_auto_reply(&msg, &subject) {
        Kind::AutoReply
    } else if !answers.is_empty() || is_reply_subject(&subject) {
        Kind::Reply
    } else {
        Kind::Other
    };
    Ok(Classified {
        kind,
        message_id: msg.message_id().map(clean_id).filter(|s| !s.is_empty()),
        answers,
        from,
        date: msg
            .date()
            .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single()),
        subject,
        text: plain_text(&msg),
    })
}

/// True when `subject` starts like an answer ("Re:", "AW:", "RE :" …).
pub fn is_reply_subject(subject: &str) -> bool {
    reply_subject_base(subject).is_some()
}

/// The subject an answer was given to: "Re: Hello" → "Hello" (one or
/// more answer prefixes removed); None when it is not an answer.
pub fn reply_subject_base(subject: &str) -> Option<&str> {
    let mut rest = subject.trim();
    let mut stripped = false;
    loop {
        let lower = rest.to_lowercase();
        let prefix = ["re:", "re :", "aw:", "aw :", "sv:", "antw:", "r:"]
            .into_iter()
            .find(|p| lower.starts_with(p));
        match prefix {
            Some(p) => {
                rest = rest[p.len()..].trim_start();
                stripped = true;
            }
            None => break,
        }
    }
    stripped.then_some(rest)
}

fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// In-Reply-To, then References from the newest, each once.
fn answered_ids(msg: &Message) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let in_reply_to = msg.in_reply_to().as_text_list().unwrap_or_default();
    let references = msg.references().as_text_list().unwrap_or_default();
    for id in in_reply_to.iter().chain(references.iter().rev()) {
        let id = clean_id(id);
        if !id.is_empty() && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// RFC 3834 and the common non-standard forms of an automatic answer.
fn is_auto_reply(msg: &Message, subject: &str) -> bool {
    let header = |name: &str| msg.header_raw(name).map(|v| v.trim().to_lowercase());
    let auto_submitted = header("Auto-Submitted")
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
        .is_some_and(|v| !v.is_empty() && v != "no");
    let precedence =
        header("Precedence").is_some_and(|v| matches!(v.as_str(), "auto_reply" | "bulk" | "junk"));
    auto_submitted
        || precedence
        || header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || is_out_of_office_subject(subject)
}

/// Out-of-office subjects in English, German, French and Spanish.
pub fn is_out_of_office_subject(subject: &str) -> bool {
    const FORMS: [&str; 22] = [
        // English
        "out of office",
        "out of the office",
        "out-of-office",
        "automatic reply",
        "auto reply",
        "auto-reply",
        "autoreply",
        "on vacation",
        // German
        "abwesenheitsnotiz",
        "automatische antwort",
        "nicht im büro",
        "außer haus",
        "abwesend",
        // French
        "absence du bureau",
        "absent du bureau",
        "réponse automatique",
        "message d'absence",
        "en congés",
        // Spanish
        "fuera de la oficina",
        "fuera de oficina",
        "respuesta automática",
        "ausente de la oficina",
    ];
    let s = subject.to_lowercase();
    FORMS.iter().any(|f| s.contains(f))
}

/// A `multipart/report; report-type=delivery-status` message's facts.
fn delivery_report(msg: &Message) -> Option<Bounce> {
    let ct = msg.root_part().content_type()?;
    let is_report = ct.ctype().eq_ignore_ascii_case("multipart")
        && ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && ct
            .attribute("report-type")
            .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"));
    if !is_report {
        return None;
    }
    let status_part = msg.parts.iter().find(|p| {
        p.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("message")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status"))
        })
    })?;
    let fields = status_fields(&String::from_utf8_lossy(status_part.contents()));
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let status = field("Status")?
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    let action = field("Action").unwrap_or_default().to_lowercase();
    let recipient = field("Final-Recipient")
        .or_else(|| field("Original-Recipient"))
        .map(|v| address_of(&v));
    Some(Bounce {
        hard: status.starts_with('5') && action == "failed",
        status,
        action,
        recipient,
        original_message_id: returned_message_id(msg),
        diagnostic: field("Diagnostic-Code")
            .map(|v| address_of(&v))
            .unwrap_or_default(),
    })
}

/// "rfc822; someone@example.com" → "someone@example.com".
fn address_of(typed: &str) -> String {
    match typed.split_once(';') {
        Some((_, v)) => v.trim().to_string(),
        None => typed.trim().to_string(),
    }
}

/// The fields of a delivery-status body: per-message fields, then each
/// recipient's. Recipient fields come later, so the first recipient's
/// values are found after the message's (which do not repeat names that
/// matter here). Folded lines are joined.
fn status_fields(body: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// The Message-ID of the message a report returns (`message/rfc822` or
/// `text/rfc822-headers`).
fn returned_message_id(msg: &Message) -> Option<String> {
    msg.parts.iter().find_map(|p| {
        if let Some(inner) = p.message() {
            return inner.message_id().map(clean_id);
        }
        let is_headers = p.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("text")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
        });
        if !is_headers {
            return None;
        }
        MessageParser::default()
            .parse(p.contents())
            .and_then(|m| m.message_id().map(clean_id))
    })
}

/// The message's text: its first text body (HTML reduced to text by the
/// parser, never rendered), capped.
fn plain_text(msg: &Message) -> String {
    let text = msg.body_text(0).unwrap_or_default();
    // NUL cannot be stored in a text column, and means nothing in mail.
    text.trim()
        .chars()
        .filter(|c| *c != '\0')
        .take(MAX_TEXT_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &str) -> Kind {
        classify(raw.as_bytes()).expect("a message").kind
    }

    const REPLY: &str = "Return-Path: <anna@customer.example>\r\n\
From: Anna Berg <Anna@Customer.example>\r\n\
To: Sam Seller <sam@seller.example>\r\n\
Subject: Re: Quick question about your fleet\r\n\
Date: Mon, 07 Dec 2026 10:15:00 +0100\r\n\
Message-ID: <CAFx1234@mail.customer.example>\r\n\
In-Reply-To: <0193a1b2-c3d4@seller.example>\r\n\
References: <0193a000-first@seller.example> <0193a1b2-c3d4@seller.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hi Sam, yes, let's talk on Thursday.\r\n\
\r\n\
> On Fri, Sam wrote:\r\n\
> Do you have ten minutes?\r\n";

    #[test]
    fn a_person_answering_is_a_reply_with_the_ids_it_names() {
        let c = classify(REPLY.as_bytes()).unwrap();
        assert_eq!(c.kind, Kind::Reply);
        assert_eq!(
            c.message_id.as_deref(),
            Some("CAFx1234@mail.customer.example")
        );
        assert_eq!(
            c.answers,
            vec![
                "0193a1b2-c3d4@seller.example",
                "0193a000-first@seller.example"
            ]
        );
        assert_eq!(c.from.as_deref(), Some("anna@customer.example"));
        assert_eq!(c.subject, "Re: Quick question about your fleet");
        assert!(c.text.starts_with("Hi Sam, yes, let's talk on Thursday."));
        assert_eq!(
            c.date,
            Some(Utc.with_ymd_and_hms(2026, 12, 7, 9, 15, 0).unwrap())
        );
    }

    #[test]
    fn a_re_subject_without_headers_is_a_reply_for_the_fallback() {
        let raw = "From: a@b.example\r\nSubject: AW: Hello there\r\n\r\nJa gerne.\r\n";
        assert_eq!(kind(raw), Kind::Reply);
        assert_eq!(reply_subject_base("Re: RE: Hello"), Some("Hello"));
        assert_eq!(reply_subject_base("Hello"), None);
        let raw = "From: a@b.example\r\nSubject: Our newsletter\r\n\r\nNews.\r\n";
        assert_eq!(kind(raw), Kind::Other);
    }

    #[test]
    fn html_only_replies_are_reduced_to_text() {
        let raw = "From: a@b.example\r\nSubject: Re: x\r\nIn-Reply-To: <m1@s.example>\r\n\
Content-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>Sounds <b>good</b></p><script>alert(1)</script></body></html>\r\n";
        let c = classify(raw.as_bytes()).unwrap();
        assert!(c.text.contains("Sounds good"), "{}", c.text);
        assert!(!c.text.contains("<b>"));
    }

    #[test]
    fn long_text_is_capped() {
        let body = "x".repeat(30_000);
        let raw = format!("From: a@b.example\r\nSubject: Re: y\r\n\r\n{body}\r\n");
        assert_eq!(classify(raw.as_bytes()).unwrap().text.len(), MAX_TEXT_CHARS);
    }

    fn auto(headers: &str, subject: &str) -> Kind {
        kind(&format!(
            "From: a@b.example\r\nSubject: {subject}\r\nIn-Reply-To: <m1@s.example>\r\n{headers}\r\nI am away.\r\n"
        ))
    }

    #[test]
    fn rfc_3834_and_common_headers_make_an_auto_reply_even_with_in_reply_to() {
        assert_eq!(
            auto("Auto-Submitted: auto-replied\r\n", "Re: x"),
            Kind::AutoReply
        );
        assert_eq!(
            auto(
                "Auto-Submitted: auto-generated; owner-email=\"a@b\"\r\n",
                "Re: x"
            ),
            Kind::AutoReply
        );
        assert_eq!(auto("Auto-Submitted: no\r\n", "Re: x"), Kind::Reply);
        assert_eq!(auto("X-Autoreply: yes\r\n", "Re: x"), Kind::AutoReply);
        assert_eq!(auto("X-Autorespond: Out\r\n", "Re: x"), Kind::AutoReply);
        assert_eq!(auto("Precedence: auto_reply\r\n", "Re: x"), Kind::AutoReply);
        assert_eq!(auto("Precedence: bulk\r\n", "Re: x"), Kind::AutoReply);
        assert_eq!(auto("Precedence: junk\r\n", "Re: x"), Kind::AutoReply);
        assert_eq!(auto("Precedence: list\r\n", "Re: x"), Kind::Reply);
    }

    #[test]
    fn out_of_office_subjects_in_four_languages() {
        for s in [
            "Out of Office: Quick question",
            "Automatic reply: Quick question",
            "Abwesenheitsnotiz: Kurze Frage",
            "Automatische Antwort: Kurze Frage",
            "Réponse automatique : Question rapide",
            "Absence du bureau",
            "Respuesta automática: Pregunta rápida",
            "Fuera de la oficina",
        ] {
            assert_eq!(auto("", s), Kind::AutoReply, "{s}");
        }
        assert_eq!(auto("", "Re: Office chairs"), Kind::Reply);
    }

    // A Postfix report returning the headers of the message that bounced.
    const HARD_BOUNCE: &str = "Return-Path: <>\r\n\
From: MAILER-DAEMON@mx.seller.example (Mail Delivery System)\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
To: sam@seller.example\r\n\
Auto-Submitted: auto-replied\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status;\r\n\
\tboundary=\"B1\"\r\n\
Message-Id: <20261207101500.ABC@mx.seller.example>\r\n\
\r\n\
This is a MIME-encapsulated message.\r\n\
\r\n\
--B1\r\n\
Content-Description: Notification\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
I'm sorry to have to inform you that your message could not\r\n\
be delivered to one or more recipients.\r\n\
\r\n\
--B1\r\n\
Content-Description: Delivery report\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.seller.example\r\n\
Arrival-Date: Mon,  7 Dec 2026 10:14:58 +0000 (UTC)\r\n\
\r\n\
Final-Recipient: rfc822; gone@customer.example\r\n\
Original-Recipient: rfc822;gone@customer.example\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Remote-MTA: dns; mx.customer.example\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <gone@customer.example>: Recipient address\r\n\
    \x20rejected: User unknown in virtual mailbox table\r\n\
\r\n\
--B1\r\n\
Content-Description: Undelivered Message Headers\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: Sam Seller <sam@seller.example>\r\n\
To: gone@customer.example\r\n\
Subject: Quick question about your fleet\r\n\
Message-ID: <0193a1b2-c3d4@seller.example>\r\n\
\r\n\
--B1--\r\n";

    #[test]
    fn a_5xx_failed_report_is_a_hard_bounce_naming_the_original() {
        let Kind::Bounce(b) = kind(HARD_BOUNCE) else {
            panic!("not a bounce");
        };
        assert!(b.hard);
        assert_eq!(b.status, "5.1.1");
        assert_eq!(b.action, "failed");
        assert_eq!(b.recipient.as_deref(), Some("gone@customer.example"));
        assert_eq!(
            b.original_message_id.as_deref(),
            Some("0193a1b2-c3d4@seller.example")
        );
        assert!(b.diagnostic.contains("User unknown"), "{}", b.diagnostic);
    }

    #[test]
    fn a_4xx_delayed_report_is_a_soft_bounce() {
        let raw = HARD_BOUNCE
            .replace("Action: failed", "Action: delayed")
            .replace("Status: 5.1.1", "Status: 4.2.2");
        let Kind::Bounce(b) = kind(&raw) else {
            panic!("not a bounce");
        };
        assert!(!b.hard);
        assert_eq!(b.status, "4.2.2");
    }

    #[test]
    fn a_report_returning_the_whole_message_names_its_id() {
        let raw = HARD_BOUNCE.replace(
            "Content-Type: text/rfc822-headers",
            "Content-Type: message/rfc822",
        );
        let Kind::Bounce(b) = kind(&raw) else {
            panic!("not a bounce");
        };
        assert_eq!(
            b.original_message_id.as_deref(),
            Some("0193a1b2-c3d4@seller.example")
        );
    }

    #[test]
    fn other_reports_are_not_bounces() {
        let raw = HARD_BOUNCE.replace(
            "report-type=delivery-status",
            "report-type=disposition-notification",
        );
        assert_ne!(
            std::mem::discriminant(&kind(&raw)),
            std::mem::discriminant(&Kind::Bounce(Bounce {
                hard: true,
                status: String::new(),
                action: String::new(),
                recipient: None,
                original_message_id: None,
                diagnostic: String::new(),
            }))
        );
    }

    #[test]
    fn garbage_and_senderless_mail_are_malformed() {
        assert_eq!(classify(b"").unwrap_err(), Malformed::NotAMessage);
        assert_eq!(
            classify(b"Subject: Re: x\r\n\r\nno sender\r\n").unwrap_err(),
            Malformed::NoSender
        );
    }
}
