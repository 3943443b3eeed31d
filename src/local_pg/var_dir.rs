//! Which var dir holds the cluster: `LD_VAR_DIR` when set (used as given, an
//! unusable one is reported, never replaced), else `./var`, unless the app is
//! root and the service user cannot enter `./var`: then a directory keyed by
//! the checkout under `/var/lib/lead-dashboard`, which the service user can reach.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::layout::fnv1a;
use super::process::io_context;
use super::user::{first_blocked, is_root, service_user};
use super::LocalPgError;

/// The var dir used when `LD_VAR_DIR` is not set, relative to the working directory.
pub const DEFAULT_VAR_DIR: &str = "var";
/// Parent of the var dirs used when the default cannot be entered.
pub const FALLBACK_PARENT: &str = "/var/lib/lead-dashboard";

/// The var dir the app uses, and why it is that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarDir {
    /// `LD_VAR_DIR`.
    Explicit(PathBuf),
    /// `./var`.
    Default(PathBuf),
    /// A directory under [`FALLBACK_PARENT`], because `user` cannot enter `blocked`.
    Fallback { path: PathBuf, blocked: Blocked },
}

/// A directory on the way to `./var` that the service user cannot enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub dir: PathBuf,
    pub user: String,
}

impl VarDir {
    /// The var dir for this process, given `LD_VAR_DIR`; creates the fallback
    /// directory (traversable by all) when it is the one chosen.
    pub fn resolve(explicit: Option<&Path>) -> Result<VarDir, LocalPgError> {
        if explicit.is_some() || !is_root() {
            return Ok(choose(explicit, false, None, Path::new(".")));
        }
        let checkout = std::env::current_dir()
            .and_then(|dir| dir.canonicalize())
            .map_err(io_context("resolving the working directory".into()))?;
        let blocked = default_blocked(&checkout)?;
        let chosen = choose(None, true, blocked, &checkout);
        if let VarDir::Fallback { path, .. } = &chosen {
            create_traversable(Path::new(FALLBACK_PARENT))?;
            create_traversable(path)?;
        }
        Ok(chosen)
    }

    pub fn path(&self) -> &Path {
        match self {
            VarDir::Explicit(path) | VarDir::Default(path) => path,
            VarDir::Fallback { path, .. } => path,
        }
    }

    /// The console line announcing a fallback; `None` for the usual places.
    pub fn notice(&self) -> Option<String> {
        let VarDir::Fallback { path, blocked } = self else {
            return None;
        };
        Some(format!(
            "{} cannot be entered by user `{}`, which PostgreSQL runs as, so the local \
             PostgreSQL cluster lives in {} (set LD_VAR_DIR to choose another place)",
            blocked.dir.display(),
            blocked.user,
            path.join("postgres").display()
        ))
    }
}

/// The choice itself: `LD_VAR_DIR` wins; otherwise `./var`, unless the app is
/// `root` and the service user cannot enter `./var` (`blocked`), in which case
/// the fallback for `checkout`.
pub fn choose(
    explicit: Option<&Path>,
    root: bool,
    blocked: Option<Blocked>,
    checkout: &Path,
) -> VarDir {
    if let Some(path) = explicit {
        return VarDir::Explicit(path.to_path_buf());
    }
    match blocked {
        Some(blocked) if root => VarDir::Fallback {
            path: fallback_for(checkout),
            blocked,
        },
        _ => VarDir::Default(PathBuf::from(DEFAULT_VAR_DIR)),
    }
}

/// `/var/lib/lead-dashboard/<12 hex digits of a stable hash of checkout>`.
pub fn fallback_for(checkout: &Path) -> PathBuf {
    let hash = fnv1a(checkout.as_os_str().as_bytes()) >> 16;
    Path::new(FALLBACK_PARENT).join(format!("{hash:012x}"))
}

/// Whether the user PostgreSQL would run as can reach `<checkout>/var/postgres`.
pub(super) fn default_blocked(checkout: &Path) -> Result<Option<Blocked>, LocalPgError> {
    let data_dir = checkout.join(DEFAULT_VAR_DIR).join("postgres");
    let Some(user) = service_user(&data_dir)? else {
        return Ok(None);
    };
    let blocked = first_blocked(&data_dir, &user)?;
    Ok(blocked.map(|dir| Blocked {
        dir,
        user: user.name,
    }))
}

/// Creates `dir` with mode 0755 whatever the umask, so the service user can pass.
fn create_traversable(dir: &Path) -> Result<(), LocalPgError> {
    let context = || format!("creating {}", dir.display());
    match DirBuilder::new().mode(0o755).create(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .map_err(io_context(context())),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(io_context(context())(err)),
    }
}
