//! Helpers for the API tests: keys created through the settings page as a
//! user would. Organizations and members come from the team tests' helpers.

pub use crate::team::support::*;

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
