//! The demo organization: user behar@example.com, "Behar's Organization"
//! on a Professional trial with 45 leads and 30 days of history (messages sent
//! and a few failed, replies, a sequence with enrolments, a teammate and a
//! pending invitation) and conversations without a mail server (a demo
//! mailbox, replies, an automatic reply and a bounce), so a newcomer signs
//! in to something that looks used. `lead-dashboard demo` builds it again
//! from scratch.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::db::leads::NewLead;
use crate::db::schema::{leads, organization_members, organizations, users};
use crate::db::{accounts, orgs, wall, Tenant};
use crate::domain::roles::Role;
use crate::ids::{LeadId, OrgId, UserId};
use crate::{password, tokens};

mod conversations;
mod history;

pub use conversations::{DEMO_MAILBOX, NO_SERVER_REASON};

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

/// Creates the demo, or rebuilds it (a fresh organization and history, a
/// new password) when the demo user exists.
pub fn seed(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Seeded> {
    conn.transaction(|conn| {
        let password = tokens::random_token()[..16].to_string();
        let hash = password::hash(&password);
        if let Some(user) = accounts::find_by_email(conn, DEMO_EMAIL)? {
            diesel::update(users::table.find(user.id))
                .set(users::password_hash.eq(&hash))
                .execute(conn)?;
            remove_demo_organizations(conn, user.id)?;
            build(conn, user.id, now)?;
            return Ok(Seeded::PasswordReset { password });
        }
        let user = accounts::insert_user(conn, DEMO_NAME, DEMO_EMAIL, &hash)?
            .ok_or(diesel::result::Error::NotFound)?;
        diesel::update(users::table.find(user))
            .set(users::email_verified_at.eq(Some(now)))
            .execute(conn)?;
        build(conn, user, now)?;
        Ok(Seeded::Created { password })
    })
}

/// The demo organization with 30 days of history (`history`).
fn build(conn: &mut PgConnection, user: UserId, now: DateTime<Utc>) -> QueryResult<OrgId> {
    let org = orgs::create(conn, user, &orgs::default_name(DEMO_NAME), now)?;
    // The owner adds the leads and hands them out; the triggers that record
    // lead history name them for it.
    wall::enter_user(conn, user)?;
    let leads = insert_leads(conn, org, user, now)?;
    let tenant = Tenant::from_membership_row(org, user);
    history::fill(conn, tenant, &leads, now)?;
    conversations::fill(conn, &tenant, &leads, now)?;
    Ok(org)
}

/// Deletes the organizations the demo user owns (their rows go with them)
/// and the demo teammate, so `seed` can build them again.
fn remove_demo_organizations(conn: &mut PgConnection, user: UserId) -> QueryResult<()> {
    let owned = organization_members::table
        .filter(organization_members::user_id.eq(user))
        .filter(organization_members::role.eq(Role::Owner.as_str()))
        .select(organization_members::organization_id);
    diesel::delete(organizations::table.filter(organizations::id.eq_any(owned))).execute(conn)?;
    diesel::delete(users::table.filter(users::email.eq(history::TEAMMATE_EMAIL))).execute(conn)?;
    Ok(())
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
/// Where lead `i` is headed (`STATUSES[i % 5]`); `history` moves it there.
const STATUSES: &[&str] = &["new", "contacted", "replied", "qualified", "lost"];

/// The demo's leads, newest first, one every 16 hours or so: created on
/// most of the last 30 days.
fn insert_leads(
    conn: &mut PgConnection,
    org: OrgId,
    owner: UserId,
    now: DateTime<Utc>,
) -> QueryResult<Vec<(LeadId, DateTime<Utc>)>> {
    let tenant = Tenant::from_membership_row(org, owner);
    let ids: Vec<LeadId> = (0..DEMO_LEADS).map(|_| LeadId::new()).collect();
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
                // Each starts as New; `history` moves it along its path.
                leads::status.eq("new"),
                leads::tags.eq(vec![
                    if i % 3 == 0 { "priority" } else { "inbound" }.to_string()
                ]),
                leads::created_at.eq(created_at(i, now)),
            );
            (NewLead::of(&tenant, ids[i]), values)
        })
        .collect();
    let made = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, created_at(i, now)))
        .collect();
    diesel::insert_into(leads::table)
        .values(rows)
        .execute(conn)?;
    Ok(made)
}

/// When the `i`th lead (newest first) was added: 16 hours apart, with a
/// few minutes of variety so the list does not look machine-made.
fn created_at(i: usize, now: DateTime<Utc>) -> DateTime<Utc> {
    let i = i as i64;
    now - Duration::hours(16 * i) - Duration::minutes((i * 37) % 90)
}
