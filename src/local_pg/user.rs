//! Who the server runs as, and the ownership and permissions that let it run:
//! when the app is root, PostgreSQL (which refuses root) runs as an
//! unprivileged account that must own the cluster and reach every directory above it.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid, User};

use super::layout::Layout;
use super::process::io_context;
use super::LocalPgError;

/// The unprivileged account server processes run as when the app is root.
#[derive(Debug, Clone)]
pub(super) struct ServiceUser {
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) name: String,
}

pub(super) fn is_root() -> bool {
    Uid::effective().is_root()
}

/// Who runs the server: `None` (ourselves) unless we are root.
pub(super) fn service_user(data_dir: &Path) -> Result<Option<ServiceUser>, LocalPgError> {
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
    User::from_name(name).ok().flatten().map(ServiceUser::from)
}

fn user_by_uid(uid: u32, gid: u32) -> ServiceUser {
    let found = User::from_uid(Uid::from_raw(uid)).ok().flatten();
    found.map(ServiceUser::from).unwrap_or_else(|| ServiceUser {
        uid,
        gid,
        name: format!("uid {uid}"),
    })
}

impl From<User> for ServiceUser {
    fn from(user: User) -> ServiceUser {
        ServiceUser {
            uid: user.uid.as_raw(),
            gid: Gid::as_raw(user.gid),
            name: user.name,
        }
    }
}

/// Creates the directories and log file, owned by the service user.
pub(super) fn prepare_files(
    layout: &Layout,
    user: Option<&ServiceUser>,
) -> Result<(), LocalPgError> {
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
pub(super) fn ensure_dir(
    dir: &Path,
    user: Option<&ServiceUser>,
    adopt: bool,
) -> Result<(), LocalPgError> {
    let created = match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => true,
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => false,
        Err(err) => return Err(io_context(format!("creating {}", dir.display()))(err)),
    };
    let meta =
        fs::symlink_metadata(dir).map_err(io_context(format!("reading {}", dir.display())))?;
    let owner = user.map_or_else(|| Uid::effective().as_raw(), |user| user.uid);
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
    match first_blocked(path, user)? {
        Some(dir) => Err(LocalPgError::NotAccessible {
            path: dir,
            user: user.name.clone(),
        }),
        None => Ok(()),
    }
}

/// The nearest directory above `path` that `user` cannot traverse. Directories
/// that do not exist yet are skipped: the app creates them traversable.
pub(super) fn first_blocked(
    path: &Path,
    user: &ServiceUser,
) -> Result<Option<PathBuf>, LocalPgError> {
    for dir in path.ancestors().skip(1) {
        let meta = match fs::metadata(dir) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io_context(format!("reading {}", dir.display()))(err)),
        };
        if !traversable_by(&meta, user) {
            return Ok(Some(dir.to_path_buf()));
        }
    }
    Ok(None)
}

fn traversable_by(meta: &fs::Metadata, user: &ServiceUser) -> bool {
    let bit = if meta.uid() == user.uid {
        0o100
    } else if meta.gid() == user.gid {
        0o010
    } else {
        0o001
    };
    meta.mode() & bit != 0
}
