//! The IMAP client of a mailbox: checking a login, and reading new mail of
//! one folder without ever changing it. The folder is opened with EXAMINE
//! (read-only), bodies are fetched with `BODY.PEEK[]` (no `\Seen`), and no
//! STORE, EXPUNGE, COPY or MOVE is ever sent.
//!
//! Connections go only to addresses `net::resolve` allows (the private
//! address guard). Connecting, the greeting, TLS and login together take at
//! most `net::CONNECT_TIMEOUT`; a whole poll at most its caller's budget.
//! The calls are synchronous: each runs its conversation on a small
//! current-thread runtime of its own, so jobs and `web::block` call them as
//! any blocking function, and no database connection is held meanwhile.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::mailboxes::net::{self, ConnectError, Security, Server, ServerError};

/// Any byte stream an IMAP conversation runs over (plain or TLS).
pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> ImapStream for T {}

/// A logged-in IMAP session.
pub type ImapSession = Session<Box<dyn ImapStream>>;

/// Logs in to `server` and opens `folder` read-only, then logs out: the
/// check of the mailbox form and of a mailbox that needed attention. A
/// folder that does not exist is a `Protocol` error naming it.
pub fn check_login(server: &Server, folder: &str, allow_private: bool) -> Result<(), ServerError> {
    run(server, net::CONNECT_TIMEOUT + net::CONNECT_TIMEOUT, async {
        let mut session = open(server, allow_private).await?;
        examine(&mut session, folder).await?;
        // A failed LOGOUT changes nothing the check is about.
        let _ = session.logout().await;
        Ok(())
    })
}

/// How a poll reads a folder.
#[derive(Debug, Clone, Copy)]
pub struct PollLimits {
    /// Messages larger than this are listed but not downloaded.
    pub max_message_bytes: u32,
    /// At most this many new messages are read in one poll; the rest wait
    /// for the next one.
    pub max_messages: usize,
    /// The whole poll, login included.
    pub budget: Duration,
}

impl Default for PollLimits {
    fn default() -> Self {
        PollLimits {
            max_message_bytes: 10 * 1024 * 1024,
            max_messages: 100,
            budget: Duration::from_secs(45),
        }
    }
}

/// Where the previous poll stopped: the folder's UIDVALIDITY then and the
/// highest UID read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub uid_validity: u32,
    pub last_uid: u32,
}

/// One new message of the folder.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub uid: u32,
    pub size: u32,
    /// The whole message, or `None` when it is larger than the limit.
    pub raw: Option<Vec<u8>>,
}

/// What one poll found.
#[derive(Debug, Clone)]
pub struct Poll {
    /// The folder's UIDVALIDITY now.
    pub uid_validity: u32,
    /// True when it differs from the position given: the folder was
    /// rebuilt and is read again from its first message.
    pub resynced: bool,
    /// New messages in UID order.
    pub messages: Vec<Fetched>,
}

impl Poll {
    /// The position to keep after this poll.
    pub fn position(&self, before: Option<Position>) -> Position {
        let start = match before {
            Some(p) if !self.resynced => p.last_uid,
            _ => 0,
        };
        let last_uid = self.messages.iter().map(|m| m.uid).fold(start, u32::max);
        Position {
            uid_validity: self.uid_validity,
            last_uid,
        }
    }
}

/// Reads the messages of `folder` after `position` (all of them when there
/// is none or the folder's UIDVALIDITY changed), without changing anything.
pub fn poll(
    server: &Server,
    folder: &str,
    allow_private: bool,
    position: Option<Position>,
    limits: PollLimits,
) -> Result<Poll, ServerError> {
    run(server, limits.budget, async {
        let mut session = open(server, allow_private).await?;
        let mailbox = examine(&mut session, folder).await?;
        let uid_validity = mailbox
            .uid_validity
            .ok_or_else(|| ConnectError::Protocol("the folder has no UIDVALIDITY.".into()))?;
        let resynced = position.is_some_and(|p| p.uid_validity != uid_validity);
        let after = match position {
            Some(p) if !resynced => p.last_uid,
            _ => 0,
        };
        let mut messages = Vec::new();
        if mailbox.exists > 0 {
            for (uid, size) in new_uids(&mut session, after, limits.max_messages).await? {
                let raw = if size <= limits.max_message_bytes {
                    Some(fetch_body(&mut session, uid).await?)
                } else {
                    None
                };
                messages.push(Fetched { uid, size, raw });
            }
        }
        let _ = session.logout().await;
        Ok(Poll {
            uid_validity,
            resynced,
            messages,
        })
    })
}

/// The UIDs above `after` with their sizes, lowest first, at most `max`.
async fn new_uids(
    session: &mut ImapSession,
    after: u32,
    max: usize,
) -> Result<Vec<(u32, u32)>, ConnectError> {
    // `N:*` always names the last message, even below N: filter.
    let found: Vec<_> = session
        .uid_fetch(format!("{}:*", after + 1), "(UID RFC822.SIZE)")
        .await
        .map_err(protocol)?
        .try_collect()
        .await
        .map_err(protocol)?;
    let mut uids: Vec<(u32, u32)> = found
        .iter()
        .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0))))
        .filter(|(uid, _)| *uid > after)
        .collect();
    uids.sort_unstable();
    uids.dedup_by_key(|(uid, _)| *uid);
    uids.truncate(max);
    Ok(uids)
}

/// The whole message `uid`, read with PEEK so its flags stay as they were.
async fn fetch_body(session: &mut ImapSession, uid: u32) -> Result<Vec<u8>, ConnectError> {
    let found: Vec<_> = session
        .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
        .await
        .map_err(protocol)?
        .try_collect()
        .await
        .map_err(protocol)?;
    Ok(found
        .iter()
        .find(|f| f.uid == Some(uid))
        .and_then(|f| f.body())
        .map(<[u8]>::to_vec)
        .unwrap_or_default())
}

/// Runs one conversation with `server` on a runtime of its own, within
/// `budget`.
fn run<T>(
    server: &Server,
    budget: Duration,
    conversation: impl Future<Output = Result<T, ConnectError>> + Send,
) -> Result<T, ServerError>
where
    T: Send,
{
    // The runtime is built, used and dropped on the same thread.
    let converse = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| ConnectError::Connect(e.to_string()))?
            .block_on(async { tokio::time::timeout(budget, conversation).await })
            .unwrap_or(Err(ConnectError::Timeout))
    };
    // A runtime cannot be entered from inside another one (a caller on an
    // async thread): then the conversation gets a thread of its own.
    let outcome = if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(converse).join())
            .unwrap_or_else(|_| Err(ConnectError::Protocol("the IMAP client stopped.".into())))
    } else {
        converse()
    };
    outcome.map_err(|e| ServerError::new(server, e))
}

/// Connects, reads the greeting, secures the connection as configured and
/// logs in, all within `CONNECT_TIMEOUT`.
pub async fn open(server: &Server, allow_private: bool) -> Result<ImapSession, ConnectError> {
    tokio::time::timeout(net::CONNECT_TIMEOUT, async {
        let client = connect(server, allow_private).await?;
        login(client, server).await
    })
    .await
    .unwrap_or(Err(ConnectError::Timeout))
}

/// A client past the greeting, over TLS unless the server says `none`.
async fn connect(
    server: &Server,
    allow_private: bool,
) -> Result<Client<Box<dyn ImapStream>>, ConnectError> {
    let addrs = net::resolve(&server.host, server.port, allow_private)?;
    let tcp = TcpStream::connect(&addrs[..])
        .await
        .map_err(|e| ConnectError::Connect(e.to_string()))?;
    match server.security {
        Security::Tls => {
            let tls = tls_handshake(tcp, &server.host).await?;
            greeted(Client::new(Box::new(tls) as Box<dyn ImapStream>)).await
        }
        Security::StartTls => {
            let mut plain = greeted(Client::new(tcp)).await?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| ConnectError::Tls(format!("STARTTLS refused: {e}")))?;
            let tls = tls_handshake(plain.into_inner(), &server.host).await?;
            Ok(Client::new(Box::new(tls) as Box<dyn ImapStream>))
        }
        Security::None => greeted(Client::new(Box::new(tcp) as Box<dyn ImapStream>)).await,
    }
}

/// Reads the server's greeting; a server that closes at once is refused.
async fn greeted<T: ImapStream>(mut client: Client<T>) -> Result<Client<T>, ConnectError> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(client),
        Ok(None) => Err(ConnectError::Connect(
            "the server closed the connection before greeting".into(),
        )),
        Err(e) => Err(ConnectError::Connect(e.to_string())),
    }
}

async fn login(
    client: Client<Box<dyn ImapStream>>,
    server: &Server,
) -> Result<ImapSession, ConnectError> {
    client
        .login(&server.username, server.password.expose_secret())
        .await
        .map_err(|(e, _)| match e {
            async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m) => {
                ConnectError::Authentication(m.trim().to_string())
            }
            other => ConnectError::Connect(other.to_string()),
        })
}

/// Opens `folder` read-only.
async fn examine(
    session: &mut ImapSession,
    folder: &str,
) -> Result<async_imap::types::Mailbox, ConnectError> {
    session.examine(folder).await.map_err(|e| match e {
        async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m) => {
            ConnectError::Protocol(format!(
                "the folder \"{folder}\" cannot be opened ({}).",
                m.trim()
            ))
        }
        other => protocol(other),
    })
}

fn protocol(e: async_imap::error::Error) -> ConnectError {
    match e {
        async_imap::error::Error::Io(e) => ConnectError::Connect(e.to_string()),
        async_imap::error::Error::ConnectionLost => {
            ConnectError::Connect("the connection was lost".into())
        }
        other => ConnectError::Protocol(other.to_string()),
    }
}

async fn tls_handshake<S>(
    stream: S,
    host: &str,
) -> Result<tokio_rustls::client::TlsStream<S>, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| ConnectError::Tls(e.to_string()))?;
    tokio_rustls::TlsConnector::from(tls_config()?)
        .connect(name, stream)
        .await
        .map_err(|e| ConnectError::Tls(e.to_string()))
}

/// Certificates are checked against the Mozilla root set.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, ConnectError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
