//! Where the cluster's files sit inside a var dir, and the socket directory
//! (moved under `/tmp` when the socket path would exceed the kernel's limit).

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::process::io_context;
use super::{LocalPgError, PORT};

/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// Where the cluster's files live.
pub(super) struct Layout {
    pub(super) data_dir: PathBuf,
    pub(super) socket_dir: PathBuf,
    pub(super) log_file: PathBuf,
    pub(super) lock_file: PathBuf,
    pub(super) socket_dir_is_shared: bool,
}

impl Layout {
    pub(super) fn new(var_dir: &Path) -> Result<Layout, LocalPgError> {
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
pub(super) fn socket_dir_for(var_dir: &Path) -> (PathBuf, bool) {
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

/// FNV-1a: a hash that, unlike `DefaultHasher`, is stable across Rust releases.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
