//! Helpers for the API tests: keys created through the settings page as a
//! user would. Organizations and members come from the team tests' helpers.

pub use crate::team::support::*;

pub use super::openapi_check::served_document;
use super::openapi_check::{check, Seen};
use crate::common::Client;

/// The key shown once in a page or fragment, if any.
pub fn shown_key(html: &str) -> Option<String> {
    let re = regex::Regex::new(r"ld_[a-z0-9]{8}_[A-Za-z0-9_-]{43}").unwrap();
    re.find(html).map(|m| m.as_str().to_string())
}

/// Creates a key named `name` with `scope` through the page; returns it.
pub async fn create_key(owner: &Client, name: &str, scope: &str) -> String {
    let r = owner
        .post("/settings/api-keys", &[("name", name), ("scope", scope)])
        .await;
    assert_eq!(r.status, 200, "create key: {}", r.body);
    shown_key(&r.body).expect("the new key is shown")
}

/// An API response: status, headers and the body parsed as JSON (Null when
/// empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub json: serde_json::Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem document with `status`.
    pub fn assert_problem(&self, status: u16, context: &str) {
        assert_eq!(self.status, status, "{context}: {}", self.json);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{context}"
        );
        assert_eq!(self.json["status"], status, "{context}");
        for field in ["type", "title", "detail"] {
            assert!(
                self.json[field].is_string(),
                "{context}: {field} in {}",
                self.json
            );
        }
    }
}

/// A raw API call: `method` on `path` with `headers` and `body` as given.
/// The reply is checked against the served OpenAPI document (a mismatch
/// fails the test).
pub async fn raw(
    app: &crate::common::TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let client = awc::Client::builder()
        .disable_redirects()
        .timeout(std::time::Duration::from_secs(60))
        .finish();
    let verb = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client.request(verb, app.url(path));
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut res = req.send_body(body).await.expect("API call");
    let bytes = res.body().limit(10 * 1024 * 1024).await.unwrap_or_default();
    let doc = served_document(app).await;
    let names: Vec<&str> = res.headers().keys().map(|k| k.as_str()).collect();
    let seen = Seen {
        method,
        path,
        status: res.status().as_u16(),
        content_type: res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        headers: &names,
        body: &bytes,
    };
    if let Err(why) = check(&doc, &seen) {
        panic!(
            "{method} {path} answered {} which /api/v1/openapi.json does not describe: {why}",
            seen.status
        );
    }
    Reply {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        json: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}

/// An API call with `key` (if any) and a JSON `body` (if any).
pub async fn call(
    app: &crate::common::TestApp,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<serde_json::Value>,
) -> Reply {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let bytes = match body {
        Some(b) => {
            headers.push(("Content-Type", "application/json"));
            serde_json::to_vec(&b).unwrap()
        }
        None => Vec::new(),
    };
    raw(app, method, path, &headers, bytes).await
}
