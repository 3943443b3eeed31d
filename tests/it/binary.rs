//! The binary as a newcomer runs it: no DATABASE_URL, so it creates and
//! starts its own PostgreSQL under a fresh var dir, seeds the demo, serves,
//! and stops the database again on Ctrl-C; as root from a checkout the
//! `postgres` user cannot enter, it keeps the cluster under /var/lib instead.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Client;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(var_dir: &Path, port: u16) -> (Child, std::sync::mpsc::Receiver<String>) {
    spawn(binary(port).env("LD_VAR_DIR", var_dir))
}

/// The binary without DATABASE_URL or LD_VAR_DIR, serving on `port`.
fn binary(port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lead-dashboard"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("LD_VAR_DIR")
        .env("BIND", format!("127.0.0.1:{port}"));
    cmd
}

/// Starts `cmd`, handing its stdout lines over a channel.
fn spawn(cmd: &mut Command) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the binary");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

async fn wait_healthy(port: u16, within: Duration) -> Duration {
    let started = Instant::now();
    let client = awc::Client::default();
    loop {
        let ok = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ok {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "server did not become healthy");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn interrupt_and_wait(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().ok();
    panic!("the app did not stop on SIGINT");
}

#[actix_web::test]
async fn runs_on_its_own_postgres_with_a_demo_to_sign_in_to() {
    let var_dir = temp_path("ld-bin");
    let port = free_port();
    let (mut child, lines) = start(&var_dir, port);
    let cold = wait_healthy(port, Duration::from_secs(120)).await;
    let password = lines
        .iter()
        .take(50)
        .find_map(|l| {
            l.trim()
                .strip_prefix("password:")
                .map(|p| p.trim().to_string())
        })
        .expect("demo password printed");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let c = Client::new(addr);
    c.get("/login").await;
    let r = c
        .post(
            "/login",
            &[("email", "behar@example.com"), ("password", &password)],
        )
        .await;
    assert_eq!(r.status, 303, "demo sign-in: {}", r.body);
    let dash = c.get("/dashboard").await;
    assert!(
        dash.body.contains("Behar&#39;s Organization")
            || dash.body.contains("Behar's Organization")
    );
    assert!(dash.body.contains(">45<"), "45 demo leads on the dashboard");
    interrupt_and_wait(&mut child);
    assert!(
        !var_dir.join("postgres/postmaster.pid").exists(),
        "local PostgreSQL stopped with the app"
    );

    // Warm start: the cluster exists, nothing is seeded twice.
    let (mut child, _lines) = start(&var_dir, port);
    let warm = wait_healthy(port, Duration::from_secs(60)).await;
    interrupt_and_wait(&mut child);
    println!("start-up to healthy: cold {cold:?}, warm {warm:?}");
    std::fs::remove_dir_all(&var_dir).ok();
}

/// A fresh path under the system temp dir (not created).
fn temp_path(prefix: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ))
}

#[actix_web::test]
async fn a_private_checkout_keeps_its_cluster_under_var_lib() {
    // Only root hits this: PostgreSQL then runs as `postgres`, who cannot enter
    // a mode 0700 directory such as a `mktemp -d` or a clone under /root.
    if !nix::unistd::Uid::effective().is_root() {
        return;
    }
    let checkout = temp_path("ld-checkout");
    std::fs::create_dir(&checkout).unwrap();
    std::fs::set_permissions(&checkout, std::fs::Permissions::from_mode(0o700)).unwrap();
    let port = free_port();
    let (mut child, lines) = spawn(binary(port).current_dir(&checkout));
    wait_healthy(port, Duration::from_secs(120)).await;
    let notice = lines
        .iter()
        .take(50)
        .find(|l| l.contains("/var/lib/lead-dashboard/"))
        .expect("where the cluster lives is printed");
    assert!(
        notice.contains("cannot be entered by user `postgres`"),
        "{notice}"
    );
    let data_dir = notice
        .split_whitespace()
        .find(|word| word.starts_with("/var/lib/lead-dashboard/"))
        .map(PathBuf::from)
        .unwrap();
    assert!(data_dir.join("PG_VERSION").exists(), "{notice}");
    assert!(
        !checkout.join("var").exists(),
        "nothing is left in the checkout"
    );
    interrupt_and_wait(&mut child);
    assert!(!data_dir.join("postmaster.pid").exists());
    std::fs::remove_dir_all(data_dir.parent().unwrap()).ok();
    std::fs::remove_dir_all(&checkout).ok();
}
