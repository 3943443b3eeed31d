//! Helpers around the server's processes and files: the start-up lock, the
//! `postmaster.pid` it writes (and stale ones it leaves), and running its tools
//! with errors that quote their output.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{LocalPgError, LOG_TAIL_LINES};

/// Where a running server listens, from its `postmaster.pid`.
pub(super) struct PidFile {
    pub(super) port: u16,
    pub(super) socket_dir: PathBuf,
}

/// Holds an exclusive `flock` on `path` until the returned file is dropped.
pub(super) fn lock_exclusive(path: &Path) -> Result<File, LocalPgError> {
    let context = || format!("locking {}", path.display());
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_context(context()))?;
    loop {
        match file.lock() {
            Ok(()) => return Ok(file),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(io_context(context())(err)),
        }
    }
}

pub(super) fn read_pid_file(data_dir: &Path) -> Result<PidFile, LocalPgError> {
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
pub(super) fn remove_if_stale(path: &Path) -> Result<bool, LocalPgError> {
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
pub(super) fn lock_file_owner(path: &Path) -> Option<(u32, PathBuf)> {
    let text = fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    Some((pid, PathBuf::from(lines.next()?.trim())))
}

/// Whether process `pid` works in `dir` (a postmaster chdirs to its data
/// directory); `None` when `/proc` cannot tell.
pub(super) fn pid_serves_dir(pid: u32, dir: &Path) -> Option<bool> {
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
pub(super) fn bare_cmd(bindir: &Path, program: &str) -> Command {
    let mut cmd = Command::new(bindir.join(program));
    for (key, _) in std::env::vars_os() {
        if key.as_bytes().starts_with(b"PG") {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub(super) fn output(cmd: &mut Command) -> Result<Output, LocalPgError> {
    cmd.output()
        .map_err(io_context(format!("running {}", describe_cmd(cmd))))
}

pub(super) fn run(cmd: &mut Command) -> Result<Output, LocalPgError> {
    let out = output(cmd)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(command_failed(cmd, &out))
    }
}

pub(super) fn command_failed(cmd: &Command, out: &Output) -> LocalPgError {
    LocalPgError::Command {
        command: describe_cmd(cmd),
        output: describe_output(out),
    }
}

pub(super) fn describe_cmd(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn describe_output(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    format!("{}: {}", out.status, text.trim())
}

pub(super) fn log_tail(log: &Path) -> String {
    let text = fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

pub(super) fn io_context(context: String) -> impl FnOnce(io::Error) -> LocalPgError {
    move |source| LocalPgError::Io { context, source }
}

/// Single-quotes `word` for the shell `pg_ctl` passes `-o` through.
pub(super) fn shell_quote(word: &OsStr) -> OsString {
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
pub(super) fn percent_encode(bytes: &[u8]) -> String {
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
