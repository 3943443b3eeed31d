//! A private PostgreSQL server for running without configuration.
//!
//! When `DATABASE_URL` is not set the app calls [`LocalPostgres::start`], which
//! runs a cluster of its own under the app's var dir:
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

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// Superuser created by `initdb`; the app connects as this role.
const SUPERUSER: &str = "lead_dashboard";
/// Database the app uses.
const DATABASE: &str = "lead_dashboard";
/// Only names the socket file, as TCP is disabled.
const PORT: u16 = 5432;
/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
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
    bindir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    port: u16,
    user: Option<ServiceUser>,
    started_here: bool,
    stopped: bool,
}

/// The unprivileged account server processes run as when the app is root.
#[derive(Debug, Clone)]
struct ServiceUser {
    uid: u32,
    gid: u32,
    name: String,
}

/// Where the cluster's files live.
struct Layout {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    lock_file: PathBuf,
    socket_dir_is_shared: bool,
}

/// Where a running server listens, from its `postmaster.pid`.
struct PidFile {
    port: u16,
    socket_dir: PathBuf,
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

impl Layout {
    fn new(var_dir: &Path) -> Result<Layout, LocalPgError> {
        fs::create_dir_all(var_dir)
            .map_err(io_context(format!("creating {}", var_dir.display())))?;
        let var_dir = var_dir
            .canonicalize()
            .map_err(io_context(format!("resolving {}", var_dir.display())))?;
        let (socket_dir, socket_dir_is_shared) = socket_dir_for(&var_dir);
        Ok(Layout {
            data_dir: var_dir.join("postgres"),
            log_file: var_dir.join("postgres.log"),
            lock_file: var_dir.join("postgres.lock"),
            socket_dir,
            socket_dir_is_shared,
        })
    }
}

/// `<var_dir>/run`, or a per-var-dir directory under `/tmp` (flagged `true`)
/// when the socket path would be too long.
fn socket_dir_for(var_dir: &Path) -> (PathBuf, bool) {
    let preferred = var_dir.join("run");
    let socket_name_len = format!("/.s.PGSQL.{PORT}").len();
    if preferred.as_os_str().len() + socket_name_len <= MAX_SOCKET_PATH {
        return (preferred, false);
    }
    let hash = fnv1a(var_dir.as_os_str().as_bytes());
    (
        PathBuf::from(format!("/tmp/lead_dashboard-{hash:016x}")),
        true,
    )
}

/// Holds an exclusive `flock` on `path` until the returned file is dropped.
fn lock_exclusive(path: &Path) -> Result<File, LocalPgError> {
    let context = || format!("locking {}", path.display());
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_context(context()))?;
    loop {
        // SAFETY: the descriptor stays open for the duration of the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(file);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(io_context(context())(err));
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Who runs the server: `None` (ourselves) unless we are root.
fn service_user(data_dir: &Path) -> Result<Option<ServiceUser>, LocalPgError> {
    if !is_root() {
        return Ok(None);
    }
    // An existing cluster only runs as the user who owns it.
    if let Ok(meta) = fs::metadata(data_dir.join("PG_VERSION")) {
        if meta.uid() != 0 {
            return Ok(Some(user_by_uid(meta.uid(), meta.gid())));
        }
    }
    ["postgres", "nobody"]
        .into_iter()
        .find_map(user_by_name)
        .map(Some)
        .ok_or(LocalPgError::NoServiceUser)
}

fn user_by_name(name: &str) -> Option<ServiceUser> {
    let name = CString::new(name).ok()?;
    // SAFETY: all pointers are valid for the call (see `lookup_user`).
    lookup_user(|pwd, buf, len, result| unsafe {
        libc::getpwnam_r(name.as_ptr(), pwd, buf, len, result)
    })
}

fn user_by_uid(uid: u32, gid: u32) -> ServiceUser {
    // SAFETY: all pointers are valid for the call (see `lookup_user`).
    let found = lookup_user(|pwd, buf, len, result| unsafe {
        libc::getpwuid_r(uid, pwd, buf, len, result)
    });
    found.unwrap_or_else(|| ServiceUser {
        uid,
        gid,
        name: format!("uid {uid}"),
    })
}

/// Runs a reentrant `getpw*_r` call (the plain ones are not thread-safe).
fn lookup_user(
    call: impl FnOnce(*mut libc::passwd, *mut libc::c_char, usize, *mut *mut libc::passwd) -> i32,
) -> Option<ServiceUser> {
    // SAFETY: passwd is plain data; all-zero is a valid value to be overwritten.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result = std::ptr::null_mut();
    if call(&mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points to a NUL-terminated string inside buf.
    let name = unsafe { CStr::from_ptr(pwd.pw_name) };
    Some(ServiceUser {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        name: name.to_string_lossy().into_owned(),
    })
}

/// The first bindir with server binaries, matching an existing cluster's major version.
fn find_bindir(data_dir: &Path) -> Result<PathBuf, LocalPgError> {
    let candidates = candidate_bindirs();
    let Ok(cluster) = fs::read_to_string(data_dir.join("PG_VERSION")) else {
        return candidates
            .into_iter()
            .next()
            .ok_or(LocalPgError::BinariesNotFound);
    };
    let cluster = cluster.trim();
    let versions: Vec<(PathBuf, String)> = candidates
        .into_iter()
        .filter_map(|dir| server_version(&dir).map(|version| (dir, version)))
        .collect();
    if let Some((dir, _)) = versions.iter().find(|(_, v)| same_major(v, cluster)) {
        return Ok(dir.clone());
    }
    if versions.is_empty() {
        return Err(LocalPgError::BinariesNotFound);
    }
    Err(LocalPgError::VersionMismatch {
        data_dir: data_dir.to_path_buf(),
        cluster: cluster.to_owned(),
        installed: versions
            .iter()
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Directories holding `initdb` and `pg_ctl`, in order of preference, without duplicates.
fn candidate_bindirs() -> Vec<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut found: Vec<PathBuf> = Vec::new();
    let all = pg_config_bindir()
        .into_iter()
        .chain(debian_bindirs())
        .chain(path_dirs);
    for dir in all {
        if has_server_binaries(&dir) && !found.contains(&dir) {
            found.push(dir);
        }
    }
    found
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl"]
        .iter()
        .all(|bin| dir.join(bin).is_file())
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    out.status.success().then(|| PathBuf::from(dir.trim()))
}

/// `/usr/lib/postgresql/<version>/bin`, highest version first.
fn debian_bindirs() -> Vec<PathBuf> {
    let entries = fs::read_dir("/usr/lib/postgresql").into_iter().flatten();
    let mut versioned: Vec<(Vec<u32>, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort_by(|a, b| b.0.cmp(&a.0));
    versioned.into_iter().map(|(_, dir)| dir).collect()
}

/// The version `pg_ctl --version` reports, e.g. `15.14`.
fn server_version(bindir: &Path) -> Option<String> {
    let out = Command::new(bindir.join("pg_ctl"))
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.split_whitespace().nth(2)?;
    out.status.success().then(|| version.to_owned())
}

/// Whether server `version` (`15.14`, `16beta1`, `9.6.24`) can run a cluster
/// whose `PG_VERSION` is `cluster` (`15`, `9.6`).
fn same_major(version: &str, cluster: &str) -> bool {
    version
        .strip_prefix(cluster)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// Creates the directories and log file, owned by the service user.
fn prepare_files(layout: &Layout, user: Option<&ServiceUser>) -> Result<(), LocalPgError> {
    ensure_dir(&layout.data_dir, user, true)?;
    // Anyone may create a directory under /tmp first: never adopt one there.
    ensure_dir(&layout.socket_dir, user, !layout.socket_dir_is_shared)?;
    let log = &layout.log_file;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_context(format!("creating {}", log.display())))?;
    let Some(user) = user else {
        return Ok(());
    };
    give_to(log, user)?;
    check_reachable(&layout.data_dir, user)?;
    check_reachable(&layout.socket_dir, user)
}

/// Makes `dir` a directory owned by the server's user (mode 0700 when created).
fn ensure_dir(dir: &Path, user: Option<&ServiceUser>, adopt: bool) -> Result<(), LocalPgError> {
    let created = match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => true,
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => false,
        Err(err) => return Err(io_context(format!("creating {}", dir.display()))(err)),
    };
    let meta =
        fs::symlink_metadata(dir).map_err(io_context(format!("reading {}", dir.display())))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let owner = user.map_or_else(|| unsafe { libc::geteuid() }, |user| user.uid);
    if meta.is_dir() && meta.uid() == owner {
        return Ok(());
    }
    match user {
        Some(user) if meta.is_dir() && (created || adopt) => give_to(dir, user),
        _ => Err(LocalPgError::ForeignDirectory(dir.to_path_buf())),
    }
}

fn give_to(path: &Path, user: &ServiceUser) -> Result<(), LocalPgError> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).map_err(io_context(format!(
        "giving {} to {}",
        path.display(),
        user.name
    )))
}

/// Checks that `user` can traverse every directory above `path`.
fn check_reachable(path: &Path, user: &ServiceUser) -> Result<(), LocalPgError> {
    for dir in path.ancestors().skip(1) {
        let meta = fs::metadata(dir).map_err(io_context(format!("reading {}", dir.display())))?;
        let bit = if meta.uid() == user.uid {
            0o100
        } else if meta.gid() == user.gid {
            0o010
        } else {
            0o001
        };
        if meta.mode() & bit == 0 {
            return Err(LocalPgError::NotAccessible {
                path: dir.to_path_buf(),
                user: user.name.clone(),
            });
        }
    }
    Ok(())
}

/// Collation `C` keeps sorting stable across libc upgrades; ctype `C.UTF-8`
/// (when the system has it) lets `lower()`/`ILIKE` fold non-ASCII letters.
fn locale_args() -> &'static [&'static str] {
    // SAFETY: the name is NUL-terminated and the returned handle is freed at once.
    let available = unsafe {
        let locale = libc::newlocale(
            libc::LC_CTYPE_MASK,
            c"C.UTF-8".as_ptr(),
            std::ptr::null_mut(),
        );
        if !locale.is_null() {
            libc::freelocale(locale);
        }
        !locale.is_null()
    };
    if available {
        &["--locale=C.UTF-8", "--lc-collate=C"]
    } else {
        &["--locale=C"]
    }
}

fn read_pid_file(data_dir: &Path) -> Result<PidFile, LocalPgError> {
    let path = data_dir.join("postmaster.pid");
    let text =
        fs::read_to_string(&path).map_err(io_context(format!("reading {}", path.display())))?;
    let lines: Vec<&str> = text.lines().collect();
    let field = |i: usize| {
        lines
            .get(i)
            .map(|line| line.trim())
            .filter(|s| !s.is_empty())
    };
    let parsed = (|| {
        Some(PidFile {
            port: field(3)?.parse().ok()?,
            socket_dir: PathBuf::from(field(4)?),
        })
    })();
    parsed.ok_or(LocalPgError::BadPidFile(path))
}

/// Removes a PostgreSQL lock file (`postmaster.pid`, socket `.lock`) whose PID
/// is not a postmaster of the data directory it records. PostgreSQL itself only
/// checks that the PID is alive, and after a restart (or when the dead
/// postmaster is an unreaped zombie) it may be an unrelated process of the
/// same user, which blocks start-up for good.
fn remove_if_stale(path: &Path) -> Result<bool, LocalPgError> {
    let Some((pid, data_dir)) = lock_file_owner(path) else {
        return Ok(false);
    };
    if pid_serves_dir(pid, &data_dir) != Some(false) {
        return Ok(false);
    }
    tracing::warn!(pid, path = %path.display(), "removing stale PostgreSQL lock file");
    fs::remove_file(path).map_err(io_context(format!("removing {}", path.display())))?;
    Ok(true)
}

/// The PID and data directory on the first two lines of a lock file.
fn lock_file_owner(path: &Path) -> Option<(u32, PathBuf)> {
    let text = fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    Some((pid, PathBuf::from(lines.next()?.trim())))
}

/// Whether process `pid` works in `dir` (a postmaster chdirs to its data
/// directory); `None` when `/proc` cannot tell.
fn pid_serves_dir(pid: u32, dir: &Path) -> Option<bool> {
    if !Path::new("/proc/self/cwd").exists() {
        return None;
    }
    match fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(cwd) => Some(dir.canonicalize().is_ok_and(|dir| dir == cwd)),
        // Gone, or a zombie nobody has reaped.
        Err(err) if err.kind() == io::ErrorKind::NotFound => Some(false),
        Err(_) => None,
    }
}

/// A PostgreSQL tool with the caller's `PG*` variables (PGDATA, PGHOST, …) removed,
/// since they would override our explicit settings.
fn bare_cmd(bindir: &Path, program: &str) -> Command {
    let mut cmd = Command::new(bindir.join(program));
    for (key, _) in std::env::vars_os() {
        if key.as_bytes().starts_with(b"PG") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn output(cmd: &mut Command) -> Result<Output, LocalPgError> {
    cmd.output()
        .map_err(io_context(format!("running {}", describe_cmd(cmd))))
}

fn run(cmd: &mut Command) -> Result<Output, LocalPgError> {
    let out = output(cmd)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(command_failed(cmd, &out))
    }
}

fn command_failed(cmd: &Command, out: &Output) -> LocalPgError {
    LocalPgError::Command {
        command: describe_cmd(cmd),
        output: describe_output(out),
    }
}

fn describe_cmd(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe_output(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    format!("{}: {}", out.status, text.trim())
}

fn log_tail(log: &Path) -> String {
    let text = fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

fn io_context(context: String) -> impl FnOnce(io::Error) -> LocalPgError {
    move |source| LocalPgError::Io { context, source }
}

/// Single-quotes `word` for the shell `pg_ctl` passes `-o` through.
fn shell_quote(word: &OsStr) -> OsString {
    let mut quoted = vec![b'\''];
    for &byte in word.as_bytes() {
        match byte {
            b'\'' => quoted.extend_from_slice(b"'\\''"),
            _ => quoted.push(byte),
        }
    }
    quoted.push(b'\'');
    OsString::from_vec(quoted)
}

/// Percent-encodes everything but unreserved characters and `/`.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// FNV-1a: a hash that, unlike `DefaultHasher`, is stable across Rust releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("local_pg_{name}_{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn timed_start(var_dir: &Path) -> (LocalPostgres, Duration) {
        let began = Instant::now();
        let pg = LocalPostgres::start(var_dir).unwrap_or_else(|err| panic!("start: {err}"));
        (pg, began.elapsed())
    }

    fn select_one(pg: &LocalPostgres) -> String {
        let out = Command::new(pg.bindir.join("psql"))
            .args(["-X", "-t", "-A", "-d", &pg.database_url(), "-c", "SELECT 1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql: {}", describe_output(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A handle on the same cluster that never stops it, for probing after drop.
    fn probe(pg: &LocalPostgres) -> LocalPostgres {
        LocalPostgres {
            bindir: pg.bindir.clone(),
            data_dir: pg.data_dir.clone(),
            socket_dir: pg.socket_dir.clone(),
            log_file: pg.log_file.clone(),
            port: pg.port,
            user: pg.user.clone(),
            started_here: false,
            stopped: true,
        }
    }

    /// `pg_ctl status` exit code: 0 running, 3 not running.
    fn status(probe: &LocalPostgres) -> Option<i32> {
        let mut cmd = probe.server_cmd("pg_ctl");
        cmd.arg("status").arg("-D").arg(&probe.data_dir);
        output(&mut cmd).unwrap().status.code()
    }

    #[test]
    fn cold_start_reuse_stop_and_warm_start() {
        let var = TempDir::new("cold warm's");
        let (pg, cold) = timed_start(&var.0);
        assert!(pg.started_here());
        assert_eq!(select_one(&pg), "1");
        let probe = probe(&pg);

        let second = LocalPostgres::start(&var.0).unwrap();
        assert!(!second.started_here(), "a running server is reused");
        assert_eq!(second.database_url(), pg.database_url());
        drop(second);
        assert_eq!(status(&probe), Some(0), "reusing instance must not stop it");

        drop(pg);
        assert_eq!(
            status(&probe),
            Some(3),
            "dropping the starter stops the server"
        );

        let (mut pg, warm) = timed_start(&var.0);
        assert!(pg.started_here());
        assert_eq!(select_one(&pg), "1");
        pg.stop();
        pg.stop();
        assert_eq!(status(&probe), Some(3));
        println!("local PostgreSQL start: cold {cold:.2?}, warm {warm:.2?}");
    }

    #[test]
    fn stale_postmaster_pid_does_not_block_start() {
        let var = TempDir::new("stale");
        let mut pg = LocalPostgres::start(&var.0).unwrap();
        let pid_path = pg.data_dir.join("postmaster.pid");
        crash(&mut pg);
        assert!(pid_path.exists(), "a crash leaves postmaster.pid behind");
        let mut pg = LocalPostgres::start(&var.0).unwrap();
        assert!(pg.started_here());
        assert_eq!(select_one(&pg), "1");
        pg.stop();

        // After a restart the recorded PID may belong to an unrelated live process.
        let mut sleeper = server_side_sleeper(&pg);
        for pid in [sleeper.id(), std::process::id()] {
            fs::write(&pid_path, format!("{pid}\n{}\n", pg.data_dir.display())).unwrap();
            let mut pg = LocalPostgres::start(&var.0).unwrap();
            assert!(pg.started_here(), "stale PID {pid} taken for a server");
            assert_eq!(select_one(&pg), "1");
            pg.stop();
        }
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
    }

    /// Kills the server like a power cut would, leaving its postmaster.pid.
    fn crash(pg: &mut LocalPostgres) {
        let (pid, _) = lock_file_owner(&pg.data_dir.join("postmaster.pid")).unwrap();
        // The postmaster leads its own process group (pg_ctl calls setsid).
        // SAFETY: plain syscall on a process group we started.
        assert_eq!(unsafe { libc::kill(-(pid as i32), libc::SIGKILL) }, 0);
        let began = Instant::now();
        while pid_serves_dir(pid, &pg.data_dir) == Some(true) {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "postmaster survived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        pg.started_here = false;
    }

    /// A live process of the server's user (so `kill(pid, 0)` succeeds for it).
    fn server_side_sleeper(pg: &LocalPostgres) -> std::process::Child {
        let mut cmd = Command::new("sleep");
        cmd.arg("60").current_dir("/");
        if let Some(user) = &pg.user {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd.spawn().unwrap()
    }

    #[test]
    fn long_var_dir_gets_socket_dir_under_tmp() {
        let var = TempDir::new("long");
        let deep = var.0.join("a".repeat(100));
        let mut pg = LocalPostgres::start(&deep).unwrap();
        let socket_dir = pg.socket_dir.to_string_lossy().into_owned();
        assert!(
            socket_dir.starts_with("/tmp/lead_dashboard-"),
            "{socket_dir}"
        );
        assert_eq!(select_one(&pg), "1");
        pg.stop();
        fs::remove_dir_all(&pg.socket_dir).unwrap();
    }

    #[test]
    fn unreachable_var_dir_is_reported() {
        if !is_root() {
            return;
        }
        let var = TempDir::new("unreachable");
        let private = var.0.join("private");
        DirBuilder::new().mode(0o700).create(&private).unwrap();
        let err = LocalPostgres::start(&private.join("var")).unwrap_err();
        assert!(matches!(err, LocalPgError::NotAccessible { ref path, .. } if *path == private));
        assert!(err.to_string().contains("chmod o+x"), "{err}");
    }

    #[test]
    fn foreign_shared_socket_dir_is_refused() {
        let Some(user) = service_user(Path::new("/nonexistent")).unwrap() else {
            return;
        };
        let var = TempDir::new("foreign");
        let dir = var.0.join("run");
        fs::create_dir(&dir).unwrap();
        let err = ensure_dir(&dir, Some(&user), false).unwrap_err();
        assert!(matches!(err, LocalPgError::ForeignDirectory(_)), "{err}");
        ensure_dir(&dir, Some(&user), true).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().uid(), user.uid);
    }

    #[test]
    fn concurrent_starts_share_one_server() {
        let var = TempDir::new("concurrent");
        let starts: Vec<_> = (0..2)
            .map(|_| {
                let dir = var.0.clone();
                std::thread::spawn(move || LocalPostgres::start(&dir).unwrap())
            })
            .collect();
        let pgs: Vec<LocalPostgres> = starts.into_iter().map(|t| t.join().unwrap()).collect();
        let starters = pgs.iter().filter(|pg| pg.started_here()).count();
        assert_eq!(starters, 1, "exactly one instance starts the server");
        assert!(pgs.iter().all(|pg| select_one(pg) == "1"));
    }

    #[test]
    fn existing_cluster_needs_its_major_version() {
        let var = TempDir::new("version");
        fs::write(var.0.join("PG_VERSION"), "99\n").unwrap();
        let err = find_bindir(&var.0).unwrap_err();
        assert!(matches!(err, LocalPgError::VersionMismatch { .. }), "{err}");
        let installed = server_version(&find_bindir(Path::new("/nonexistent")).unwrap()).unwrap();
        let major = installed.split('.').next().unwrap();
        fs::write(var.0.join("PG_VERSION"), format!("{major}\n")).unwrap();
        find_bindir(&var.0).unwrap();
    }

    #[test]
    fn missing_binaries_message_names_both_ways_out() {
        let message = LocalPgError::BinariesNotFound.to_string();
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(message.contains("apt-get install postgresql"), "{message}");
    }

    #[test]
    fn helpers() {
        assert_eq!(percent_encode(b"/var/a b/%"), "/var/a%20b/%25");
        assert!(same_major("15.14", "15"));
        assert!(same_major("16beta1", "16"));
        assert!(same_major("9.6.24", "9.6"));
        assert!(!same_major("150.1", "15"));
        assert_eq!(shell_quote(OsStr::new("/a'b")), OsStr::new("'/a'\\''b'"));
        let (dir, shared) = socket_dir_for(Path::new("/srv/app/var"));
        assert_eq!(
            (dir.as_path(), shared),
            (Path::new("/srv/app/var/run"), false)
        );
        let long = PathBuf::from("/").join("x".repeat(90));
        let (dir, shared) = socket_dir_for(&long);
        assert!(shared && dir.starts_with("/tmp"));
        assert_eq!(socket_dir_for(&long), socket_dir_for(&long));
    }
}
