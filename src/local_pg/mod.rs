//! A private PostgreSQL server for running without configuration: process
//! supervision of `initdb`/`pg_ctl`, not database access.
//!
//! When `DATABASE_URL` is not set the app calls [`LocalPostgres::start`], which
//! runs a cluster of its own under the app's var dir (chosen by [`VarDir`]):
//!
//! - `<var_dir>/postgres`      the data directory (created by `initdb` on first use:
//!   trust auth, UTF8, collation `C`, ctype `C.UTF-8` when available, superuser
//!   `lead_dashboard`);
//! - `<var_dir>/run`           the Unix socket directory (mode 0700: with trust auth
//!   the directory permissions are what keeps other local users out). TCP is off.
//!   If `<var_dir>/run/.s.PGSQL.5432` would exceed the 107-byte socket path limit,
//!   `/tmp/lead_dashboard-<hash of var_dir>` is used instead;
//! - `<var_dir>/postgres.log`  the server log (appended to);
//! - `<var_dir>/postgres.lock` an advisory lock serialising start-up between app
//!   instances that share the var dir.
//!
//! Server binaries are looked up in `pg_config --bindir`, then
//! `/usr/lib/postgresql/*/bin` (highest version first), then `PATH`; an existing
//! cluster is run with binaries of its own major version.
//!
//! PostgreSQL refuses to run as root. When the app is root, `initdb` and `pg_ctl`
//! run as the owner of an existing cluster, else the `postgres` user, else
//! `nobody`, and the directories above are handed to that user.
//!
//! A server already running on the data directory (another app instance) is
//! reused and left running on exit; a server started here is stopped on drop.

mod binaries;
mod layout;
mod process;
#[cfg(test)]
mod tests;
mod user;
mod var_dir;

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use self::binaries::{find_bindir, locale_args};
use self::layout::Layout;
use self::process::{
    bare_cmd, command_failed, describe_output, lock_exclusive, log_tail, output, percent_encode,
    read_pid_file, remove_if_stale, run, shell_quote,
};
use self::user::{prepare_files, service_user, ServiceUser};
pub use self::var_dir::{Blocked, VarDir, DEFAULT_VAR_DIR, FALLBACK_PARENT};

/// Superuser created by `initdb`; the app connects as this role.
const SUPERUSER: &str = "lead_dashboard";
/// Database the app uses.
const DATABASE: &str = "lead_dashboard";
/// Only names the socket file, as TCP is disabled.
const PORT: u16 = 5432;
/// Seconds `pg_ctl` waits for start and stop.
const PG_CTL_TIMEOUT: &str = "60";
/// Lines of `postgres.log` quoted when the server does not start.
const LOG_TAIL_LINES: usize = 20;

/// Why the local PostgreSQL server could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum LocalPgError {
    /// No directory holding both `initdb` and `pg_ctl` was found.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found in `pg_config --bindir`, \
         /usr/lib/postgresql/*/bin or PATH. Either set DATABASE_URL to an existing PostgreSQL \
         server, or install PostgreSQL (e.g. `apt-get install postgresql`)"
    )]
    BinariesNotFound,
    /// The existing cluster needs a PostgreSQL major version that is not installed.
    #[error(
        "the cluster in {data_dir} was created by PostgreSQL {cluster}, but only PostgreSQL \
         {installed} binaries were found; install PostgreSQL {cluster}, remove {data_dir} to \
         start afresh, or set DATABASE_URL to an existing server"
    )]
    VersionMismatch {
        data_dir: PathBuf,
        cluster: String,
        installed: String,
    },
    /// Running as root with no unprivileged account to run PostgreSQL as.
    #[error(
        "running as root, but neither a `postgres` nor a `nobody` user exists, and PostgreSQL \
         refuses to run as root; create a `postgres` system user, run the app as an unprivileged \
         user, or set DATABASE_URL to an existing server"
    )]
    NoServiceUser,
    /// A directory on the way to the cluster cannot be entered by the service user.
    #[error(
        "{path} cannot be entered by user `{user}`, which PostgreSQL runs as; allow it \
         (e.g. `chmod o+x {path}`), choose a var dir elsewhere, or set DATABASE_URL"
    )]
    NotAccessible { path: PathBuf, user: String },
    /// A directory we must own exists but belongs to someone else.
    #[error("{0} exists but is not a directory owned by the PostgreSQL user; remove it")]
    ForeignDirectory(PathBuf),
    /// A file system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// A PostgreSQL tool exited unsuccessfully.
    #[error("`{command}` failed: {output}")]
    Command { command: String, output: String },
    /// `pg_ctl start` failed.
    #[error("PostgreSQL did not start ({output}); last lines of {log}:\n{tail}")]
    StartFailed {
        output: String,
        log: PathBuf,
        tail: String,
    },
    /// `postmaster.pid` lacks the port or socket directory.
    #[error("{0} does not name a port and a Unix socket directory")]
    BadPidFile(PathBuf),
}

/// A running PostgreSQL server on a private Unix socket; see the module docs.
#[derive(Debug)]
pub struct LocalPostgres {
    var_dir: PathBuf,
    bindir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    port: u16,
    user: Option<ServiceUser>,
    started_here: bool,
    stopped: bool,
}

impl LocalPostgres {
    /// Starts (creating on first use) the cluster under var_dir and ensures the database exists.
    pub fn start(var_dir: &Path) -> Result<LocalPostgres, LocalPgError> {
        let layout = Layout::new(var_dir)?;
        let _lock = lock_exclusive(&layout.lock_file)?;
        let user = service_user(&layout.data_dir)?;
        let bindir = find_bindir(&layout.data_dir)?;
        prepare_files(&layout, user.as_ref())?;
        let mut pg = LocalPostgres {
            var_dir: var_dir.to_path_buf(),
            bindir,
            data_dir: layout.data_dir,
            socket_dir: layout.socket_dir,
            log_file: layout.log_file,
            port: PORT,
            user,
            started_here: false,
            stopped: false,
        };
        pg.run_server()?;
        pg.ensure_database()?;
        Ok(pg)
    }

    /// libpq URL usable by Diesel, e.g.
    /// `postgresql:///lead_dashboard?host=/abs/var/run&port=5432&user=lead_dashboard`
    /// (the socket directory is percent-encoded).
    pub fn database_url(&self) -> String {
        let host = percent_encode(self.socket_dir.as_os_str().as_bytes());
        format!(
            "postgresql:///{DATABASE}?host={host}&port={}&user={SUPERUSER}",
            self.port
        )
    }

    /// The directory the cluster lives under.
    pub fn var_dir(&self) -> &Path {
        &self.var_dir
    }

    /// True when this process started the server (and so stops it on drop).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// Stops the server if this process started it; later calls do nothing.
    pub fn stop(&mut self) {
        if !self.started_here || self.stopped {
            return;
        }
        self.stopped = true;
        let mut cmd = self.server_cmd("pg_ctl");
        cmd.args(["stop", "-w", "-t", PG_CTL_TIMEOUT, "-m", "fast", "-D"])
            .arg(&self.data_dir);
        match run(&mut cmd) {
            Ok(_) => {
                tracing::info!(data_dir = %self.data_dir.display(), "stopped local PostgreSQL")
            }
            Err(err) => tracing::error!(error = %err, "could not stop local PostgreSQL"),
        }
    }

    /// Creates the cluster if needed, then reuses or starts its server.
    fn run_server(&mut self) -> Result<(), LocalPgError> {
        if !self.data_dir.join("PG_VERSION").exists() {
            self.init_cluster()?;
        }
        if self.is_running()? {
            tracing::info!(data_dir = %self.data_dir.display(), "reusing running local PostgreSQL");
        } else {
            self.start_server()?;
            self.started_here = true;
        }
        let pid_file = read_pid_file(&self.data_dir)?;
        self.port = pid_file.port;
        self.socket_dir = pid_file.socket_dir;
        Ok(())
    }

    fn init_cluster(&self) -> Result<(), LocalPgError> {
        let began = Instant::now();
        let mut cmd = self.server_cmd("initdb");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(["-A", "trust", "-E", "UTF8", "-U", SUPERUSER])
            .args(locale_args());
        run(&mut cmd)?;
        tracing::info!(
            data_dir = %self.data_dir.display(),
            elapsed_ms = began.elapsed().as_millis() as u64,
            "created local PostgreSQL cluster"
        );
        Ok(())
    }

    /// Whether a live server owns the data directory; a stale `postmaster.pid` is removed.
    fn is_running(&self) -> Result<bool, LocalPgError> {
        let mut cmd = self.server_cmd("pg_ctl");
        cmd.arg("status").arg("-D").arg(&self.data_dir);
        let out = output(&mut cmd)?;
        match out.status.code() {
            Some(0) => Ok(!remove_if_stale(&self.data_dir.join("postmaster.pid"))?),
            Some(3) => Ok(false),
            _ => Err(command_failed(&cmd, &out)),
        }
    }

    fn start_server(&self) -> Result<(), LocalPgError> {
        let began = Instant::now();
        // A crashed server's socket lock blocks a new one just like its postmaster.pid.
        remove_if_stale(&self.socket_dir.join(format!(".s.PGSQL.{PORT}.lock")))?;
        let mut options = OsString::from("-k ");
        options.push(shell_quote(self.socket_dir.as_os_str()));
        options.push(format!(" -c listen_addresses='' -p {PORT}"));
        let mut cmd = self.server_cmd("pg_ctl");
        cmd.args(["start", "-w", "-t", PG_CTL_TIMEOUT, "-D"])
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .arg("-o")
            .arg(options);
        let out = output(&mut cmd)?;
        if !out.status.success() {
            return Err(LocalPgError::StartFailed {
                output: describe_output(&out),
                log: self.log_file.clone(),
                tail: log_tail(&self.log_file),
            });
        }
        tracing::info!(
            socket_dir = %self.socket_dir.display(),
            elapsed_ms = began.elapsed().as_millis() as u64,
            "started local PostgreSQL"
        );
        Ok(())
    }

    fn ensure_database(&self) -> Result<(), LocalPgError> {
        let query = format!("SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'");
        let mut psql = self.client_cmd("psql");
        psql.args(["-X", "-q", "-t", "-A", "-d", "postgres", "-c", &query]);
        if String::from_utf8_lossy(&run(&mut psql)?.stdout).trim() == "1" {
            return Ok(());
        }
        run(self.client_cmd("createdb").arg(DATABASE))?;
        tracing::info!(database = DATABASE, "created database in local PostgreSQL");
        Ok(())
    }

    /// A tool that touches the data directory, run as the service user.
    fn server_cmd(&self, program: &str) -> Command {
        let mut cmd = bare_cmd(&self.bindir, program);
        // The service user may not be able to enter our working directory.
        cmd.current_dir("/");
        if let Some(user) = &self.user {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd
    }

    /// A client tool connected to our server as the superuser.
    fn client_cmd(&self, program: &str) -> Command {
        let mut cmd = bare_cmd(&self.bindir, program);
        cmd.arg("-h")
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER]);
        cmd
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        self.stop()
    }
}
