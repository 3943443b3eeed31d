//! Helpers for the webhook tests: an app whose configuration allows the
//! loopback receiver (set per app, never in the process environment), a
//! real HTTP receiver on a loopback port, the Standard Webhooks check
//! written independently of the app's code, and the delivery job.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use lead_dashboard::clock::Clock;
use lead_dashboard::db::SystemAccess;
use sha2::Sha256;
use uuid::Uuid;

pub use crate::team::support::{exec, join, org_id, set_plan, text, ORG};

use crate::common::{Client, TestApp};

/// When every webhook test starts.
pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .unwrap()
        .to_utc()
}

pub struct Hooks {
    pub app: TestApp,
    pub owner: Client,
    pub org: Uuid,
}

/// Olivia owns `ORG` on `plan`; `allow_private` is the app's
/// `WEBHOOK_ALLOW_PRIVATE_TARGETS`.
pub async fn hooks_app(plan: &str, allow_private: bool) -> Hooks {
    let app = TestApp::with_clock_and_config(Clock::fixed(start()), |c| {
        c.webhook_allow_private_targets = allow_private;
    })
    .await;
    let owner = app.signup("Olivia", "olivia@example.com").await;
    app.verify_email("olivia@example.com");
    set_plan(&app, ORG, plan);
    let org = org_id(&app, ORG);
    owner.get("/settings/webhooks").await;
    Hooks { app, owner, org }
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Status500,
    /// Answers after 12 seconds (the app gives up after 10).
    Slow,
    /// Announces and starts sending a 50 MB body.
    Huge,
    Redirect,
    /// Closes the connection without answering.
    Reset,
}

/// One request as the receiver read it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A real HTTP/1.1 server on a loopback port, one thread per connection.
pub struct Receiver {
    pub port: u16,
    mode: Arc<Mutex<Mode>>,
    got: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub fn start(mode: Mode) -> Receiver {
        Self::start_on(0, mode)
    }

    /// Listens on `port` (0: any free one).
    pub fn start_on(port: u16, mode: Mode) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = Receiver {
            port,
            mode: Arc::new(Mutex::new(mode)),
            got: Arc::new(Mutex::new(Vec::new())),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (mode, got, stop) = (r.mode.clone(), r.got.clone(), r.stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (mode, got) = (*mode.lock().unwrap(), got.clone());
                        thread::spawn(move || serve(stream, mode, &got));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        r
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Every body received so far; each is checked against the OpenAPI
    /// document's `webhooks` section (a delivery that does not match what
    /// the document promises fails the test).
    pub fn received(&self) -> Vec<Received> {
        let got = self.got.lock().unwrap().clone();
        let doc = lead_dashboard::api::openapi::document();
        for r in got.iter().filter(|r| r.body.trim_start().starts_with('{')) {
            if let Err(e) = crate::api::openapi_check::check_webhook(doc, &r.body) {
                panic!("{e}");
            }
        }
        got
    }

    /// Closes the port (connections are then refused).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(mut stream: TcpStream, mode: Mode, got: &Mutex<Vec<Received>>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    got.lock().unwrap().push(request);
    let answer = |s: &mut TcpStream, head: &str, body: &str| {
        let _ = s.write_all(
            format!(
                "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    };
    match mode {
        Mode::Ok => answer(&mut stream, "HTTP/1.1 200 OK", "received"),
        Mode::Status500 => answer(&mut stream, "HTTP/1.1 500 Internal Server Error", "oops"),
        Mode::Slow => {
            thread::sleep(Duration::from_secs(12));
            answer(&mut stream, "HTTP/1.1 200 OK", "late");
        }
        Mode::Redirect => answer(
            &mut stream,
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere",
            "",
        ),
        Mode::Huge => {
            let size = 50 * 1024 * 1024;
            let _ = stream.write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..size / chunk.len() {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
        Mode::Reset => {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&raw[head_end..]).to_string();
    Some(Received { headers, body })
}

/// The Standard Webhooks check, written from the specification: HMAC-SHA256
/// keyed with the base64 part of `whsec_…` over `id.timestamp.body`, base64,
/// compared with each space-separated `v1,` entry.
pub fn verifies(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(
        format!(
            "{}.{}.{}",
            r.header("webhook-id"),
            r.header("webhook-timestamp"),
            r.body
        )
        .as_bytes(),
    );
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

/// One pass of the delivery job at the app's `now`, off the test's thread.
pub async fn deliver(app: &TestApp) -> usize {
    let state = app.state.clone();
    let now = app.now();
    actix_web::web::block(move || {
        let access = SystemAccess::grant_at_startup();
        let mut conn = state.db.system(&access).unwrap();
        lead_dashboard::jobs::webhooks::deliver_due(&mut conn, &access, &state.config, now).unwrap()
    })
    .await
    .unwrap()
}

/// The secret shown once in a page.
pub fn shown_secret(html: &str) -> Option<String> {
    let re = regex::Regex::new(r"whsec_[A-Za-z0-9+/=]{40,}").unwrap();
    re.find(html).map(|m| m.as_str().to_string())
}

/// Adds an endpoint through the page (all events when `events` is empty);
/// returns its id and secret.
pub async fn add_endpoint(c: &Client, url: &str, events: &[&str]) -> (Uuid, String) {
    let mut form = vec![("url", url), ("description", "Receiver"), ("enabled", "on")];
    if events.is_empty() {
        form.push(("all_events", "on"));
    }
    for e in events {
        form.push(("events", e));
    }
    let r = c.post("/settings/webhooks", &form).await;
    assert_eq!(r.status, 200, "add endpoint: {}", r.body);
    let secret = shown_secret(&r.body).expect("the secret is shown");
    let re = regex::Regex::new(r"/settings/webhooks/([0-9a-f-]{36})").unwrap();
    let id = re.captures(&r.body).expect("a link to the endpoint")[1]
        .parse()
        .unwrap();
    (id, secret)
}

/// Creates a lead through the page.
pub async fn page_lead(c: &Client, first: &str, email: &str) {
    let r = c
        .post(
            "/leads",
            &[
                ("first_name", first),
                ("last_name", "Test"),
                ("email", email),
                ("status", "new"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "create lead: {}", r.body);
}

/// Rows of `webhook_events` as (type, data email or ""), oldest first.
pub fn event_rows(app: &TestApp) -> Vec<(String, String)> {
    let raw = text(
        app,
        "SELECT coalesce(string_agg(event_type || '|' || coalesce(data->>'email', ''), ',' \
         ORDER BY created_at, event_id), '') FROM webhook_events",
    );
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (t, e) = s.split_once('|').unwrap();
            (t.to_string(), e.to_string())
        })
        .collect()
}
