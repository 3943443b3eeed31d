//! Benchmark data: many organizations with leads, and one measured
//! organization (ENTERPRISE, ACTIVE) with a long usage history whose per-day
//! and per-month counters match its usage records. Rows are generated in SQL
//! (`generate_series`), so a million records take seconds.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz, Uuid as SqlUuid};

use crate::db::schema::{subscriptions, users};
use crate::db::{accounts, orgs};
use crate::domain::plans::Plan;
use crate::domain::subscription::Status;
use crate::ids::{OrgId, UserId};
use crate::{password, tokens};

/// What `seed` created: the sign-in of the measured organization's owner.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub email: String,
    pub password: String,
    pub org_slug: String,
}

/// Creates `orgs` organizations (each with its owner and `leads_per_org`
/// leads); the first gets `usage_records` usage records over the year before
/// `now`.
pub fn seed(
    conn: &mut PgConnection,
    orgs: usize,
    leads_per_org: usize,
    usage_records: usize,
    now: DateTime<Utc>,
) -> QueryResult<Seeded> {
    let run = &tokens::random_token()[..6].to_lowercase();
    let secret = tokens::random_token()[..16].to_string();
    let hash = password::hash(&secret);
    let mut measured = None;
    for i in 0..orgs.max(1) {
        conn.transaction(|conn| {
            let email = format!("bench-{run}-{i}@example.com");
            let name = format!("Bench {run} {i}");
            let user = accounts::insert_user(conn, &name, &email, &hash)?
                .ok_or(diesel::result::Error::NotFound)?;
            diesel::update(users::table.find(user))
                .set(users::email_verified_at.eq(Some(now)))
                .execute(conn)?;
            let org = orgs::create(conn, user, &orgs::default_name(&name), now)?;
            insert_leads(conn, org, user, leads_per_org, now)?;
            if i == 0 {
                make_enterprise(conn, org)?;
                insert_usage(conn, org, user, usage_records, now)?;
                let slug = org_slug(conn, org)?;
                measured = Some(Seeded {
                    email,
                    password: secret.clone(),
                    org_slug: slug,
                });
            }
            Ok::<_, diesel::result::Error>(())
        })?;
    }
    measured.ok_or(diesel::result::Error::NotFound)
}

fn org_slug(conn: &mut PgConnection, org: OrgId) -> QueryResult<String> {
    crate::db::schema::organizations::table
        .find(org)
        .select(crate::db::schema::organizations::slug)
        .first(conn)
}

fn make_enterprise(conn: &mut PgConnection, org: OrgId) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(org))
        .set((
            subscriptions::plan.eq(Plan::Enterprise),
            subscriptions::status.eq(Status::Active),
            subscriptions::trial_ends_at.eq(None::<chrono::DateTime<Utc>>),
            subscriptions::has_payment_method.eq(true),
        ))
        .execute(conn)
        .map(drop)
}

fn insert_leads(
    conn: &mut PgConnection,
    org: OrgId,
    owner: UserId,
    n: usize,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO leads (organization_id, id, first_name, last_name, email, company, status, owner_user_id, created_at)
         SELECT $1, gen_random_uuid(), 'Lead', 'No ' || g, 'lead' || g || '@bench.example', 'Company ' || (g % 97),
                (ARRAY['new','contacted','replied','qualified','lost'])[1 + g % 5], $2, $3 - g * interval '7 minutes'
         FROM generate_series(1, $4) g",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<SqlUuid, _>(owner)
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(n as i64)
    .execute(conn)
    .map(drop)
}

/// Usage records spread evenly over the last 365 days (half leads, half messages),
/// then the day and month counters rebuilt from them (UTC days: seeded
/// organizations keep the default time zone).
fn insert_usage(
    conn: &mut PgConnection,
    org: OrgId,
    user: UserId,
    n: usize,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO usage_records (organization_id, kind, user_id, occurred_at)
         SELECT $1, CASE WHEN g % 2 = 0 THEN 'lead_created' ELSE 'message_sent' END, $2,
                $3 - ((g - 1) * 525600 / $4) * interval '1 minute'
         FROM generate_series(1, $4) g",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<SqlUuid, _>(user)
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(n as i64)
    .execute(conn)?;
    for (period, trunc, kinds) in [
        ("day", "day", "'lead_created', 'message_sent', 'api_call'"),
        ("month", "month", "'lead_created'"),
    ] {
        diesel::sql_query(format!(
            "INSERT INTO usage_counters (organization_id, kind, period, period_start, count)
             SELECT organization_id, kind, $2, date_trunc('{trunc}', occurred_at AT TIME ZONE 'UTC')::date, count(*)
             FROM usage_records WHERE organization_id = $1 AND kind IN ({kinds})
             GROUP BY 1, 2, 4
             ON CONFLICT (organization_id, kind, period, period_start) DO UPDATE SET count = EXCLUDED.count"
        ))
        .bind::<SqlUuid, _>(org)
        .bind::<Text, _>(period)
        .execute(conn)?;
    }
    Ok(())
}
