//! The demo organization: the original app's situation (user
//! behar@example.com, "Behar's Organization" on FREE/TRIAL, 45 leads), so a
//! newcomer has something to sign in to.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::db::leads::NewLead;
use crate::db::schema::{leads, users};
use crate::db::{accounts, orgs, Tenant};
use crate::ids::{LeadId, OrgId, UserId};
use crate::{password, tokens};

pub const DEMO_EMAIL: &str = "behar@example.com";
pub const DEMO_NAME: &str = "Behar";
pub const DEMO_LEADS: usize = 45;

/// What `seed` did.
pub enum Seeded {
    /// Created the demo; the password to print.
    Created { password: String },
    /// The demo user exists; its password was reset to this one.
    PasswordReset { password: String },
}

/// Creates the demo, or resets the demo user's password when it exists.
pub fn seed(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Seeded> {
    conn.transaction(|conn| {
        let password = tokens::random_token()[..16].to_string();
        let hash = password::hash(&password);
        if let Some(user) = accounts::find_by_email(conn, DEMO_EMAIL)? {
            diesel::update(users::table.find(user.id))
                .set(users::password_hash.eq(&hash))
                .execute(conn)?;
            return Ok(Seeded::PasswordReset { password });
        }
        let user = accounts::insert_user(conn, DEMO_NAME, DEMO_EMAIL, &hash)?
            .ok_or(diesel::result::Error::NotFound)?;
        diesel::update(users::table.find(user))
            .set(users::email_verified_at.eq(Some(now)))
            .execute(conn)?;
        let org = orgs::create(conn, user, &orgs::default_name(DEMO_NAME), now)?;
        insert_leads(conn, org, user, now)?;
        Ok(Seeded::Created { password })
    })
}

/// True when the database has no users at all (a fresh install).
pub fn is_empty(conn: &mut PgConnection) -> QueryResult<bool> {
    let any: Option<UserId> = users::table.select(users::id).first(conn).optional()?;
    Ok(any.is_none())
}

const FIRST: &[&str] = &[
    "Anna", "Ben", "Chloé", "David", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kira",
    "Luca", "Maya", "Nils", "Olga",
];
const LAST: &[&str] = &[
    "Berger", "Costa", "Dubois", "Eriksen", "Fischer", "Grant", "Horvat", "Ito", "Jansen",
];
const COMPANIES: &[&str] = &[
    "Northwind",
    "Acme Logistics",
    "Blue Fjord",
    "Kestrel Labs",
    "Orbital Foods",
    "Pinecone Health",
    "Quartz Legal",
    "Riverstone",
    "Solace Energy",
];
const TITLES: &[&str] = &[
    "Head of Sales",
    "CTO",
    "Operations Lead",
    "Founder",
    "VP Marketing",
];
const STATUSES: &[&str] = &["new", "contacted", "replied", "qualified", "lost"];

fn insert_leads(
    conn: &mut PgConnection,
    org: OrgId,
    owner: UserId,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let tenant = Tenant::from_membership_row(org, owner);
    let rows: Vec<_> = (0..DEMO_LEADS)
        .map(|i| {
            let first = FIRST[i % FIRST.len()];
            let last = LAST[i % LAST.len()];
            let company = COMPANIES[i % COMPANIES.len()];
            let domain = company.to_lowercase().replace(' ', "");
            let values = (
                leads::first_name.eq(first),
                leads::last_name.eq(last),
                leads::email.eq(format!(
                    "{}.{}{}@{}.example",
                    first.to_lowercase(),
                    last.to_lowercase(),
                    i,
                    domain
                )),
                leads::company.eq(company),
                leads::title.eq(TITLES[i % TITLES.len()]),
                leads::status.eq(STATUSES[i % STATUSES.len()]),
                leads::tags.eq(vec![
                    if i % 3 == 0 { "priority" } else { "inbound" }.to_string()
                ]),
                leads::created_at.eq(now - Duration::hours(37 * i as i64)),
            );
            (NewLead::of(&tenant, LeadId::new()), values)
        })
        .collect();
    diesel::insert_into(leads::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}
