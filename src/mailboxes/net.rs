//! What the SMTP and IMAP clients share: a server's settings, the address
//! guard (mailbox hosts must be public unless `MAILBOX_ALLOW_PRIVATE_HOSTS`,
//! exactly as webhook targets), the time limit of one conversation, and the
//! error a person is shown when a server cannot be reached or refuses.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::webhooks::target::is_public;

/// How long connecting, greeting, TLS and login may take together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (SMTPS 465, IMAPS 993).
    Tls,
    /// Plain, then upgraded with STARTTLS (submission 587, IMAP 143).
    StartTls,
    /// No encryption: only allowed with `MAILBOX_ALLOW_PRIVATE_HOSTS`.
    None,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::StartTls => "starttls",
            Security::None => "none",
        }
    }

    /// The stored value (`mailboxes.*_security`); anything else is refused.
    pub fn parse(s: &str) -> Option<Security> {
        match s {
            "tls" => Some(Security::Tls),
            "starttls" => Some(Security::StartTls),
            "none" => Some(Security::None),
            _ => None,
        }
    }
}

/// Which server of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Smtp,
    Imap,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "SMTP",
            Protocol::Imap => "IMAP",
        }
    }
}

/// One server of a mailbox, with the password already opened.
#[derive(Clone)]
pub struct Server {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: secrecy::SecretString,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password never prints.
        write!(
            f,
            "{} {}:{} ({})",
            self.protocol.name(),
            self.host,
            self.port,
            self.security.as_str()
        )
    }
}

/// Why a server could not be used, naming the step that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The host name does not resolve.
    Resolve,
    /// The host resolves only to private or local addresses.
    PrivateAddress,
    /// Nothing answers on the port, or the connection broke.
    Connect(String),
    /// TLS failed (wrong mode for the port, bad certificate).
    Tls(String),
    /// The server refused the user name or password.
    Authentication(String),
    /// No answer within `CONNECT_TIMEOUT`.
    Timeout,
    /// The server answered something unexpected (the folder does not exist, …).
    Protocol(String),
}

/// A `ConnectError` for one server, as shown on the form and stored as the
/// mailbox's last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub error: ConnectError,
}

impl ServerError {
    pub fn new(server: &Server, error: ConnectError) -> ServerError {
        ServerError {
            protocol: server.protocol,
            host: server.host.clone(),
            port: server.port,
            error,
        }
    }

    /// True when the credentials were refused (not a network problem).
    pub fn is_authentication(&self) -> bool {
        matches!(self.error, ConnectError::Authentication(_))
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, host, port) = (self.protocol.name(), &self.host, self.port);
        match &self.error {
            ConnectError::Resolve => write!(f, "{p} server {host}: the name does not resolve."),
            ConnectError::PrivateAddress => write!(
                f,
                "{p} server {host}: it is a private or local address; mailbox servers must be \
                 public hosts."
            ),
            ConnectError::Connect(e) => {
                write!(f, "{p} server {host}:{port}: cannot connect ({e}).")
            }
            ConnectError::Tls(e) => write!(
                f,
                "{p} server {host}:{port}: the TLS handshake failed ({e}). Check the security \
                 setting for this port."
            ),
            ConnectError::Authentication(e) => write!(
                f,
                "{p} server {host}: the user name or password was refused ({e})."
            ),
            ConnectError::Timeout => write!(
                f,
                "{p} server {host}:{port}: no answer within {} seconds.",
                CONNECT_TIMEOUT.as_secs()
            ),
            ConnectError::Protocol(e) => write!(f, "{p} server {host}:{port}: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// Resolves `host:port` once and keeps the addresses a connection may go
/// to: public ones, or any when `allow_private`.
pub fn resolve(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, ConnectError> {
    let found: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| ConnectError::Resolve)?
        .collect();
    if found.is_empty() {
        return Err(ConnectError::Resolve);
    }
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| allow_private || is_public(a.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(ConnectError::PrivateAddress);
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_refused_unless_allowed() {
        assert_eq!(
            resolve("localhost", 993, false),
            Err(ConnectError::PrivateAddress)
        );
        assert_eq!(
            resolve("127.0.0.1", 993, false),
            Err(ConnectError::PrivateAddress)
        );
        assert!(resolve("127.0.0.1", 993, true).is_ok());
        assert_eq!(
            resolve("no-such-host.invalid", 993, true),
            Err(ConnectError::Resolve)
        );
    }

    #[test]
    fn errors_name_the_server_and_the_step() {
        let e = ServerError {
            protocol: Protocol::Imap,
            host: "imap.example.com".into(),
            port: 993,
            error: ConnectError::Authentication("LOGIN failed".into()),
        };
        assert_eq!(
            e.to_string(),
            "IMAP server imap.example.com: the user name or password was refused (LOGIN failed)."
        );
        assert!(e.is_authentication());
    }
}
