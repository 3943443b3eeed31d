//! The tenant-isolation sweep: as a member of organization A, request every
//! registered route (from `routes::all_routes()`, so a new route cannot be
//! forgotten) with the ids of organization B's rows — in the path, the query
//! string and the form — for every method. Nothing of B's may appear in any
//! response, and B's rows must be byte-for-byte the same afterwards.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::common::{self, Client, TestApp};

/// Strings that exist only in organization B's rows.
const B_SECRETS: &[&str] = &[
    "Zebedee",
    "zebedee@b-secret.example",
    "B-secret template",
    "B-secret sequence",
    "Bravo Secret Org",
    "invitee@b-secret.example",
    "BRA-2026-0001",
    "B-secret key",
    "B-secret notice",
    "B-secret audit",
    "B-secret subject",
    "b-secret-hooks.example",
];

/// Routes that act only on the signed-in user themselves; sweeping them would
/// sign the sweeping user out. They take no ids of other organizations.
const SELF_ONLY: &[&str] = &[
    "/logout",
    "/account/delete",
    "/team/leave",
    "/team/step-down",
    "/account/sessions/end-others",
    "/account/password",
];

/// Fills organization B with one row of every kind; returns B's ids.
fn seed_b(app: &TestApp) -> Vec<String> {
    let mut conn = app.conn();
    let b = common::uuid_of(
        &mut conn,
        "SELECT id FROM organizations WHERE slug = 'bob-s-organization'",
    );
    let bob = common::uuid_of(
        &mut conn,
        "SELECT id FROM users WHERE email = 'bob@example.com'",
    );
    let ids: Vec<uuid::Uuid> = (0..15).map(|_| uuid::Uuid::now_v7()).collect();
    let [lead, tpl, seq, step, enr, msg, inv, notice, invoice, line, key, outbox, hook, hook_event, suppressed] =
        ids[..]
    else {
        unreachable!()
    };
    conn.batch_execute(&format!("
        UPDATE organizations SET name = 'Bravo Secret Org' WHERE id = '{b}';
        INSERT INTO leads (organization_id, id, first_name, last_name, email, company) VALUES ('{b}', '{lead}', 'Zebedee', 'Secret', 'zebedee@b-secret.example', 'B-secret Co');
        INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) VALUES ('{b}', '{b}', '{tpl}', 'B-secret template', 'B-secret subject', 'Hi {{{{first_name}}}}');
        INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{b}', '{b}', '{seq}', 'B-secret sequence');
        INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days) VALUES ('{b}', '{b}', '{step}', '{seq}', 1, '{b}', '{tpl}', 0);
        INSERT INTO sequence_enrollments (organization_id, id, lead_id, sequence_owner_key, sequence_id, next_run_at) VALUES ('{b}', '{enr}', '{lead}', '{b}', '{seq}', now() + interval '1 year');
        INSERT INTO messages (organization_id, id, lead_id, template_owner_key, template_id, to_email, subject, body, status, sender_user_id) VALUES ('{b}', '{msg}', '{lead}', '{b}', '{tpl}', 'zebedee@b-secret.example', 'B-secret subject', 'B-secret body', 'sent', '{bob}');
        INSERT INTO invitations (organization_id, id, email, role, token_hash, invited_by, expires_at) VALUES ('{b}', '{inv}', 'invitee@b-secret.example', 'MEMBER', '\\x{}', '{bob}', now() + interval '7 days');
        INSERT INTO notices (organization_id, id, user_id, kind, message, dedupe_key) VALUES ('{b}', '{notice}', '{bob}', 'limit', 'B-secret notice', 'k');
        INSERT INTO invoices (organization_id, id, number, year, seq, status, total_cents, period_start, period_end) VALUES ('{b}', '{invoice}', 'BRA-2026-0001', 2026, 1, 'open', 4900, now(), now() + interval '1 month');
        INSERT INTO invoice_lines (organization_id, id, invoice_id, description, quantity, unit_cents, amount_cents) VALUES ('{b}', '{line}', '{invoice}', 'Starter', 1, 4900, 4900);
        INSERT INTO api_keys (organization_id, id, name, prefix, key_hash) VALUES ('{b}', '{key}', 'B-secret key', 'ld_b', '\\x{}');
        INSERT INTO audit_events (organization_id, actor_label, action, target) VALUES ('{b}', 'Bob', 'settings.updated', 'B-secret audit');
        INSERT INTO usage_records (organization_id, kind, user_id, resource_id) VALUES ('{b}', 'lead_created', '{bob}', '{lead}');
        INSERT INTO mail_outbox (id, organization_id, message_id, kind, to_email, subject, body_text) VALUES ('{outbox}', '{b}', '{msg}', 'message', 'zebedee@b-secret.example', 'B-secret subject', 'B-secret body');
        INSERT INTO webhook_endpoints (organization_id, id, url, secret, created_at, updated_at) VALUES ('{b}', '{hook}', 'https://b-secret-hooks.example/in', 'whsec_b', now(), now());
        INSERT INTO webhook_events (organization_id, id, event_id, endpoint_id, event_type, data, created_at, next_attempt_at, status) VALUES ('{b}', '{hook_event}', gen_random_uuid(), '{hook}', 'lead.created', '{{}}', now(), now(), 'failed');
        INSERT INTO suppressions (organization_id, id, email_hash, email_hint, reason, note, created_at) VALUES ('{b}', '{suppressed}', '\\x03', 'z•••@b-secret.example', 'added', 'B-secret audit', now());
    ", hex::encode([1u8; 32]), hex::encode([2u8; 32]))).unwrap();
    let session = common::uuid_of(
        &mut conn,
        &format!("SELECT id FROM sessions WHERE user_id = '{bob}' LIMIT 1"),
    );
    let mut all = vec![b, bob, session];
    all.extend(ids);
    all.iter().map(|u| u.to_string()).collect()
}

#[derive(QueryableByName)]
struct Dump {
    #[diesel(sql_type = Text)]
    dump: String,
}

/// Every row of organization B (and of its members' accounts), as text.
fn dump_b(app: &TestApp) -> String {
    let mut conn = app.conn();
    let tables: Vec<String> = diesel::sql_query(
        "SELECT table_name::text AS dump FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'organization_id' ORDER BY 1",
    )
    .load::<Dump>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|d| d.dump)
    .collect();
    let b = "(SELECT id FROM organizations WHERE name = 'Bravo Secret Org')";
    let mut out = String::new();
    for t in tables {
        let q = format!("SELECT coalesce(string_agg(x::text, '\n' ORDER BY x::text), '') AS dump FROM {t} x WHERE organization_id = {b}");
        out.push_str(&format!(
            "== {t}\n{}\n",
            diesel::sql_query(q)
                .get_result::<Dump>(&mut conn)
                .unwrap()
                .dump
        ));
    }
    let q = format!("SELECT coalesce(string_agg(x::text, '\n' ORDER BY x::text), '') AS dump FROM organizations x WHERE id = {b}");
    out.push_str(
        &diesel::sql_query(q)
            .get_result::<Dump>(&mut conn)
            .unwrap()
            .dump,
    );
    let q = "SELECT coalesce(string_agg(x::text, '\n' ORDER BY x::text), '') AS dump FROM users x WHERE email = 'bob@example.com'";
    out.push_str(
        &diesel::sql_query(q)
            .get_result::<Dump>(&mut conn)
            .unwrap()
            .dump,
    );
    out
}

fn leaks(body: &str) -> Vec<&'static str> {
    B_SECRETS
        .iter()
        .copied()
        .filter(|s| body.contains(s))
        .collect()
}

/// Paths with every placeholder replaced by `id`.
fn fill(path: &str, id: &str) -> String {
    let re = regex::Regex::new(r"\{[a-z_]+\}").unwrap();
    re.replace_all(path, id).into_owned()
}

fn form_with(id: &str) -> Vec<(&'static str, String)> {
    [
        "id",
        "lead_id",
        "template_id",
        "sequence_id",
        "org_id",
        "user_id",
        "member_id",
        "invitation_id",
        "enrollment_id",
        "message_id",
        "step_id",
        "invoice_id",
        "notice_id",
        "session_id",
        "lead_ids",
        "event",
    ]
    .into_iter()
    .map(|k| (k, id.to_string()))
    .chain([
        ("name", "Sweep".to_string()),
        ("role", "VIEWER".to_string()),
        ("email", "sweep@a.example".to_string()),
    ])
    .collect()
}

async fn sweep_route(c: &Client, method: &str, path: &str, b_ids: &[String], hits: &mut usize) {
    for id in b_ids {
        let target = fill(path, id);
        let query = form_with(id)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let r = if method == "GET" {
            c.get(&format!("{target}?{query}")).await
        } else {
            let form = form_with(id);
            let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            c.post(&target, &fields).await
        };
        assert!(
            leaks(&r.body).is_empty(),
            "{method} {target}: leaked {:?}",
            leaks(&r.body)
        );
        assert!(r.status != 500, "{method} {target}: 500");
        if r.status == 404 {
            *hits += 1;
        }
    }
}

#[actix_web::test]
async fn no_route_shows_or_changes_another_organizations_data() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    app.signup("Bob", "bob@example.com").await;
    app.verify_email("ann@example.com");
    // Ann's organization gets every feature, so no route is skipped for the plan.
    diesel::sql_query("UPDATE subscriptions SET plan = 'ENTERPRISE' WHERE organization_id = (SELECT id FROM organizations WHERE slug = 'ann-s-organization')")
        .execute(&mut app.conn()).unwrap();
    let b_ids = seed_b(&app);
    let before = dump_b(&app);
    let routes = lead_dashboard::routes::all_routes();
    let mut hits = 0;
    for (method, path) in &routes {
        if SELF_ONLY.contains(path) || path.starts_with("/assets/") {
            continue;
        }
        ann.get("/dashboard").await; // fresh CSRF token, and proof Ann is still signed in
        sweep_route(&ann, method, path, &b_ids, &mut hits).await;
    }
    assert_eq!(
        ann.get("/dashboard").await.status,
        200,
        "the sweeping user stayed signed in"
    );
    assert_eq!(dump_b(&app), before, "organization B changed");
    let with_ids = routes
        .iter()
        .filter(|(_, p)| p.contains('{') && !p.starts_with("/assets/"))
        .count();
    assert!(
        hits >= with_ids,
        "every route with an id answered 404 for B's ids at least once ({hits} < {with_ids})"
    );
    println!(
        "isolation sweep: {} routes, {} answered 404 for B's ids",
        routes.len(),
        hits
    );
}
