//! Talking SMTP to a mailbox's own server: logging in to check settings, and
//! sending one message. Every connection goes only to an address that passed
//! the private-address guard (`net::resolve`), TLS (implicit or STARTTLS) is
//! verified against the configured host name, and each step has
//! `CONNECT_TIMEOUT`. Errors name the step that failed (`ConnectError`), so
//! the settings form and the mailbox's last error say what to fix.

use std::net::SocketAddr;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::Error as SmtpError;
use secrecy::ExposeSecret;

use super::net::{resolve, ConnectError, Security, Server, ServerError, CONNECT_TIMEOUT};

/// Login methods offered to the server, in order of preference.
const MECHANISMS: [Mechanism; 2] = [Mechanism::Plain, Mechanism::Login];

/// Why one send did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The server could not be reached or refused the login: the mail waits
    /// (an authentication failure also marks the mailbox for attention).
    Server(ServerError),
    /// The server permanently refused the message (5xx on MAIL, RCPT or
    /// DATA): a hard bounce, never retried. `status` is the enhanced status
    /// code when the server gave one (`5.1.1`), else the reply code (`550`).
    Refused { status: String, detail: String },
    /// A temporary refusal (4xx) or a broken conversation: retried later.
    Temporary(String),
}

/// Connects, logs in and says goodbye: proves host, port, security and
/// credentials are right without sending anything.
pub fn check_login(server: &Server, allow_private: bool) -> Result<(), ServerError> {
    let mut conn = open(server, allow_private).map_err(|e| ServerError::new(server, e))?;
    // The check passed once the login did; a refused QUIT changes nothing.
    let _ = conn.quit();
    Ok(())
}

/// Sends one message (`raw`, already formatted with its headers) to the
/// envelope's recipients through the mailbox's server.
pub fn send(
    server: &Server,
    allow_private: bool,
    envelope: &Envelope,
    raw: &[u8],
) -> Result<(), SendError> {
    let mut conn =
        open(server, allow_private).map_err(|e| SendError::Server(ServerError::new(server, e)))?;
    let sent = conn.send(envelope, raw).map_err(refusal);
    let _ = conn.quit();
    sent.map(|_| ())
}

/// Resolves, connects (implicit TLS or STARTTLS as configured) and logs in.
fn open(server: &Server, allow_private: bool) -> Result<SmtpConnection, ConnectError> {
    let addresses = resolve(&server.host, server.port, allow_private)?;
    let tls = tls_parameters(server)?;
    let hello = ClientId::default();
    let mut conn = connect_any(&addresses, server.security, tls.as_ref(), &hello)?;
    if server.security == Security::StartTls {
        let params = tls.as_ref().expect("STARTTLS has TLS parameters");
        conn.starttls(params, &hello).map_err(starttls_error)?;
    }
    let credentials = Credentials::new(
        server.username.clone(),
        server.password.expose_secret().to_string(),
    );
    conn.auth(&MECHANISMS, &credentials)
        .map_err(authentication_error)?;
    Ok(conn)
}

/// TLS settings checking the certificate against the configured host name
/// (not the address connected to).
fn tls_parameters(server: &Server) -> Result<Option<TlsParameters>, ConnectError> {
    if server.security == Security::None {
        return Ok(None);
    }
    TlsParameters::new(server.host.clone())
        .map(Some)
        .map_err(|e| ConnectError::Tls(e.to_string()))
}

/// Tries the allowed addresses in turn; the last failure is reported.
fn connect_any(
    addresses: &[SocketAddr],
    security: Security,
    tls: Option<&TlsParameters>,
    hello: &ClientId,
) -> Result<SmtpConnection, ConnectError> {
    let implicit = if security == Security::Tls { tls } else { None };
    let mut last = ConnectError::Resolve;
    for address in addresses {
        match SmtpConnection::connect(*address, Some(CONNECT_TIMEOUT), hello, implicit, None) {
            Ok(conn) => return Ok(conn),
            Err(e) => last = connect_error(&e),
        }
    }
    Err(last)
}

fn connect_error(e: &SmtpError) -> ConnectError {
    if e.is_timeout() {
        ConnectError::Timeout
    } else if e.is_tls() || is_tls_record_error(e) {
        ConnectError::Tls(describe(e))
    } else if e.is_permanent() || e.is_transient() {
        ConnectError::Protocol(format!(
            "the server refused the connection ({})",
            describe(e)
        ))
    } else {
        ConnectError::Connect(describe(e))
    }
}

/// A TLS handshake that read something not TLS (implicit TLS against a
/// plain-text port) surfaces as an I/O error of kind `InvalidData`.
fn is_tls_record_error(e: &SmtpError) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::InvalidData;
        }
        source = cause.source();
    }
    false
}

fn starttls_error(e: SmtpError) -> ConnectError {
    if e.is_timeout() {
        ConnectError::Timeout
    } else if e.is_client() {
        ConnectError::Tls("the server does not offer STARTTLS".into())
    } else {
        ConnectError::Tls(describe(&e))
    }
}

fn authentication_error(e: SmtpError) -> ConnectError {
    if e.is_timeout() {
        ConnectError::Timeout
    } else if e.is_permanent() || e.is_transient() {
        ConnectError::Authentication(describe(&e))
    } else if e.is_client() {
        ConnectError::Protocol(
            "the server offers no login method this application supports (PLAIN or LOGIN); \
             check the security setting"
                .into(),
        )
    } else {
        ConnectError::Connect(describe(&e))
    }
}

/// A refusal after login: 5xx is permanent (a hard bounce), anything else
/// may pass on a later try.
fn refusal(e: SmtpError) -> SendError {
    if e.is_permanent() {
        let detail = describe(&e);
        let status = enhanced_status(&detail)
            .or_else(|| e.status().map(|code| code.to_string()))
            .unwrap_or_else(|| "5.0.0".into());
        SendError::Refused { status, detail }
    } else {
        SendError::Temporary(describe(&e))
    }
}

/// The first enhanced status code (`5.1.1`) in a server's answer.
fn enhanced_status(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|word| {
            let parts: Vec<&str> = word.split('.').collect();
            parts.len() == 3
                && parts[0] == "5"
                && parts[1..].iter().all(|p| !p.is_empty() && p.len() <= 3)
        })
        .map(str::to_string)
}

/// The error with its cause, on one line.
fn describe(e: &SmtpError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailboxes::net::Protocol;

    fn server(host: &str, port: u16, security: Security) -> Server {
        Server {
            protocol: Protocol::Smtp,
            host: host.into(),
            port,
            security,
            username: "u".into(),
            password: "p".to_string().into(),
        }
    }

    #[test]
    fn private_hosts_are_refused_before_any_connection() {
        let e = check_login(&server("127.0.0.1", 25, Security::None), false).unwrap_err();
        assert_eq!(e.error, ConnectError::PrivateAddress);
        assert!(e.to_string().starts_with("SMTP server 127.0.0.1"));
    }

    #[test]
    fn a_closed_port_is_a_connect_error() {
        // Bind and drop a listener so the port is known to be closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = check_login(&server("127.0.0.1", port, Security::None), true).unwrap_err();
        assert!(matches!(e.error, ConnectError::Connect(_)), "{e:?}");
    }

    #[test]
    fn enhanced_status_codes_are_found_in_the_answer() {
        assert_eq!(
            enhanced_status("permanent error (550): 5.1.1 user unknown").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(
            enhanced_status("permanent error (550): mailbox unavailable"),
            None
        );
    }

    #[test]
    fn unknown_hosts_do_not_resolve() {
        let e = check_login(
            &server("no-such-host.invalid", 587, Security::StartTls),
            true,
        )
        .unwrap_err();
        assert_eq!(e.error, ConnectError::Resolve);
    }
}
