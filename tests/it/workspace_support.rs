//! Helpers for the workspace tests: an organization with one member per
//! role (and a MEMBER without flags), leads and templates made with SQL, and
//! small queries for assertions.

#![allow(dead_code)]

use diesel::{PgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::common::{uuid_of, Client, TestApp};

pub const OWNER_SLUG: &str = "owen-s-organization";

pub fn exec(app: &TestApp, sql: &str) {
    diesel::sql_query(sql)
        .execute(&mut app.conn())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

pub fn org_id(app: &TestApp, slug: &str) -> Uuid {
    uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM organizations WHERE slug = '{slug}'"),
    )
}

/// The owner of a fresh organization (slug `owen-s-organization`), verified.
pub async fn owner(app: &TestApp) -> Client {
    let c = app.signup("Owen", "owen@example.com").await;
    app.verify_email("owen@example.com");
    forget_account_mail(app);
    c
}

/// Sign-up queues a verification email; the workspace tests count only
/// their own mail, so it is dropped here.
fn forget_account_mail(app: &TestApp) {
    exec(app, "DELETE FROM mail_outbox WHERE kind = 'account'");
}

/// A user of `slug` with `role` (flags: leads, send, templates), working in it.
pub async fn member(app: &TestApp, slug: &str, name: &str, role: &str, flags: [bool; 3]) -> Client {
    let email = format!("{}@example.com", name.to_lowercase());
    let c = app.signup(name, &email).await;
    app.verify_email(&email);
    forget_account_mail(app);
    app.add_member(slug, &email, role);
    exec(
        app,
        &format!(
            "UPDATE organization_members SET can_manage_leads = {}, can_send_messages = {}, can_manage_templates = {} \
             WHERE user_id = (SELECT id FROM users WHERE email = '{email}')",
            flags[0], flags[1], flags[2]
        ),
    );
    let org = org_id(app, slug).to_string();
    let r = c.post("/orgs/switch", &[("org_id", &org)]).await;
    assert_eq!(r.status, 303, "switch into {slug}");
    c.get("/leads").await;
    c
}

/// Everyone: (label, client, may act) for a permission checked by `flag`
/// (0 leads, 1 send, 2 templates).
pub async fn role_matrix(app: &TestApp, flag: usize) -> Vec<(&'static str, Client, bool)> {
    let mut none = [true; 3];
    none[flag] = false;
    vec![
        (
            "admin",
            member(app, OWNER_SLUG, "Ada", "ADMIN", [true; 3]).await,
            true,
        ),
        (
            "member",
            member(app, OWNER_SLUG, "Mia", "MEMBER", [true; 3]).await,
            true,
        ),
        (
            "member without flag",
            member(app, OWNER_SLUG, "Nia", "MEMBER", none).await,
            false,
        ),
        (
            "viewer",
            member(app, OWNER_SLUG, "Vic", "VIEWER", [true; 3]).await,
            false,
        ),
    ]
}

/// A lead made with SQL; returns its id.
pub fn insert_lead(app: &TestApp, slug: &str, first: &str, email: &str) -> Uuid {
    let id = Uuid::now_v7();
    exec(
        app,
        &format!(
            "INSERT INTO leads (organization_id, id, first_name, last_name, email, company, title) \
             SELECT id, '{id}', '{first}', 'Test', '{email}', 'Acme', 'CTO' FROM organizations WHERE slug = '{slug}'"
        ),
    );
    id
}

/// An own template made with SQL; returns its id.
pub fn insert_template(app: &TestApp, slug: &str, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    exec(
        app,
        &format!(
            "INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) \
             SELECT id, id, '{id}', '{name}', 'Hi {{{{first_name}}}}', 'Hello {{{{first_name}}}} at {{{{company}}}}' \
             FROM organizations WHERE slug = '{slug}'"
        ),
    );
    id
}

pub fn set_plan(app: &TestApp, slug: &str, plan: &str) {
    exec(
        app,
        &format!(
            "UPDATE subscriptions SET plan = '{plan}', status = 'ACTIVE' \
             WHERE organization_id = (SELECT id FROM organizations WHERE slug = '{slug}')"
        ),
    );
}

pub fn override_limit(app: &TestApp, slug: &str, kind: &str, value: i64) {
    exec(
        app,
        &format!(
            "INSERT INTO limit_overrides (organization_id, limit_kind, value) \
             SELECT id, '{kind}', {value} FROM organizations WHERE slug = '{slug}'"
        ),
    );
}

pub fn conn(app: &TestApp) -> PgConnection {
    app.conn()
}

/// Global template and sequence ids shipped with the schema.
pub const GLOBAL_INTRO: &str = "00000000-0000-7000-8000-000000000001";
pub const GLOBAL_SEQUENCE: &str = "00000000-0000-7000-8000-000000000101";
