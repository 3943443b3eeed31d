//! Hostile input against every form handler: random and malicious values
//! (oversize, invalid UTF-8, NUL bytes, HTML/script, SQL fragments, unknown
//! enum values, negative and huge numbers) in every field a form may read.
//! The app must answer with a 4xx or a re-rendered form — never a 500 — and
//! never echo user text unescaped.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use crate::common::{Client, TestApp};

/// Field names the forms of the app read.
const FIELDS: &[&str] = &[
    "name",
    "email",
    "password",
    "current_password",
    "new_password",
    "company",
    "title",
    "phone",
    "status",
    "tags",
    "notes",
    "role",
    "plan",
    "interval",
    "subject",
    "body",
    "delay_days",
    "position",
    "template_id",
    "lead_id",
    "lead_ids",
    "sequence_id",
    "org_id",
    "time_zone",
    "slug",
    "brand_name",
    "brand_color",
    "address",
    "vat_id",
    "q",
    "tag",
    "after",
    "can_manage_leads",
    "can_send_messages",
    "can_manage_templates",
    "first_name",
    "last_name",
    "direction",
    "value",
    "next",
    "invitation",
];

/// The unescaped marker no page may contain.
const MARKER: &str = "<script>alert(7)</script>";

fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(MARKER.to_string()),
        Just("'; DROP TABLE leads; --".to_string()),
        Just("\" onmouseover=\"alert(1)".to_string()),
        Just("a\u{0}b".to_string()),
        Just("GOD".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999999".to_string()),
        Just(String::new()),
        Just("../../etc/passwd".to_string()),
        Just("00000000-0000-0000-0000-000000000000".to_string()),
        "[a-zA-Z0-9 <>&\"'%;]{0,40}",
        "\\PC{0,30}",
        (1000usize..70_000).prop_map(|n| "x".repeat(n)),
    ]
}

fn form_strategy() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    proptest::collection::vec((proptest::sample::select(FIELDS), hostile_value()), 1..8)
}

/// Routes whose effect is on the signed-in user only; they would end the run.
const SELF_ONLY: &[&str] = &[
    "/logout",
    "/account/delete",
    "/team/leave",
    "/team/step-down",
    "/account/sessions/end-others",
    "/account/password",
];

fn fill(path: &str) -> String {
    regex::Regex::new(r"\{[a-z_]+\}")
        .unwrap()
        .replace_all(path, "00000000-0000-0000-0000-000000000000")
        .into_owned()
}

async fn check(c: &Client, method: &str, path: &str, form: &[(&str, String)]) {
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = if method == "GET" {
        // Addresses are bounded in length; oversize values go in bodies.
        let short: Vec<(&str, String)> = fields
            .iter()
            .map(|(k, v)| (*k, v.chars().take(500).collect()))
            .collect();
        let query = serde_urlencoded::to_string(&short).unwrap();
        c.get(&format!("{path}?{query}")).await
    } else {
        c.post(path, &fields).await
    };
    assert!(
        r.status < 500,
        "{method} {path} with {:?} answered {}",
        truncate(form),
        r.status
    );
    assert!(
        !r.body.contains(MARKER),
        "{method} {path} echoed script unescaped"
    );
}

fn truncate(form: &[(&str, String)]) -> Vec<(String, String)> {
    form.iter()
        .map(|(k, v)| (k.to_string(), v.chars().take(40).collect()))
        .collect()
}

#[actix_web::test]
async fn no_form_handler_fails_or_echoes_markup_on_hostile_input() {
    let app = TestApp::new().await;
    let c = app.signup("Ann", "ann@example.com").await;
    app.verify_email("ann@example.com");
    let mut runner = TestRunner::deterministic();
    let strategy = form_strategy();
    let mut requests = 0;
    for (method, path) in lead_dashboard::routes::all_routes() {
        if SELF_ONLY.contains(&path) || path.starts_with("/assets/") || path == "/billing/webhook" {
            continue;
        }
        let target = fill(path);
        for _ in 0..12 {
            c.get("/dashboard").await;
            let form = strategy.new_tree(&mut runner).unwrap().current();
            check(&c, method, &target, &form).await;
            requests += 1;
        }
    }
    // Invalid UTF-8 and a NUL byte straight in the body.
    for path in ["/orgs", "/signup", "/login"] {
        c.get("/dashboard").await;
        let body =
            format!("name=%FF%FE%00&email=%C0%AF&csrf_token={}", c.csrf_token()).into_bytes();
        let r = c
            .post_body(path, "application/x-www-form-urlencoded", body, &[])
            .await;
        assert!(r.status < 500, "{path}: {}", r.status);
    }
    assert_eq!(
        c.get("/dashboard").await.status,
        200,
        "still signed in: the run was not vacuous"
    );
    assert_eq!(app.count("SELECT count(*) FROM users"), 1);
    println!("hostile input: {requests} requests");
}
