//! The schema's tenancy rules, checked against the live catalogue the way a
//! sharding-key check would: every table with tenant data has
//! `organization_id NOT NULL`, an index leading with it, and only composite
//! foreign keys into other tenant tables. A new table that breaks a rule
//! fails this test.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use crate::common::TestDb;

/// Tables that hold no tenant data (accounts and the organizations themselves).
const PLATFORM: &[&str] = &[
    "users",
    "sessions",
    "rate_limits",
    "account_tokens",
    "organizations",
    "__diesel_schema_migrations",
];
/// Tables whose rows may be global (organization_id NULL): keyed by owner_key instead.
const GLOBAL_CAPABLE: &[&str] = &["message_templates", "sequences", "sequence_steps"];
/// Platform mail and provider events for unknown customers belong to no
/// organization (see docs/decisions.md).
const NULLABLE_ORG: &[&str] = &["mail_outbox", "payment_events"];
/// Columns that name the owning organization in a composite reference.
const OWNER_COLUMNS: &[&str] = &[
    "organization_id",
    "owner_key",
    "template_owner_key",
    "sequence_owner_key",
];

#[derive(QueryableByName, Debug)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName, Debug)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
}

#[derive(QueryableByName, Debug)]
struct LeadingIndex {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    first_column: String,
}

#[derive(QueryableByName, Debug)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    referenced: String,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    columns: Vec<String>,
}

fn tenant_tables(conn: &mut PgConnection) -> Vec<String> {
    diesel::sql_query(
        "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .load::<Table>(conn)
    .unwrap()
    .into_iter()
    .map(|t| t.name)
    .filter(|n| !PLATFORM.contains(&n.as_str()))
    .collect()
}

#[test]
fn every_tenant_table_is_keyed_and_referenced_by_organization() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let tables = tenant_tables(&mut conn);
    assert!(tables.len() >= 15, "tenant tables found: {tables:?}");
    let problems = violations(&mut conn);
    assert!(
        problems.is_empty(),
        "tenancy rule violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_catches_a_table_that_breaks_the_rules() {
    let db = TestDb::new();
    let mut conn = db.conn();
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        "CREATE TABLE notes_bad (id uuid PRIMARY KEY, organization_id uuid, lead_id uuid REFERENCES leads_one (id));",
    )
    .unwrap_err();
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        "CREATE TABLE notes_bad (id uuid PRIMARY KEY, organization_id uuid, lead_org uuid, lead_id uuid,
           FOREIGN KEY (lead_org, lead_id) REFERENCES leads (organization_id, id));
         CREATE TABLE no_org (id uuid PRIMARY KEY);",
    )
    .unwrap();
    let problems = violations(&mut conn).join("\n");
    assert!(
        problems.contains("notes_bad: organization_id is nullable"),
        "{problems}"
    );
    assert!(
        problems.contains("notes_bad: no index leads with organization_id"),
        "{problems}"
    );
    assert!(
        problems.contains("no_org: no organization_id column"),
        "{problems}"
    );
}

/// Every rule violation found in the live catalogue.
fn violations(conn: &mut PgConnection) -> Vec<String> {
    let tables = tenant_tables(conn);

    let org_columns: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text, (is_nullable = 'NO') AS not_null FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'organization_id'",
    )
    .load(conn)
    .unwrap();
    let leading: Vec<LeadingIndex> = diesel::sql_query(
        "SELECT c.relname::text AS table_name, a.attname::text AS first_column
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
    )
    .load(conn)
    .unwrap();
    let fks: Vec<ForeignKey> = diesel::sql_query(
        "SELECT con.conname::text AS name, c.relname::text AS table_name, r.relname::text AS referenced,
                ARRAY(SELECT a.attname::text FROM unnest(con.conkey) k JOIN pg_attribute a
                      ON a.attrelid = con.conrelid AND a.attnum = k) AS columns
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class r ON r.oid = con.confrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE con.contype = 'f' AND n.nspname = 'public'",
    )
    .load(conn)
    .unwrap();

    let mut problems = Vec::new();
    for table in &tables {
        let global = GLOBAL_CAPABLE.contains(&table.as_str());
        match org_columns.iter().find(|c| &c.table_name == table) {
            None => problems.push(format!("{table}: no organization_id column")),
            Some(c) if !c.not_null && !global && !NULLABLE_ORG.contains(&table.as_str()) => {
                problems.push(format!("{table}: organization_id is nullable"))
            }
            _ => {}
        }
        let key = if global {
            "owner_key"
        } else {
            "organization_id"
        };
        if !leading
            .iter()
            .any(|i| &i.table_name == table && i.first_column == key)
        {
            problems.push(format!("{table}: no index leads with {key}"));
        }
        for fk in fks
            .iter()
            .filter(|f| &f.table_name == table && tables.contains(&f.referenced))
        {
            if !fk
                .columns
                .iter()
                .any(|c| OWNER_COLUMNS.contains(&c.as_str()))
            {
                problems.push(format!(
                    "{table}: foreign key {} to {} is not composite with the organization",
                    fk.name, fk.referenced
                ));
            }
        }
    }
    problems
}

#[test]
fn a_step_cannot_use_another_organizations_template() {
    let db = TestDb::new();
    let mut conn = db.conn();
    diesel::connection::SimpleConnection::batch_execute(&mut conn,
        "INSERT INTO organizations (id, name, slug) VALUES
           ('00000000-0000-0000-0000-00000000000a', 'A', 'a'), ('00000000-0000-0000-0000-00000000000b', 'B', 'b');
         INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) VALUES
           ('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-0000000000b1', 'B only', 's', 'b');
         INSERT INTO sequences (organization_id, owner_key, id, name) VALUES
           ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-0000000000a1', 'A seq');").unwrap();
    let step = |owner: &str| {
        format!(
        "INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days)
         VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000a', gen_random_uuid(),
                 '00000000-0000-0000-0000-0000000000a1', 1, '{owner}', '00000000-0000-0000-0000-0000000000b1', 0)")
    };
    // Naming B as the template's owner breaks the CHECK; naming A breaks the foreign key.
    assert!(
        diesel::sql_query(step("00000000-0000-0000-0000-00000000000b"))
            .execute(&mut conn)
            .is_err()
    );
    assert!(
        diesel::sql_query(step("00000000-0000-0000-0000-00000000000a"))
            .execute(&mut conn)
            .is_err()
    );
    // A global template is fine.
    let global = "INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days)
         VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000a', gen_random_uuid(),
                 '00000000-0000-0000-0000-0000000000a1', 1, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000001', 0)";
    assert!(diesel::sql_query(global).execute(&mut conn).is_ok());
    // A lead of B cannot receive a message stored under A.
    let cross_message = "INSERT INTO leads (organization_id, id, first_name, email) VALUES
         ('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-0000000000b2', 'Bee', 'bee@b.example')";
    diesel::sql_query(cross_message).execute(&mut conn).unwrap();
    let msg = "INSERT INTO messages (organization_id, id, lead_id, to_email, subject, body) VALUES
         ('00000000-0000-0000-0000-00000000000a', gen_random_uuid(), '00000000-0000-0000-0000-0000000000b2', 'x', 's', 'b')";
    assert!(diesel::sql_query(msg).execute(&mut conn).is_err());
}
