//! The second tenant wall: PostgreSQL row-level security. The tables are
//! found by walking the catalogue (every table with an `organization_id`
//! column, and `organizations`), never listed by hand: a new tenant table
//! without RLS fails here. Two organizations get a row in every such table;
//! then, as the app role, a session with no organization sees nothing and a
//! session in organization A can neither see, change, delete nor create a
//! row of B.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use uuid::Uuid;

use crate::common::TestDb;

#[derive(QueryableByName)]
pub(crate) struct TableRow {
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
    #[diesel(sql_type = Bool)]
    rls: bool,
    #[diesel(sql_type = Bool)]
    forced: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The tenant tables, from the catalogue.
pub(crate) fn tenant_tables(conn: &mut PgConnection) -> Vec<TableRow> {
    diesel::sql_query(
        "SELECT c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         WHERE c.relkind = 'r' AND (c.relname = 'organizations' OR EXISTS (
             SELECT FROM pg_attribute a WHERE a.attrelid = c.oid
             AND a.attname = 'organization_id' AND NOT a.attisdropped))
         ORDER BY 1",
    )
    .load(conn)
    .expect("catalogue")
}

/// The column naming a row's organization.
pub(crate) fn org_column(table: &str) -> &'static str {
    if table == "organizations" {
        "id"
    } else {
        "organization_id"
    }
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

/// One row in every tenant table for organization `org` (numbered `n` to keep
/// globally unique values apart).
pub(crate) fn fill_organization(conn: &mut PgConnection, org: Uuid, n: u32) {
    let (hook, event, mailbox) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (user, lead, tpl, seq, inv) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    conn.batch_execute(&format!(
        "INSERT INTO users (id, email, name, password_hash) VALUES ('{user}', 'u{n}@example.com', 'U', 'x');
         INSERT INTO organizations (id, name, slug) VALUES ('{org}', 'Org {n}', 'org-{n}');
         INSERT INTO organization_members (organization_id, user_id, role) VALUES ('{org}', '{user}', 'OWNER');
         INSERT INTO subscriptions (organization_id, plan, status, current_period_start, current_period_end)
             VALUES ('{org}', 'FREE', 'ACTIVE', now(), now() + interval '30 days');
         INSERT INTO api_keys (organization_id, id, name, prefix, key_hash)
             VALUES ('{org}', gen_random_uuid(), 'key', 'pre{n}', '\\x0{n}');
         INSERT INTO api_idempotency_keys (organization_id, idempotency_key, request_hash, created_at)
             VALUES ('{org}', 'k{n}', '\\x0{n}', now());
         INSERT INTO audit_events (organization_id, actor_label, action) VALUES ('{org}', 'U', 'lead.deleted');
         INSERT INTO invitations (organization_id, id, email, role, token_hash, expires_at)
             VALUES ('{org}', gen_random_uuid(), 'i{n}@example.com', 'MEMBER', '\\x1{n}', now() + interval '1 day');
         INSERT INTO invoices (organization_id, id, number, year, seq, total_cents, period_start, period_end)
             VALUES ('{org}', '{inv}', 'T-{n}', 2026, {n}, 100, now(), now());
         INSERT INTO invoice_lines (organization_id, id, invoice_id, description, quantity, unit_cents, amount_cents)
             VALUES ('{org}', gen_random_uuid(), '{inv}', 'Plan', 1, 100, 100);
         INSERT INTO lead_imports (organization_id, id, filename, content, expires_at)
             VALUES ('{org}', gen_random_uuid(), 'leads.csv', '\\x00', now() + interval '1 day');
         INSERT INTO leads (organization_id, id, first_name, email) VALUES ('{org}', '{lead}', 'L', 'l{n}@example.com');
         INSERT INTO limit_overrides (organization_id, limit_kind) VALUES ('{org}', 'users');
         INSERT INTO mail_outbox (id, organization_id, kind, to_email, subject, body_text)
             VALUES (gen_random_uuid(), '{org}', 'message', 'l{n}@example.com', 'S', 'B');
         INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body)
             VALUES ('{org}', '{org}', '{tpl}', 'T', 'S', 'B');
         INSERT INTO messages (organization_id, id, lead_id, to_email, subject, body)
             VALUES ('{org}', gen_random_uuid(), '{lead}', 'l{n}@example.com', 'S', 'B');
         INSERT INTO notices (organization_id, id, user_id, kind, message, dedupe_key)
             VALUES ('{org}', gen_random_uuid(), '{user}', 'usage', 'M', 'd{n}');
         INSERT INTO payment_events (event_id, organization_id, type, provider_created_at)
             VALUES ('evt_{n}', '{org}', 'invoice.paid', now());
         INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{org}', '{org}', '{seq}', 'S');
         INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days)
             VALUES ('{org}', '{org}', gen_random_uuid(), '{seq}', 1, '{org}', '{tpl}', 0);
         INSERT INTO sequence_enrollments (organization_id, id, lead_id, sequence_owner_key, sequence_id)
             VALUES ('{org}', gen_random_uuid(), '{lead}', '{org}', '{seq}');
         INSERT INTO usage_counters (organization_id, kind, period, period_start)
             VALUES ('{org}', 'lead_created', 'day', current_date);
         INSERT INTO usage_records (organization_id, kind) VALUES ('{org}', 'lead_created');
         INSERT INTO webhook_endpoints (organization_id, id, url, secret, created_at, updated_at)
             VALUES ('{org}', '{hook}', 'https://h{n}.example/', 'whsec_x', now(), now());
         INSERT INTO webhook_events (organization_id, id, event_id, endpoint_id, event_type, data, created_at, next_attempt_at)
             VALUES ('{org}', '{event}', gen_random_uuid(), '{hook}', 'lead.created', '{{}}', now(), now());
         INSERT INTO webhook_deliveries (organization_id, id, endpoint_id, webhook_event_id, attempted_at, latency_ms, succeeded)
             VALUES ('{org}', gen_random_uuid(), '{hook}', '{event}', now(), 1, true);
         INSERT INTO suppressions (organization_id, id, email_hash, reason, created_at)
             VALUES ('{org}', gen_random_uuid(), '\\x0{n}', 'forgotten', now());
         INSERT INTO unsubscribe_tokens (organization_id, token_hash, lead_id, email_hash, created_at)
             VALUES ('{org}', '\\x0{n}', '{lead}', '\\x0{n}', now());
         INSERT INTO org_exports (organization_id, id, status, created_at) VALUES ('{org}', gen_random_uuid(), 'failed', now());
         INSERT INTO stripe_operations (organization_id, id, kind, target, next_attempt_at, created_at)
             VALUES ('{org}', gen_random_uuid(), 'cancel_subscription', 'sub_{n}', now(), now());
         INSERT INTO lead_bulk_jobs (organization_id, id, action, lead_ids, total, created_at)
             VALUES ('{org}', gen_random_uuid(), 'delete', ARRAY['{lead}']::uuid[], 1, now());
         INSERT INTO lead_status_changes (organization_id, lead_id, from_status, to_status, changed_at)
             VALUES ('{org}', '{lead}', 'new', 'contacted', now());
         INSERT INTO lead_edits (organization_id, lead_id, changes, changed_at)
             VALUES ('{org}', '{lead}', '{{\"company\": {{\"from\": \"A\", \"to\": \"B\"}}}}', now());
         INSERT INTO analytics_daily (organization_id, day, metric, dim, count)
             VALUES ('{org}', current_date - 400, 'lead_created', 'page', 1);
         INSERT INTO mailboxes (organization_id, id, display_name, email, smtp_host, smtp_port,
                 smtp_security, smtp_username, smtp_password, imap_host, imap_port, imap_security,
                 imap_username, imap_password, created_at, updated_at)
             VALUES ('{org}', '{mailbox}', 'M', 'm{n}@example.com', 'smtp.example.com', 465, 'tls',
                 'm', '\\x0{n}', 'imap.example.com', 993, 'tls', 'm', '\\x0{n}', now(), now());
         INSERT INTO mailbox_states (organization_id, mailbox_id) VALUES ('{org}', '{mailbox}');
         INSERT INTO inbound_messages (organization_id, id, mailbox_id, kind, lead_id, dedupe_key,
                 received_at, created_at)
             VALUES ('{org}', gen_random_uuid(), '{mailbox}', 'reply', '{lead}', 'd{n}', now(), now());
         INSERT INTO sequence_senders (organization_id, sequence_owner_key, sequence_id, mode, updated_at)
             VALUES ('{org}', '{org}', '{seq}', 'mailboxes', now());
         INSERT INTO sequence_mailboxes (organization_id, sequence_owner_key, sequence_id, mailbox_id)
             VALUES ('{org}', '{org}', '{seq}', '{mailbox}');"
    ))
    .expect("fixture rows");
}

/// Becomes the role requests run as, in organization `org` (or none).
fn as_app(conn: &mut PgConnection, org: Option<Uuid>) {
    let org = org.map(|o| o.to_string()).unwrap_or_default();
    conn.batch_execute(&format!(
        "SET ROLE lead_dashboard_app; SET app.organization_id = '{org}'; SET app.user_id = ''"
    ))
    .expect("set role");
}

/// Runs `sql` in a savepoint that is rolled back; the error text, if any.
fn attempt(conn: &mut PgConnection, sql: &str) -> Result<usize, String> {
    conn.transaction::<usize, diesel::result::Error, _>(|c| {
        let n = diesel::sql_query(sql).execute(c)?;
        Err(diesel::result::Error::RollbackTransaction).or(Ok(n))
    })
    .map_err(|e| e.to_string())
}

/// Columns that can be written (not generated), for copying a row.
fn writable_columns(conn: &mut PgConnection, table: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Col {
        #[diesel(sql_type = Text)]
        name: String,
    }
    diesel::sql_query(
        "SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass
         AND attnum > 0 AND NOT attisdropped AND attgenerated = '' AND attidentity = ''
         ORDER BY attnum",
    )
    .bind::<Text, _>(table)
    .load::<Col>(conn)
    .expect("columns")
    .into_iter()
    .map(|c| c.name)
    .collect()
}

/// `INSERT … SELECT` copying one of A's rows with B's organization.
fn copy_into_other(conn: &mut PgConnection, table: &str, a: Uuid, b: Uuid) -> String {
    let cols = writable_columns(conn, table);
    let key = org_column(table);
    let exprs: Vec<String> = cols
        .iter()
        .map(|c| match c.as_str() {
            c if c == key || c.ends_with("owner_key") => {
                format!("CASE WHEN {c} = '{a}' THEN '{b}'::uuid ELSE {c} END")
            }
            other => other.to_string(),
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {table} WHERE {key} = '{a}' LIMIT 1",
        cols.join(", "),
        exprs.join(", ")
    )
}

#[test]
fn every_tenant_table_is_walled_by_row_level_security() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    fill_organization(&mut conn, a, 1);
    fill_organization(&mut conn, b, 2);
    let tables = tenant_tables(&mut conn);
    assert!(
        tables.len() >= 20,
        "catalogue walk found {} tables",
        tables.len()
    );

    let unwalled: Vec<_> = tables
        .iter()
        .filter(|t| !(t.rls && t.forced))
        .map(|t| t.name.as_str())
        .collect();
    assert!(
        unwalled.is_empty(),
        "RLS not enabled and forced on {unwalled:?}"
    );

    // The fixture must reach every table, or the checks below prove nothing.
    let owner_counts: Vec<(String, i64, i64)> = tables
        .iter()
        .map(|t| {
            let key = org_column(&t.name);
            let of = |o: Uuid| format!("SELECT count(*) AS n FROM {} WHERE {key} = '{o}'", t.name);
            (
                t.name.clone(),
                count(&mut conn, &of(a)),
                count(&mut conn, &of(b)),
            )
        })
        .collect();
    let empty: Vec<_> = owner_counts
        .iter()
        .filter(|(_, na, nb)| *na == 0 || *nb == 0)
        .map(|(t, ..)| t.as_str())
        .collect();
    assert!(
        empty.is_empty(),
        "the fixture has no rows in {empty:?}: add them"
    );

    as_app(&mut conn, None);
    for t in &tables {
        let key = org_column(&t.name);
        let sql = format!(
            "SELECT count(*) AS n FROM {} WHERE {key} IS NOT NULL",
            t.name
        );
        assert_eq!(
            count(&mut conn, &sql),
            0,
            "{} visible with no organization set",
            t.name
        );
    }

    as_app(&mut conn, Some(a));
    for (table, own, _) in &owner_counts {
        let key = org_column(table);
        let visible_b = format!("SELECT count(*) AS n FROM {table} WHERE {key} = '{b}'");
        assert_eq!(
            count(&mut conn, &visible_b),
            0,
            "{table}: B's rows visible from A"
        );
        let visible_a = format!("SELECT count(*) AS n FROM {table} WHERE {key} = '{a}'");
        assert_eq!(
            count(&mut conn, &visible_a),
            *own,
            "{table}: A's own rows hidden"
        );

        let touch_b = format!("UPDATE {table} SET {key} = {key} WHERE {key} = '{b}'");
        assert_eq!(
            attempt(&mut conn, &touch_b),
            Ok(0),
            "{table}: B's rows updatable"
        );
        let delete_b = format!("DELETE FROM {table} WHERE {key} = '{b}'");
        assert_eq!(
            attempt(&mut conn, &delete_b),
            Ok(0),
            "{table}: B's rows deletable"
        );

        let move_to_b = format!("UPDATE {table} SET {key} = '{b}' WHERE {key} = '{a}'");
        let moved = attempt(&mut conn, &move_to_b);
        assert!(
            moved
                .as_ref()
                .is_err_and(|e| e.contains("row-level security")),
            "{table}: moving A's rows into B gave {moved:?}"
        );
        let insert_b = copy_into_other(&mut conn, table, a, b);
        let inserted = attempt(&mut conn, &insert_b);
        assert!(
            inserted
                .as_ref()
                .is_err_and(|e| e.contains("row-level security")),
            "{table}: creating a row of B gave {inserted:?}"
        );
    }
}

#[test]
fn global_rows_are_readable_by_all_and_written_by_none() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let a = Uuid::new_v4();
    fill_organization(&mut conn, a, 1);
    let nil = Uuid::nil();
    let globals = "SELECT count(*) AS n FROM message_templates WHERE organization_id IS NULL";
    let provided = count(&mut conn, globals);
    conn.batch_execute(&format!(
        "INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body)
         VALUES (NULL, '{nil}', gen_random_uuid(), 'Global', 'S', 'B')"
    ))
    .unwrap();
    as_app(&mut conn, Some(a));
    assert_eq!(
        count(&mut conn, globals),
        provided + 1,
        "global templates hidden"
    );
    let edit = "UPDATE message_templates SET name = 'Mine' WHERE organization_id IS NULL";
    let delete = "DELETE FROM message_templates WHERE organization_id IS NULL";
    assert_eq!(
        attempt(&mut conn, delete),
        Ok(0),
        "global template deletable"
    );
    assert_eq!(attempt(&mut conn, edit), Ok(0), "global template editable");
    let add = format!(
        "INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body)
         VALUES (NULL, '{nil}', gen_random_uuid(), 'Planted', 'S', 'B')"
    );
    let planted = attempt(&mut conn, &add);
    assert!(
        planted
            .as_ref()
            .is_err_and(|e| e.contains("row-level security")),
        "a request planted a global template: {planted:?}"
    );
}

#[test]
fn the_wall_check_fails_on_a_table_without_row_level_security() {
    let db = TestDb::new();
    let mut conn = db.conn();
    conn.batch_execute(
        "CREATE TABLE planted (organization_id uuid NOT NULL);
         ALTER TABLE leads NO FORCE ROW LEVEL SECURITY",
    )
    .unwrap();
    let tables = tenant_tables(&mut conn);
    let unwalled: Vec<_> = tables
        .iter()
        .filter(|t| !(t.rls && t.forced))
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(unwalled, ["leads", "planted"]);
}

/// `Db::run` (how every handler reaches PostgreSQL) runs as the app role in
/// the request's scope; with no scope nothing is visible; `Db::system`
/// (jobs and the CLI) sees every organization.
#[actix_rt::test]
async fn handler_connections_see_only_their_scope_and_jobs_see_all() {
    use lead_dashboard::db::wall::{self, Scope};
    use lead_dashboard::db::{Db, DbError, SystemAccess};
    use lead_dashboard::ids::OrgId;

    let db = TestDb::new();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    fill_organization(&mut db.conn(), a, 1);
    fill_organization(&mut db.conn(), b, 2);
    // One connection, so every step below reuses it: what one use set up
    // must never carry over into the next.
    let pool = Db::connect(&db.url, 1, std::time::Duration::from_secs(5));
    let leads = |pool: Db| async move {
        pool.run(|conn| -> Result<i64, DbError> {
            Ok(count(conn, "SELECT count(*) AS n FROM leads"))
        })
        .await
    };
    let in_a = Scope::new(Some(OrgId(a)), None);
    assert_eq!(wall::within(in_a, leads(pool.clone())).await.unwrap(), 1);
    assert_eq!(
        leads(pool.clone()).await.unwrap(),
        0,
        "no scope, yet rows visible"
    );
    // The same pooled connections, now checked out by a job.
    let access = SystemAccess::grant_at_startup();
    let mut system = pool.system(&access).unwrap();
    assert_eq!(count(&mut system, "SELECT count(*) AS n FROM leads"), 2);
    drop(system);
    assert_eq!(
        leads(pool.clone()).await.unwrap(),
        0,
        "a job's checkout leaked into a request"
    );
    let in_b = Scope::new(Some(OrgId(b)), None);
    let only_b = format!("SELECT count(*) AS n FROM leads WHERE organization_id = '{b}'");
    let seen = wall::within(in_b, async {
        pool.run(move |conn| -> Result<(i64, i64), DbError> {
            Ok((
                count(conn, "SELECT count(*) AS n FROM leads"),
                count(conn, &only_b),
            ))
        })
        .await
    })
    .await;
    assert_eq!(
        seen.unwrap(),
        (1, 1),
        "organization B's request saw A's rows"
    );
}

/// A deployment whose database user is not a superuser (a managed
/// PostgreSQL): it owns the database, runs the migrations, and its jobs still
/// see every organization through `lead_dashboard_system`, while requests
/// see only their own. Superusers bypass RLS, so this is the case that shows
/// FORCE and the system policy work.
#[actix_rt::test]
async fn a_non_superuser_owner_migrates_and_both_sides_of_the_wall_work() {
    use lead_dashboard::config::Config;
    use lead_dashboard::db::wall::{self, Scope};
    use lead_dashboard::db::DbError;
    use lead_dashboard::ids::OrgId;

    let owner = format!("ld_owner_{}", Uuid::new_v4().simple());
    let name = format!("ld_t_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(&crate::common::admin_url()).unwrap();
    for statement in [
        format!("CREATE ROLE {owner} LOGIN CREATEROLE PASSWORD 'owner-secret'"),
        format!("CREATE DATABASE {name} OWNER {owner}"),
    ] {
        admin.batch_execute(&statement).unwrap();
    }
    let mut url = url::Url::parse(&crate::common::admin_url()).unwrap();
    url.set_username(&owner).unwrap();
    url.set_password(Some("owner-secret")).unwrap();
    url.set_path(&name);
    let url = url.to_string();

    let migrated = lead_dashboard::server::connect_and_migrate(
        &url,
        &Config::for_tests(&url),
        std::time::Duration::from_secs(30),
    );
    let outcome = match migrated {
        Ok((db, access)) => {
            let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
            let mut system = db.system(&access).unwrap();
            let superuser = count(
                &mut system,
                "SELECT count(*) AS n FROM pg_roles WHERE rolname = current_user AND rolsuper",
            );
            fill_organization(&mut system, a, 1);
            fill_organization(&mut system, b, 2);
            let all = count(&mut system, "SELECT count(*) AS n FROM leads");
            drop(system);
            let in_a = Scope::new(Some(OrgId(a)), None);
            let seen = wall::within(
                in_a,
                db.run(|conn| -> Result<i64, DbError> {
                    Ok(count(conn, "SELECT count(*) AS n FROM leads"))
                }),
            )
            .await;
            Ok((superuser, all, seen.map_err(|e| e.to_string())))
        }
        Err(e) => Err(e),
    };
    for statement in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("DROP ROLE IF EXISTS {owner}"),
    ] {
        admin.batch_execute(&statement).unwrap();
    }
    let (superuser, all, seen) = outcome.expect("migrations as a non-superuser owner");
    assert_eq!(superuser, 0, "the owner must not be a superuser here");
    assert_eq!(all, 2, "the owner's jobs must see every organization");
    assert_eq!(seen, Ok(1), "a request must see only its organization");
}
