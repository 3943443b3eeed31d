//! Helpers for the team tests: an organization with members in every role,
//! rows made directly in SQL, and a fingerprint of everything this feature
//! may change (to prove that a refused request changed nothing).

use diesel::prelude::*;
use uuid::Uuid;

use crate::common::{self, Client, TestApp};

/// Slug of the organization `Olivia` (the owner) gets at sign-up.
pub const ORG: &str = "olivia-s-organization";
pub const OTHER: &str = "otto-s-organization";

pub struct Team {
    pub app: TestApp,
    pub owner: Client,
    pub org: Uuid,
}

/// A fresh app where Olivia owns `ORG` on `plan`, email confirmed.
pub async fn team_app(plan: &str) -> Team {
    let app = TestApp::new().await;
    let owner = app.signup("Olivia", "olivia@example.com").await;
    app.verify_email("olivia@example.com");
    set_plan(&app, ORG, plan);
    let org = org_id(&app, ORG);
    owner.get("/team").await;
    Team { app, owner, org }
}

/// Runs one or more SQL statements.
pub fn exec(app: &TestApp, sql: &str) {
    use diesel::connection::SimpleConnection;
    app.conn().batch_execute(sql).unwrap();
}

pub fn set_plan(app: &TestApp, slug: &str, plan: &str) {
    exec(
        app,
        &format!(
            "UPDATE subscriptions SET plan = '{plan}' WHERE organization_id = \
             (SELECT id FROM organizations WHERE slug = '{slug}')"
        ),
    );
}

pub fn org_id(app: &TestApp, slug: &str) -> Uuid {
    common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM organizations WHERE slug = '{slug}'"),
    )
}

pub fn user_id(app: &TestApp, email: &str) -> Uuid {
    common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM users WHERE email = '{email}'"),
    )
}

/// Signs up `email`, adds them to `slug` as `role` and switches them into it.
pub async fn join(app: &TestApp, slug: &str, name: &str, email: &str, role: &str) -> Client {
    let c = app.signup(name, email).await;
    app.verify_email(email);
    app.add_member(slug, email, role);
    let org = org_id(app, slug);
    let r = c
        .post("/orgs/switch", &[("org_id", &org.to_string())])
        .await;
    assert_eq!(r.status, 303, "switch into {slug}");
    c.get("/team").await;
    c
}

/// A member without a browser (a row only), returning their user id.
pub fn add_plain_member(app: &TestApp, slug: &str, email: &str, role: &str) -> Uuid {
    let name = email.split('@').next().unwrap_or("someone");
    exec(
        app,
        &format!(
            "INSERT INTO users (id, email, name, password_hash) VALUES (gen_random_uuid(), '{email}', '{name}', 'x')"
        ),
    );
    app.add_member(slug, email, role);
    user_id(app, email)
}

/// A pending invitation made directly, returning its id.
pub fn add_invitation(app: &TestApp, org: Uuid, email: &str) -> Uuid {
    common::uuid_of(
        &mut app.conn(),
        &format!(
            "INSERT INTO invitations (organization_id, id, email, role, token_hash, expires_at) \
             VALUES ('{org}', gen_random_uuid(), '{email}', 'MEMBER', decode(md5(random()::text), 'hex'), \
             now() + interval '7 days') RETURNING id"
        ),
    )
}

/// One text value from SQL (NULL as "").
pub fn text(app: &TestApp, sql: &str) -> String {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        t: Option<String>,
    }
    diesel::sql_query(format!("SELECT ({sql})::text AS t"))
        .get_result::<T>(&mut app.conn())
        .unwrap()
        .t
        .unwrap_or_default()
}

pub fn role_of(app: &TestApp, user: Uuid, org: Uuid) -> String {
    text(
        app,
        &format!(
            "SELECT role FROM organization_members WHERE user_id = '{user}' AND organization_id = '{org}'"
        ),
    )
}

/// A digest of memberships, invitations, organizations, audit events and
/// queued mail: equal before and after means nothing changed.
pub fn fingerprint(app: &TestApp) -> String {
    text(
        app,
        "SELECT md5(\
           coalesce((SELECT string_agg(m::text, ',' ORDER BY m.organization_id, m.user_id) FROM organization_members m), '') || \
           coalesce((SELECT string_agg(i::text, ',' ORDER BY i.organization_id, i.id) FROM invitations i), '') || \
           coalesce((SELECT string_agg(o::text, ',' ORDER BY o.id) FROM organizations o), '') || \
           (SELECT count(*) FROM audit_events)::text || '/' || (SELECT count(*) FROM mail_outbox)::text)",
    )
}

/// The newest audit event: (action, actor email, target, before, after).
pub fn last_event(app: &TestApp) -> (String, String, String, String, String) {
    let field = |col: &str| {
        text(
            app,
            &format!("SELECT {col} FROM audit_events e LEFT JOIN users u ON u.id = e.actor_user_id ORDER BY e.id DESC LIMIT 1"),
        )
    };
    (
        field("e.action"),
        field("u.email"),
        field("e.target"),
        field("e.before::text"),
        field("e.after::text"),
    )
}

pub fn events(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM audit_events")
}

/// The token of the newest invitation mail to `email`.
pub fn mailed_token(app: &TestApp, email: &str) -> String {
    let body = text(
        app,
        &format!(
            "SELECT body_text FROM mail_outbox WHERE to_email = '{email}' AND kind = 'invitation' \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
    );
    let re = regex::Regex::new(r"/invitations/([A-Za-z0-9_-]{43})").unwrap();
    re.captures(&body).expect("link in the invitation mail")[1].to_string()
}

/// Bytes that start like a PNG (the server sniffs the signature).
pub fn png(tail: &str) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(tail.as_bytes());
    bytes
}

/// Uploads `bytes` as the logo, as a browser's multipart form does
/// (CSRF token in the query string), or as HTMX.
pub async fn post_logo(c: &Client, bytes: &[u8], htmx: bool) -> crate::common::Resp {
    let boundary = "----LeadDashboardTestBoundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let path = format!("/settings/logo?csrf_token={}", c.csrf_token());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let headers: &[(&str, &str)] = if htmx { &[("HX-Request", "true")] } else { &[] };
    c.post_body(&path, &content_type, body, headers).await
}
