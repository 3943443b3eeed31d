//! The local cluster for real: cold and warm starts, reuse, stale lock files,
//! long paths, permissions and versions, and the choice of var dir.

use std::ffi::OsStr;
use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::binaries::{same_major, server_version};
use super::layout::socket_dir_for;
use super::process::lock_file_owner;
use super::process::pid_serves_dir;
use super::user::{ensure_dir, is_root};
use super::var_dir::{choose, default_blocked, fallback_for};
use super::*;

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
        var_dir: pg.var_dir.clone(),
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
    killpg(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
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

#[test]
fn var_dir_falls_back_only_for_root_when_var_is_blocked() {
    let checkout = Path::new("/root/lead-dashboard");
    let blocked = || {
        Some(Blocked {
            dir: PathBuf::from("/root"),
            user: "postgres".into(),
        })
    };
    let given = Path::new("/srv/ld");
    assert_eq!(
        choose(Some(given), true, blocked(), checkout),
        VarDir::Explicit(given.into()),
        "LD_VAR_DIR is used as given, even when it cannot be entered"
    );
    let default = VarDir::Default(PathBuf::from(DEFAULT_VAR_DIR));
    assert_eq!(choose(None, false, None, checkout), default);
    assert_eq!(choose(None, true, None, checkout), default);
    assert_eq!(default.notice(), None);

    let chosen = choose(None, true, blocked(), checkout);
    assert_eq!(chosen.path(), fallback_for(checkout));
    assert_eq!(chosen.path().parent(), Some(Path::new(FALLBACK_PARENT)));
    let notice = chosen.notice().unwrap();
    assert!(
        notice.contains("/root cannot be entered by user `postgres`"),
        "{notice}"
    );
    assert!(
        notice.contains(&format!("{}/postgres", chosen.path().display())),
        "{notice}"
    );
    assert_eq!(fallback_for(checkout), fallback_for(checkout));
    assert_ne!(
        fallback_for(checkout),
        fallback_for(Path::new("/root/other"))
    );
}

#[test]
fn private_checkout_blocks_the_default_var_dir() {
    if !is_root() {
        return;
    }
    let dir = TempDir::new("checkout");
    let private = dir.0.join("private");
    DirBuilder::new().mode(0o700).create(&private).unwrap();
    let blocked = default_blocked(&private).unwrap().expect("blocked");
    assert_eq!(blocked.dir, private);
    let open = dir.0.join("open");
    DirBuilder::new().create(&open).unwrap();
    for path in [&dir.0, &open] {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(default_blocked(&open).unwrap(), None);
}
