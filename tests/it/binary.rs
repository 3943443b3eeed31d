//! The binary as a newcomer runs it: no DATABASE_URL, so it creates and
//! starts its own PostgreSQL under a fresh var dir, seeds the demo, serves,
//! and stops the database again on Ctrl-C.

use std::io::{BufRead, BufReader};
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

fn start(var_dir: &std::path::Path, port: u16) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lead-dashboard"))
        .env_remove("DATABASE_URL")
        .env("LD_VAR_DIR", var_dir)
        .env("BIND", format!("127.0.0.1:{port}"))
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
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
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
    let var_dir = std::env::temp_dir().join(format!(
        "ld-bin-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
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
