//! A real IMAP server for one test: Dovecot (Debian's `dovecot-imapd`,
//! installed by scripts/test-prereqs) started from a configuration of its
//! own in a temporary directory, on a free loopback port, with plain
//! passwords from a passwd file, no TLS and maildirs in the same directory.
//! Its login and mail processes run as the `dovecot` user (imap-login
//! refuses root), so the directory is handed to that user. Dropping the
//! value stops the server by its PID and removes the directory.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::net::TcpStream as AsyncTcpStream;

pub struct Dovecot {
    dir: PathBuf,
    port: u16,
    pid: i32,
}

impl Dovecot {
    /// Starts a server knowing `users` (name, password).
    pub fn start(users: &[(&str, &str)]) -> Dovecot {
        let dir = std::env::temp_dir().join(format!("ld-imap-{}", uuid::Uuid::new_v4().simple()));
        for sub in ["base", "state", "mail"] {
            std::fs::create_dir_all(dir.join(sub)).expect("dovecot dirs");
        }
        let port = free_port();
        let passwd: String = users
            .iter()
            .map(|(u, p)| format!("{u}:{{PLAIN}}{p}\n"))
            .collect();
        std::fs::write(dir.join("users"), passwd).expect("passwd file");
        std::fs::write(dir.join("dovecot.conf"), config(&dir, port)).expect("dovecot.conf");
        give_to_dovecot(&dir);
        let status = Command::new("/usr/sbin/dovecot")
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .status()
            .expect("dovecot (run scripts/test-prereqs)");
        assert!(status.success(), "dovecot did not start: {}", log(&dir));
        let pid = wait_for_pid(&dir);
        wait_until_listening(port, &dir);
        Dovecot { dir, port, pid }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Delivers `raw` into `folder` of `user` as a mail client would: IMAP
    /// APPEND over the wire.
    pub fn append(&self, user: &str, password: &str, folder: &str, raw: &[u8]) {
        let port = self.port;
        let (user, password, folder, raw) = (
            user.to_string(),
            password.to_string(),
            folder.to_string(),
            raw.to_vec(),
        );
        on_own_runtime(move || async move {
            let mut session = session(port, &user, &password).await;
            session
                .append(&folder, None, None, &raw)
                .await
                .expect("APPEND");
            let _ = session.logout().await;
        });
    }

    /// The folder's messages (sequence number order) with their flags, as
    /// read by a client that examines it (changes nothing).
    pub fn flags(&self, user: &str, password: &str, folder: &str) -> Vec<Vec<String>> {
        let port = self.port;
        let (user, password, folder) = (user.to_string(), password.to_string(), folder.to_string());
        on_own_runtime(move || async move {
            use futures_util::TryStreamExt;
            let mut session = session(port, &user, &password).await;
            let mailbox = session.examine(&folder).await.expect("EXAMINE");
            if mailbox.exists == 0 {
                return Vec::new();
            }
            let fetched: Vec<_> = session
                .fetch("1:*", "FLAGS")
                .await
                .expect("FETCH")
                .try_collect()
                .await
                .expect("FETCH");
            let _ = session.logout().await;
            fetched
                .iter()
                .map(|f| {
                    f.flags()
                        .map(|fl| format!("{fl:?}"))
                        .filter(|fl| !fl.contains("Recent"))
                        .collect()
                })
                .collect()
        })
    }

    /// Gives `folder` of `user` a new UIDVALIDITY (as a server does when a
    /// folder is rebuilt): every UID read before is void.
    pub fn set_uid_validity(&self, user: &str, folder: &str, validity: u32) {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .args(["mailbox", "update", "-u", user, "--uid-validity"])
            .arg(validity.to_string())
            .arg(folder)
            .output()
            .expect("doveadm");
        assert!(
            out.status.success(),
            "doveadm mailbox update: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // The master stops its children on SIGTERM.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), None).is_ok()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `work` on a runtime of its own, on its own thread (tests already
/// run inside one).
fn on_own_runtime<F, Fut, T>(work: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work())
    })
    .join()
    .expect("IMAP client thread")
}

async fn session(port: u16, user: &str, password: &str) -> async_imap::Session<AsyncTcpStream> {
    let tcp = AsyncTcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to dovecot");
    let mut client = async_imap::Client::new(tcp);
    client
        .read_response()
        .await
        .expect("greeting")
        .expect("greeting");
    client
        .login(user, password)
        .await
        .map_err(|(e, _)| e)
        .expect("LOGIN")
}

fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "protocols = imap
listen = 127.0.0.1
base_dir = {d}/base
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovecot
default_internal_user = dovecot
default_internal_group = dovecot
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"
    )
}

/// The directory and everything in it belongs to `dovecot`.
fn give_to_dovecot(dir: &Path) {
    let user = nix::unistd::User::from_name("dovecot")
        .ok()
        .flatten()
        .expect("the dovecot user (run scripts/test-prereqs)");
    for entry in walk(dir) {
        std::os::unix::fs::chown(&entry, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
            .expect("chown");
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let path = e.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_pid(dir: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(pid) = std::fs::read_to_string(dir.join("base/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no dovecot pid: {}", log(dir));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_until_listening(port: u16, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "dovecot does not listen: {}",
            log(dir)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default()
}
