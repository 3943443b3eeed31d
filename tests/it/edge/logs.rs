//! Log hygiene: requests that carry tokens in their paths, a password in
//! their body and a session cookie leave none of them in the log.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use crate::common::{TestApp, PASSWORD};

/// Everything logged by this test binary from the first use on.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (the app's own format, every level the
/// binary logs at by default) once for the whole test binary.
fn captured() -> Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter("info,access=info")
            .with_writer(move || writer.clone())
            .try_init()
            .expect("no other subscriber in the test binary");
        log
    })
    .clone()
}

fn text(log: &Captured) -> String {
    String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned()
}

#[actix_web::test]
async fn no_token_password_or_cookie_reaches_the_log() {
    let log = captured();
    let app = TestApp::new().await;
    let c = app.signup("Lou", "lou@example.com").await;
    let session = c.cookie("ld_session").expect("session cookie");
    let anon = app.client();
    anon.get("/login").await;
    let mut tokens = Vec::new();
    for route in [
        "/password/reset/",
        "/invitations/",
        "/account/verify/",
        "/account/email/confirm/",
    ] {
        let token = lead_dashboard::tokens::random_token();
        anon.get(&format!("{route}{token}")).await;
        anon.post(&format!("{route}{token}"), &[("password", PASSWORD)])
            .await;
        c.get(&format!("{route}{token}")).await;
        tokens.push(token);
    }
    let logged = text(&log);
    assert!(
        logged.contains("/password/reset/[redacted]") && logged.contains("/invitations/[redacted]"),
        "the requests are logged, redacted: {logged}"
    );
    for secret in tokens.iter().chain([&session, &PASSWORD.to_string()]) {
        assert!(!logged.contains(secret.as_str()), "{secret} is in the log");
    }
    // Whatever else this test binary has logged so far: no access line
    // carries a segment shaped like an issued token.
    let token_shaped = regex::Regex::new(r"/[A-Za-z0-9_-]{43}(?:[/\s?]|$)").unwrap();
    for line in logged.lines().filter(|l| l.contains("access")) {
        assert!(
            !token_shaped.is_match(line),
            "token in the access log: {line}"
        );
    }
}
