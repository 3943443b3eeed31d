//! Every page validates: each full-page GET route of the app (from
//! `routes::all_routes()`, so a new page cannot be left out), signed in with
//! rows of every kind and signed out, is fed to the Nu HTML Checker (`vnu`,
//! installed with the browser tests' npm packages by `scripts/test-prereqs`).
//! The test fails on any error the checker reports, and lists them.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;

use crate::common::{self, Client, TestApp};

/// The checker's jar, installed by `npm ci` in tests/browser.
fn vnu_jar() -> PathBuf {
    let jar = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/vnu-jar/build/dist/vnu.jar");
    assert!(
        jar.exists(),
        "the Nu HTML Checker is missing ({}): run scripts/test-prereqs",
        jar.display()
    );
    jar
}

/// One row of every kind in Ann's organization; the ids by path segment.
fn seed_rows(app: &TestApp) -> Vec<(&'static str, String)> {
    let mut conn = app.conn();
    let org = common::uuid_of(
        &mut conn,
        "SELECT id FROM organizations WHERE slug = 'ann-s-organization'",
    );
    let ann = common::uuid_of(
        &mut conn,
        "SELECT id FROM users WHERE email = 'ann@example.com'",
    );
    let ids: Vec<uuid::Uuid> = (0..8).map(|_| uuid::Uuid::now_v7()).collect();
    let [lead, tpl, seq, step, enr, msg, invoice, line] = ids[..] else {
        unreachable!()
    };
    conn.batch_execute(&format!("
        UPDATE subscriptions SET plan = 'ENTERPRISE' WHERE organization_id = '{org}';
        INSERT INTO leads (organization_id, id, first_name, last_name, email, company, tags, owner_user_id) VALUES ('{org}', '{lead}', 'Ada', 'Lovelace', 'ada@example.com', 'Analytical Ltd', ARRAY['vip'], '{ann}');
        INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) VALUES ('{org}', '{org}', '{tpl}', 'Intro', 'Hello {{{{first_name}}}}', 'Hi {{{{first_name}}}}');
        INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{org}', '{org}', '{seq}', 'Onboarding');
        INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days) VALUES ('{org}', '{org}', '{step}', '{seq}', 1, '{org}', '{tpl}', 0);
        INSERT INTO sequence_enrollments (organization_id, id, lead_id, sequence_owner_key, sequence_id, next_run_at) VALUES ('{org}', '{enr}', '{lead}', '{org}', '{seq}', now() + interval '1 day');
        INSERT INTO messages (organization_id, id, lead_id, template_owner_key, template_id, to_email, subject, body, status, sender_user_id) VALUES ('{org}', '{msg}', '{lead}', '{org}', '{tpl}', 'ada@example.com', 'Hello Ada', 'Hi Ada', 'sent', '{ann}');
        INSERT INTO invitations (organization_id, id, email, role, token_hash, invited_by, expires_at) VALUES ('{org}', gen_random_uuid(), 'new@example.com', 'MEMBER', '\\x{}', '{ann}', now() + interval '7 days');
        INSERT INTO notices (organization_id, id, user_id, kind, message, dedupe_key) VALUES ('{org}', gen_random_uuid(), '{ann}', 'limit', 'You used 80% of your leads', 'k');
        INSERT INTO invoices (organization_id, id, number, year, seq, status, total_cents, period_start, period_end) VALUES ('{org}', '{invoice}', 'ANN-2026-0001', 2026, 1, 'paid', 4900, now(), now() + interval '1 month');
        INSERT INTO invoice_lines (organization_id, id, invoice_id, description, quantity, unit_cents, amount_cents) VALUES ('{org}', '{line}', '{invoice}', 'Starter', 1, 4900, 4900);
        INSERT INTO api_keys (organization_id, id, name, prefix, key_hash) VALUES ('{org}', gen_random_uuid(), 'CRM sync', 'ld_abcd', '\\x{}');
        INSERT INTO audit_events (organization_id, actor_label, action, target) VALUES ('{org}', 'Ann', 'settings.updated', 'Organization name');
    ", hex::encode([1u8; 32]), hex::encode([2u8; 32]))).unwrap();
    vec![
        ("leads", lead.to_string()),
        ("templates", tpl.to_string()),
        ("sequences", seq.to_string()),
        ("messages", msg.to_string()),
        ("invoices", invoice.to_string()),
    ]
}

/// `path` with its `{…}` placeholder replaced by the id of the row kind named
/// by the segment before it; None when the route takes something else (a
/// token, a file) or is not a page (a table row, a PDF).
fn page_path(path: &str, ids: &[(&str, String)]) -> Option<String> {
    if !path.contains('{') {
        return Some(path.to_string());
    }
    if path.ends_with("/row") || path.ends_with(".pdf") {
        return None;
    }
    let (before, after) = path.split_once('{')?;
    let (_, rest) = after.split_once('}')?;
    let kind = before.trim_end_matches('/').rsplit('/').next()?;
    let id = ids.iter().find(|(k, _)| *k == kind)?;
    Some(format!("{before}{}{rest}", id.1))
}

/// Fetches `paths` with `client`, keeping each full HTML page (whatever its
/// status) in `dir`.
async fn collect(client: &Client, label: &str, paths: &[String], dir: &Path) -> Vec<String> {
    let mut kept = Vec::new();
    for path in paths {
        let r = client.get(path).await;
        let html = r
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/html");
        // Error pages are pages too (a 404 inside the app shell, say).
        if !html || !r.body.starts_with("<!DOCTYPE html>") {
            continue;
        }
        let name = format!("{label}{}.html", path.replace('/', "_"));
        std::fs::write(dir.join(name), &r.body).unwrap();
        kept.push(format!("{label} {path}"));
    }
    kept
}

/// The pages behind a mailed link: an invitation and a password reset.
async fn token_pages(app: &TestApp, owner: &Client, anonymous: &Client) -> Vec<String> {
    let r = owner
        .post(
            "/team/invitations",
            &[("email", "ivy@example.com"), ("role", "MEMBER")],
        )
        .await;
    assert_eq!(r.status, 303, "invite: {}", r.body);
    let invitation = crate::team::support::mailed_token(app, "ivy@example.com");
    anonymous.get("/password/forgot").await;
    let r = anonymous
        .post("/password/forgot", &[("email", "ann@example.com")])
        .await;
    assert_eq!(r.status, 303, "reset request: {}", r.body);
    let mut conn = app.conn();
    let body: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "(SELECT body_text FROM mail_outbox WHERE to_email = 'ann@example.com' \
         AND subject = 'Reset your password' ORDER BY created_at DESC LIMIT 1)",
    ))
    .get_result(&mut conn)
    .unwrap();
    let reset = regex::Regex::new(r"/password/reset/[A-Za-z0-9_-]{43}")
        .unwrap()
        .find(&body)
        .expect("a reset link in the mail")
        .as_str()
        .to_string();
    vec![format!("/invitations/{invitation}"), reset]
}

/// Runs the checker over every file in `dir`; its error messages.
fn check(dir: &Path) -> Vec<String> {
    let out = std::process::Command::new("java")
        .arg("-jar")
        .arg(vnu_jar())
        .args(["--errors-only", "--format", "json", "--exit-zero-always"])
        // htmx's `hx-*` attributes are outside the HTML standard by design;
        // they are the only thing the checker is told to ignore.
        .args(["--filterpattern", ".*Attribute “hx-[a-z-]+” not allowed.*"])
        .arg(dir)
        .output()
        .expect("java runs (scripts/test-prereqs installs it)");
    let report: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap_or_else(|e| {
        panic!(
            "checker output is JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    report["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            let file = m["url"]
                .as_str()
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or("");
            format!(
                "{file}:{}: {} — {}",
                m["lastLine"],
                m["message"].as_str().unwrap_or(""),
                m["extract"].as_str().unwrap_or("").trim()
            )
        })
        .collect()
}

#[actix_web::test]
async fn every_page_is_valid_html() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    app.verify_email("ann@example.com");
    let ids = seed_rows(&app);
    let paths: Vec<String> = lead_dashboard::routes::all_routes()
        .into_iter()
        .filter(|(method, path)| *method == "GET" && !path.starts_with("/assets/"))
        .filter_map(|(_, path)| page_path(path, &ids))
        .collect();
    let dir = std::env::temp_dir().join(format!("html-check-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut pages = collect(&ann, "in", &paths, &dir).await;
    // A page that does not exist, for a signed-in user (inside the app shell).
    pages.extend(collect(&ann, "in", &["/no-such-page".into()], &dir).await);
    let anonymous = app.client();
    let mut public = paths.clone();
    public.push("/no-such-page".into());
    // The API reference is served by the API's routes, not the pages'.
    public.push("/api/docs".into());
    public.extend(token_pages(&app, &ann, &anonymous).await);
    pages.extend(collect(&anonymous, "out", &public, &dir).await);
    for must in [
        "in /dashboard",
        "in /leads",
        "in /usage",
        "out /api/docs",
        "out /login",
        "out /no-such-page",
    ]
    .into_iter()
    .map(String::from)
    .chain(
        public
            .iter()
            .filter(|p| p.contains("/reset/"))
            .map(|p| format!("out {p}")),
    ) {
        assert!(pages.contains(&must), "{must} was checked: {pages:?}");
    }
    let errors = check(&dir);
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        errors.is_empty(),
        "{} HTML errors over {} pages:\n{}",
        errors.len(),
        pages.len(),
        errors.join("\n")
    );
    println!("html check: {} pages, 0 errors", pages.len());
}
