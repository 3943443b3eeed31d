//! Which PostgreSQL server binaries run the cluster: the first of
//! `pg_config --bindir`, `/usr/lib/postgresql/*/bin` (highest first) and `PATH`,
//! but always of the existing cluster's major version.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::LocalPgError;

/// The first bindir with server binaries, matching an existing cluster's major version.
pub(super) fn find_bindir(data_dir: &Path) -> Result<PathBuf, LocalPgError> {
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
pub(super) fn server_version(bindir: &Path) -> Option<String> {
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
pub(super) fn same_major(version: &str, cluster: &str) -> bool {
    version
        .strip_prefix(cluster)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// Collation `C` keeps sorting stable across libc upgrades; ctype `C.UTF-8`
/// (when the system has it) lets `lower()`/`ILIKE` fold non-ASCII letters.
pub(super) fn locale_args() -> &'static [&'static str] {
    if has_c_utf8() {
        &["--locale=C.UTF-8", "--lc-collate=C"]
    } else {
        &["--locale=C"]
    }
}

/// Whether `locale -a` lists C.UTF-8 (spelled `C.utf8` by glibc).
fn has_c_utf8() -> bool {
    let Ok(out) = Command::new("locale").arg("-a").output() else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|name| name.trim().replace('-', "").eq_ignore_ascii_case("c.utf8"))
}
