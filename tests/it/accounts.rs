//! Accounts: profile, email verification and change, password change and
//! reset, sessions (list, end, timeouts) and account deletion.
//!
//! `CurrentOrg::require_verified_email` guards inviting and sending, whose
//! routes belong to the team and messaging features; their tests cover it.
//! Here the unverified state is checked through the banner and the account page.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::common::{self, Client, TestApp};

mod deletion;
mod email;
mod password;
mod sessions;

// ── helpers ──────────────────────────────────────────────────────────────

fn exec(app: &TestApp, sql: &str) {
    diesel::sql_query(sql).execute(&mut app.conn()).unwrap();
}

/// One text value (or None when the query finds no row).
fn text_of(app: &TestApp, sql: &str) -> Option<String> {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = Text)]
        t: String,
    }
    diesel::sql_query(format!("SELECT ({sql})::text AS t"))
        .get_result::<T>(&mut app.conn())
        .optional()
        .unwrap()
        .map(|r| r.t)
}

/// Body of the newest mail to `to` whose subject is `subject`.
fn last_mail(app: &TestApp, to: &str, subject: &str) -> String {
    text_of(
        app,
        &format!(
            "SELECT body_text FROM mail_outbox WHERE to_email = '{to}' AND subject = '{subject}' \
             AND kind = 'account' AND organization_id IS NULL ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
    )
    .unwrap_or_else(|| panic!("no mail '{subject}' to {to}"))
}

fn mails(app: &TestApp, to: &str, subject: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM mail_outbox WHERE to_email = '{to}' AND subject = '{subject}'"
    ))
}

/// The token of the link starting with `path` (e.g. "/password/reset/") in a mail body.
fn token_in(body: &str, path: &str) -> String {
    let re = regex::Regex::new(&format!("{}([A-Za-z0-9_-]{{43}})", regex::escape(path))).unwrap();
    re.captures(body)
        .unwrap_or_else(|| panic!("no {path} link in: {body}"))[1]
        .to_string()
}

/// A fresh browser that signs in with `email`/`password`; the response.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> (Client, common::Resp) {
    let c = app.client();
    c.get("/login").await;
    let r = c
        .post("/login", &[("email", email), ("password", password)])
        .await;
    (c, r)
}

/// True when the client's session cookie still opens the dashboard.
async fn signed_in(c: &Client) -> bool {
    c.get("/dashboard").await.status == 200
}

/// A browser that only carries `cookie` as its session.
fn with_cookie(app: &TestApp, cookie: &str) -> Client {
    let c = app.client();
    c.set_cookie("ld_session", cookie);
    c
}

/// The session token inside a client's (encrypted) session cookie.
fn session_token(app: &TestApp, c: &Client) -> String {
    use actix_web::cookie::{Cookie, CookieJar};
    let sealed = c.cookie("ld_session").expect("session cookie");
    let mut jar = CookieJar::new();
    let sent = Cookie::parse_encoded(format!("ld_session={sealed}")).expect("a cookie");
    jar.add_original(sent.into_owned());
    let opened = jar
        .private(&app.state.session_key)
        .get("ld_session")
        .expect("a session cookie sealed with the app's key");
    let state: std::collections::HashMap<String, String> =
        serde_json::from_str(opened.value()).expect("session state");
    serde_json::from_str(&state["token"]).expect("a token in the session")
}

fn session_id_of(app: &TestApp, c: &Client) -> uuid::Uuid {
    let cookie = session_token(app, c);
    common::uuid_of(
        &mut app.conn(),
        &format!(
            "SELECT id FROM sessions WHERE token_hash = sha256(convert_to('{cookie}', 'UTF8'))"
        ),
    )
}

fn user_sessions(app: &TestApp, email: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = '{email}'"
    ))
}

/// How many "sign out this session" forms a sessions page has.
fn end_buttons(body: &str) -> usize {
    regex::Regex::new(r#"action="/account/sessions/[0-9a-f-]{36}/end""#)
        .unwrap()
        .find_iter(body)
        .count()
}

async fn request_reset(app: &TestApp, email: &str) -> common::Resp {
    let c = app.client();
    c.get("/password/forgot").await;
    c.post("/password/forgot", &[("email", email)]).await
}
