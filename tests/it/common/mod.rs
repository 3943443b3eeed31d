//! Test harness: every test gets its own PostgreSQL database, cloned from a
//! migrated template, and a real server on a loopback port; `Client` keeps
//! cookies and the CSRF token like a browser does.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use actix_web::{web, HttpServer};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::{Connection, PgConnection, RunQueryDsl};
use lead_dashboard::app;
use lead_dashboard::clock::Clock;
use lead_dashboard::config::Config;
use lead_dashboard::db::Db;
use lead_dashboard::state::AppState;
use sha2::{Digest, Sha256};

pub mod dovecot;

/// Server holding the test databases (`TEST_DATABASE_URL`, default: the
/// local server on 127.0.0.1:5432 as user postgres).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn url_for(db: &str) -> String {
    let admin = admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{db}")
}

/// Name of the template database for the current migrations.
fn template_name() -> String {
    let mut hasher = Sha256::new();
    let mut entries: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations dir")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for dir in entries {
        hasher.update(dir.to_string_lossy().as_bytes());
        for file in ["up.sql", "down.sql"] {
            hasher.update(std::fs::read(dir.join(file)).unwrap_or_default());
        }
    }
    format!("ld_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

static TEMPLATE: Mutex<Option<String>> = Mutex::new(None);

/// Creates (once per migration set, guarded by an advisory lock across
/// processes) the migrated template database.
fn template() -> String {
    let mut guard = TEMPLATE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(name) = guard.as_ref() {
        return name.clone();
    }
    let name = template_name();
    let mut admin =
        PgConnection::establish(&admin_url()).expect("connect to the test PostgreSQL server");
    diesel::sql_query("SELECT pg_advisory_lock(77001)")
        .execute(&mut admin)
        .unwrap();
    let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
    )))
    .get_result(&mut admin)
    .unwrap();
    if !exists {
        let building = format!("{name}_build");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building}"))
            .execute(&mut admin)
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .unwrap();
        {
            let mut conn = PgConnection::establish(&url_for(&building)).unwrap();
            lead_dashboard::db::migrate(&mut conn).expect("migrations apply");
        }
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut admin)
            .unwrap();
    }
    diesel::sql_query("SELECT pg_advisory_unlock(77001)")
        .execute(&mut admin)
        .unwrap();
    *guard = Some(name.clone());
    name
}

/// A database of its own for one test; dropped with the value.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn new() -> TestDb {
        let template = template();
        let name = format!("ld_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url()).unwrap();
        // CREATE DATABASE ... TEMPLATE fails while another session uses the
        // template, so retry briefly when tests start at the same moment.
        for attempt in 0..50 {
            match diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .execute(&mut admin)
            {
                Ok(_) => break,
                Err(e) if attempt < 49 => {
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => panic!("cannot create test database: {e}"),
            }
        }
        TestDb {
            url: url_for(&name),
            name,
        }
    }

    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&admin_url()) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// A running app on its own database and port.
pub struct TestApp {
    pub db: TestDb,
    pub addr: std::net::SocketAddr,
    pub state: web::Data<AppState>,
    server: actix_web::dev::ServerHandle,
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_config(|_| {}).await
    }

    /// Starts the app with its clock standing at `at`: every request and job
    /// reads that instant until the test moves it (`app.clock().set(..)`,
    /// `advance(..)`), so results do not depend on when the test runs.
    pub async fn pinned(at: DateTime<Utc>) -> TestApp {
        Self::with_clock_and_config(Clock::fixed(at), |_| {}).await
    }

    /// Starts the app after `adjust` has changed the test configuration.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::with_clock_and_config(Clock::system(), adjust).await
    }

    /// Starts the app reading the time from `clock`, after `adjust` has
    /// changed the test configuration.
    pub async fn with_clock_and_config(clock: Clock, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::new();
        let mut config = Config::for_tests(&db.url);
        adjust(&mut config);
        let url = config
            .database_url
            .clone()
            .unwrap_or_else(|| db.url.clone());
        let pool = Db::connect(&url, config.pool_size, config.pool_timeout);
        let state = web::Data::new(AppState::with_clock(pool, config, clock));
        let data = state.clone();
        let server = HttpServer::new(move || app::build(data.clone()))
            .workers(2)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        TestApp {
            db,
            addr,
            state,
            server: handle,
        }
    }

    /// The app's clock (pinned by `pinned`, the system's otherwise).
    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// What the app reads as `now`.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr)
    }

    pub fn conn(&self) -> PgConnection {
        self.db.conn()
    }

    /// Runs a scalar SQL query (for assertions).
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
            .get_result::<N>(&mut self.conn())
            .unwrap()
            .n
    }

    /// Signs up a new account and returns a signed-in client.
    pub async fn signup(&self, name: &str, email: &str) -> Client {
        let c = self.client();
        c.get("/signup").await;
        let r = c
            .post(
                "/signup",
                &[("name", name), ("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, 303, "signup failed: {}", r.body);
        c.get("/dashboard").await;
        c
    }

    /// Signs in an existing account.
    pub async fn login(&self, email: &str) -> Client {
        let c = self.client();
        c.get("/login").await;
        let r = c
            .post("/login", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(r.status, 303, "login failed: {}", r.body);
        c.get("/dashboard").await;
        c
    }

    /// Marks an account's email as confirmed (what the verification link does).
    pub fn verify_email(&self, email: &str) {
        diesel::sql_query(format!(
            "UPDATE users SET email_verified_at = '{}' WHERE email = '{email}'",
            self.now().to_rfc3339()
        ))
        .execute(&mut self.conn())
        .unwrap();
    }

    /// Adds an existing account to the organization with `slug` in `role`.
    pub fn add_member(&self, slug: &str, email: &str, role: &str) {
        diesel::sql_query(format!(
            "INSERT INTO organization_members (organization_id, user_id, role) \
             SELECT o.id, u.id, '{role}' FROM organizations o, users u WHERE o.slug = '{slug}' AND u.email = '{email}'"
        ))
        .execute(&mut self.conn())
        .unwrap();
    }

    pub async fn stop(&self) {
        self.server.stop(false).await;
    }
}

/// Password used by `signup`/`login`.
pub const PASSWORD: &str = "correct horse battery";

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
}

/// A browser-like client: keeps cookies, and the last CSRF token seen in a page.
pub struct Client {
    addr: std::net::SocketAddr,
    http: awc::Client,
    pub cookies: Mutex<BTreeMap<String, String>>,
    pub csrf: Mutex<Option<String>>,
}

impl Client {
    pub fn new(addr: std::net::SocketAddr) -> Client {
        Client {
            addr,
            http: awc::Client::builder()
                .disable_redirects()
                .timeout(std::time::Duration::from_secs(60))
                .finish(),
            cookies: Mutex::new(BTreeMap::new()),
            csrf: Mutex::new(None),
        }
    }

    /// Another client with the same cookies (the same browser session).
    pub fn clone_session(&self) -> Client {
        let c = Client::new(self.addr);
        *c.cookies.lock().unwrap() = self.cookies.lock().unwrap().clone();
        *c.csrf.lock().unwrap() = self.csrf.lock().unwrap().clone();
        c
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.into(), value.into());
    }

    pub fn csrf_token(&self) -> String {
        self.csrf.lock().unwrap().clone().unwrap_or_default()
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn finish(
        &self,
        mut res: awc::ClientResponse<
            impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
                + Unpin,
        >,
    ) -> Resp {
        for c in res.headers().get_all("set-cookie") {
            let raw = c.to_str().unwrap_or("");
            let pair = raw.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                let mut jar = self.cookies.lock().unwrap();
                if v.is_empty() || raw.contains("Max-Age=0") {
                    jar.remove(k);
                } else {
                    jar.insert(k.to_string(), v.to_string());
                }
            }
        }
        let body = res
            .body()
            .limit(50 * 1024 * 1024)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if let Some(token) = extract_csrf(&body) {
            *self.csrf.lock().unwrap() = Some(token);
        }
        Resp {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        let res = self
            .http
            .get(self.url(path))
            .insert_header(("Cookie", self.cookie_header()))
            .send()
            .await
            .expect("GET");
        self.finish(res).await
    }

    /// GET of a binary body (a download): status, headers and the exact bytes.
    pub async fn get_bytes(&self, path: &str) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
        let mut res = self
            .http
            .get(self.url(path))
            .insert_header(("Cookie", self.cookie_header()))
            .send()
            .await
            .expect("GET");
        let body = res.body().limit(200 * 1024 * 1024).await.expect("body");
        (res.status().as_u16(), res.headers().clone(), body.to_vec())
    }

    /// GET as HTMX does (fragment expected).
    pub async fn get_htmx(&self, path: &str) -> Resp {
        let res = self
            .http
            .get(self.url(path))
            .insert_header(("Cookie", self.cookie_header()))
            .insert_header(("HX-Request", "true"))
            .send()
            .await
            .expect("GET");
        self.finish(res).await
    }

    /// A plain-form POST with the current CSRF token added.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let token = self.csrf_token();
        fields.push(("csrf_token", &token));
        self.post_raw(path, &fields).await
    }

    /// A POST exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(form).unwrap();
        self.post_body(
            path,
            "application/x-www-form-urlencoded",
            body.into_bytes(),
            &[],
        )
        .await
    }

    /// A POST as HTMX sends it: token in the header, `HX-Request: true`.
    pub async fn post_htmx(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(form).unwrap();
        let token = self.csrf_token();
        self.post_body(
            path,
            "application/x-www-form-urlencoded",
            body.into_bytes(),
            &[("HX-Request", "true"), ("X-CSRF-Token", &token)],
        )
        .await
    }

    pub async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .http
            .post(self.url(path))
            .insert_header(("Cookie", self.cookie_header()))
            .insert_header(("Content-Type", content_type));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let res = req.send_body(body).await.expect("POST");
        self.finish(res).await
    }
}

/// The CSRF token embedded in a page (hidden input or hx-headers).
pub fn extract_csrf(html: &str) -> Option<String> {
    let re = regex::Regex::new(r#"name="csrf_token" value="([A-Za-z0-9_-]{43})""#).unwrap();
    if let Some(c) = re.captures(html) {
        return Some(c[1].to_string());
    }
    let re = regex::Regex::new(r#"X-CSRF-Token&quot;:&quot;([A-Za-z0-9_-]{43})"#).unwrap();
    re.captures(html).map(|c| c[1].to_string())
}

/// Reads a single UUID column value.
pub fn uuid_of(conn: &mut PgConnection, sql: &str) -> uuid::Uuid {
    #[derive(QueryableByName)]
    struct U {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    diesel::sql_query(sql).get_result::<U>(conn).unwrap().id
}

/// `at` as an SQL timestamptz literal, for fixtures that must agree with a
/// pinned clock (the database's own `now()` does not).
pub fn ts(at: DateTime<Utc>) -> String {
    format!("'{}'::timestamptz", at.to_rfc3339())
}
