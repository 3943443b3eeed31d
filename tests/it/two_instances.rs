//! Two app processes on one database behind the `deploy/nginx` site, run by
//! Debian's nginx on loopback (plain HTTP: TLS termination is nginx's own
//! business and the test client speaks no TLS; everything behind it — the
//! upstream block, proxy headers, retries, caching — is the shipped file).
//! Proves: a session works on either instance; a write through one is read
//! through the other; a plan limit holds across both; background jobs run
//! once across both; a SIGKILLed instance loses no acknowledged write while
//! the other keeps serving; SIGTERM lets a slow request finish.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::common::{Client, TestDb, PASSWORD};
use crate::workspace_mail::SmtpSink;

const NGINX: &str = "/usr/sbin/nginx";
const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn addr(port: u16) -> std::net::SocketAddr {
    format!("127.0.0.1:{port}").parse().unwrap()
}

/// One app process; killed when dropped (if still running).
struct Instance {
    child: Child,
    port: u16,
    lines: Receiver<String>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Shared<'a> {
    db: &'a TestDb,
    var_dir: &'a Path,
    session_key: &'a str,
    smtp: &'a str,
    public_port: u16,
}

fn start_instance(shared: &Shared, json_logs: bool) -> Instance {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lead-dashboard"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &shared.db.url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env(
            "PUBLIC_URL",
            format!("http://127.0.0.1:{}", shared.public_port),
        )
        .env("LD_VAR_DIR", shared.var_dir)
        .env("SESSION_KEY", shared.session_key)
        .env("SMTP_URL", shared.smtp)
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .env("BENCH_ROUTES", "1")
        .env("SHUTDOWN_GRACE_SECONDS", "10")
        .env("LOG_FORMAT", if json_logs { "json" } else { "text" })
        .env("RUST_LOG", if json_logs { "info" } else { "warn" })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the binary");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Instance { child, port, lines }
}

async fn status_of(port: u16, path: &str) -> Option<u16> {
    awc::Client::default()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

async fn wait_for(port: u16, path: &str, within: Duration) -> Duration {
    let started = Instant::now();
    while status_of(port, path).await != Some(200) {
        assert!(
            started.elapsed() < within,
            "{port}{path} did not answer 200"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// Debian's nginx running the shipped proxy configuration in front of the
/// two instances, with the shipped upstream block pointed at their ports.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops its worker and cache
        // processes too, instead of leaving them orphaned.
        signal(&self.child, nix::sys::signal::Signal::SIGTERM);
        if self.child.try_wait().ok().flatten().is_none() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The site's `upstream lead_dashboard { … }` block, on the given ports.
fn shipped_upstream(a: u16, b: u16) -> String {
    let site = std::fs::read_to_string(format!("{DEPLOY}/lead-dashboard.conf")).unwrap();
    let start = site
        .find("upstream lead_dashboard {")
        .expect("an upstream block");
    let end = start + site[start..].find("\n}").expect("its end") + 2;
    let block = site[start..end]
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{a}"))
        .replace("127.0.0.1:8082", &format!("127.0.0.1:{b}"));
    assert!(block.contains(&format!(":{a} ")) && block.contains(&format!(":{b} ")));
    block
}

fn start_nginx(port: u16, a: u16, b: u16) -> Nginx {
    assert!(
        Path::new(NGINX).exists(),
        "nginx is missing: run scripts/test-prereqs"
    );
    let dir = std::env::temp_dir().join(format!("ld-nginx-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    // As root nginx would hand its workers to `nobody`, who cannot write here.
    let user = if nix::unistd::Uid::effective().is_root() {
        "user root root;"
    } else {
        ""
    };
    let conf = format!(
        "{user}
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    proxy_cache_path {d}/cache keys_zone=lead_dashboard_assets:1m;
    {upstream}
    server {{
        listen 127.0.0.1:{port};
        include {DEPLOY}/lead-dashboard-proxy.conf;
    }}
}}
",
        upstream = shipped_upstream(a, b),
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&path)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    Nginx { child, dir }
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the instance did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(db: &TestDb, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
        .get_result::<N>(&mut db.conn())
        .unwrap()
        .n
}

fn exec(db: &TestDb, sql: &str) {
    use diesel::RunQueryDsl;
    diesel::sql_query(sql).execute(&mut db.conn()).unwrap();
}

/// The same browser session, talking to another address.
fn same_session(c: &Client, port: u16) -> Client {
    let other = Client::new(addr(port));
    *other.cookies.lock().unwrap() = c.cookies.lock().unwrap().clone();
    *other.csrf.lock().unwrap() = c.csrf.lock().unwrap().clone();
    other
}

async fn create_lead(c: &Client, email: &str) -> u16 {
    c.post_htmx("/leads", &[("first_name", "L"), ("email", email)])
        .await
        .status
}

#[actix_web::test]
async fn two_instances_behind_nginx_share_one_database() {
    let db = TestDb::new();
    let sink = SmtpSink::start(false);
    let var_dir = std::env::temp_dir().join(format!("ld-two-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&var_dir).unwrap();
    // Mail queued before either instance runs: both workers race for it.
    exec(
        &db,
        "INSERT INTO mail_outbox (id, kind, to_email, subject, body_text, status, attempts, next_attempt_at, created_at)
         SELECT gen_random_uuid(), 'account', 'r' || n || '@example.com', 'Mail ' || n, 'Body', 'pending', 0, now(), now()
         FROM generate_series(1, 40) n",
    );
    let public_port = free_port();
    let session_key = crate::common::PASSWORD.repeat(2);
    let shared = Shared {
        db: &db,
        var_dir: &var_dir,
        session_key: &session_key,
        smtp: &sink.url(),
        public_port,
    };
    let started = Instant::now();
    let mut a = start_instance(&shared, true);
    let mut b = start_instance(&shared, false);
    wait_for(a.port, "/readyz", Duration::from_secs(60)).await;
    wait_for(b.port, "/readyz", Duration::from_secs(60)).await;
    let start_up = started.elapsed();
    let _nginx = start_nginx(public_port, a.port, b.port);
    wait_for(public_port, "/healthz", Duration::from_secs(20)).await;

    // A session made through nginx works on each instance directly.
    let web = Client::new(addr(public_port));
    web.get("/signup").await;
    let r = web
        .post(
            "/signup",
            &[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "sign-up through nginx: {}", r.body);
    let on_a = same_session(&web, a.port);
    let on_b = same_session(&web, b.port);
    for c in [&on_a, &on_b, &web] {
        let page = c.get("/leads").await;
        assert_eq!(page.status, 200, "signed in on every instance");
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM sessions WHERE ip = '127.0.0.1'"),
        1,
        "the forwarded client address is recorded"
    );

    // A lead created through A is read through B.
    assert_eq!(create_lead(&on_a, "first@x.example").await, 200);
    assert!(on_b.get("/leads").await.body.contains("first@x.example"));

    // 5 below the limit, 50 concurrent creates over both: exactly 5 pass.
    exec(
        &db,
        "INSERT INTO limit_overrides (organization_id, limit_kind, value)
         SELECT id, 'leads_per_month', 6 FROM organizations WHERE slug = 'ann-s-organization'",
    );
    let emails: Vec<String> = (0..50).map(|i| format!("c{i}@x.example")).collect();
    let clients: Vec<Client> = (0..50)
        .map(|i| same_session(&web, if i % 2 == 0 { a.port } else { b.port }))
        .collect();
    let answers = join_all(clients.iter().zip(&emails).map(|(c, e)| create_lead(c, e))).await;
    assert_eq!(
        answers.iter().filter(|s| **s == 200).count(),
        5,
        "{answers:?}"
    );
    assert!(
        answers.iter().all(|s| *s == 200 || *s == 402),
        "{answers:?}"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM leads"), 6);

    // The queued mail went out exactly once, between the two instances.
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(
        &db,
        "SELECT count(*) FROM mail_outbox WHERE to_email LIKE 'r%' AND status = 'sent'",
    ) < 40
    {
        assert!(Instant::now() < deadline, "the queued mail was sent");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    let received = sink.received();
    let mut recipients: Vec<&str> = received
        .iter()
        .filter_map(|m| m.lines().next())
        .filter(|l| l.starts_with("RCPT: r"))
        .collect();
    assert_eq!(recipients.len(), 40, "40 mails arrived");
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 40, "none twice");

    // Logs of A are JSON lines with the request id it returned, the
    // organization, and never the password.
    let page = on_a.get("/leads").await;
    let id = page.header("x-request-id").unwrap().to_string();
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    let logged: Vec<String> = a.lines.try_iter().collect();
    let line = logged
        .iter()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("a log line with {id}: {logged:?}"));
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(json["span"]["request_id"], id.as_str(), "{line}");
    assert!(json["span"]["org_id"].is_string(), "{line}");
    assert!(
        !logged.iter().any(|l| l.contains(PASSWORD)),
        "no password logged"
    );

    // SIGKILL A while creates flow through nginx: every acknowledged lead is
    // stored, and B keeps serving.
    exec(&db, "UPDATE limit_overrides SET value = 10000");
    let mut acknowledged = Vec::new();
    for round in 0..8 {
        let emails: Vec<String> = (0..8).map(|i| format!("k{round}-{i}@x.example")).collect();
        let creates = join_all(emails.iter().map(|e| create_lead(&web, e)));
        let answers = if round == 2 {
            // Killed while this round's requests are in flight.
            let kill = async {
                actix_rt::time::sleep(Duration::from_millis(5)).await;
                signal(&a.child, nix::sys::signal::Signal::SIGKILL);
            };
            futures_util::future::join(creates, kill).await.0
        } else {
            creates.await
        };
        for (email, status) in emails.iter().zip(&answers) {
            if *status == 200 {
                acknowledged.push(email.clone());
            }
        }
        if round != 2 {
            assert!(
                answers.iter().all(|s| *s == 200),
                "round {round}: {answers:?}"
            );
        }
    }
    wait_exit(&mut a.child, Duration::from_secs(5));
    for email in &acknowledged {
        assert_eq!(
            count(
                &db,
                &format!("SELECT count(*) FROM leads WHERE email = '{email}'")
            ),
            1,
            "{email} was acknowledged, so it is stored"
        );
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM leads WHERE email LIKE 'k%'"),
        count(
            &db,
            "SELECT count(DISTINCT email) FROM leads WHERE email LIKE 'k%'"
        ),
        "nothing was created twice"
    );
    assert!(
        acknowledged.len() >= 7 * 8,
        "{} acknowledged",
        acknowledged.len()
    );
    assert_eq!(status_of(public_port, "/healthz").await, Some(200));

    // SIGTERM during a slow request on B: the request finishes, B stops.
    let slow = same_session(&web, b.port);
    let request = actix_rt::spawn(async move { slow.get("/bench/slow?ms=1500").await.status });
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    let stopping = Instant::now();
    signal(&b.child, nix::sys::signal::Signal::SIGTERM);
    assert_eq!(
        request.await.unwrap(),
        200,
        "the in-flight request finished"
    );
    let exit = wait_exit(&mut b.child, Duration::from_secs(15));
    let shutdown = stopping.elapsed();
    assert!(exit.success(), "{exit:?}");
    assert!(
        std::net::TcpStream::connect(addr(b.port)).is_err(),
        "the listener is closed"
    );
    println!("two instances: start-up to ready {start_up:?}, SIGTERM to exit with a 1.5 s request in flight {shutdown:?}");
    std::fs::remove_dir_all(&var_dir).ok();
}
