//! The demo's last 30 days: a Professional trial (so the API and webhooks
//! can be tried too), a teammate and a pending
//! invitation, an intro message to every lead past "New" (a few failed), a
//! follow-up to those who replied, leads moving New → Contacted → Replied →
//! Qualified (or Lost) over the days after they came in, and the newest
//! leads enrolled in a sequence. Usage is counted through `usage::consume_at` at the time each
//! thing happened, so the meters and the 30-day chart agree with the rows.
//! Deterministic: the same `now` gives the same history.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::Eq;
use diesel::prelude::*;

use crate::db::error::DbError;
use crate::db::schema::{
    leads, messages, organization_members, sequence_enrollments, subscriptions, users,
};
use crate::db::team::NewMember;
use crate::db::usage::{self, UsageKind};
use crate::db::{
    audit, enrollments, invitations, messages as sent, sequences, templates, wall, Tenant,
};
use crate::domain::plans::Plan;
use crate::domain::roles::Role;
use crate::ids::{LeadId, MessageId, OrgId, UserId};
use crate::{password, tokens};

/// The demo's teammate (no password anyone knows).
pub const TEAMMATE_EMAIL: &str = "maya.okafor@example.com";
const TEAMMATE_NAME: &str = "Maya Okafor";
/// The address with an open invitation.
const INVITEE_EMAIL: &str = "jonas.weber@example.com";
/// How many of the newest leads are enrolled in the sequence.
const ENROLLED: usize = 8;

/// Fills the demo organization of `tenant` (its owner acting) with history.
/// `leads` are the demo's leads, newest first, with their creation times.
pub fn fill(
    conn: &mut PgConnection,
    tenant: Tenant,
    leads: &[(LeadId, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(subscriptions::table.find(tenant.org_id()))
        .set(subscriptions::plan.eq(Plan::Professional.as_str()))
        .execute(conn)?;
    let teammate = add_teammate(conn, &tenant, now)?;
    invitations::create(conn, &tenant, INVITEE_EMAIL, Role::Member, now).map_err(query_error)?;
    for (i, (lead, at)) in leads.iter().enumerate() {
        let owner = owner_of(i, &tenant, teammate);
        diesel::update(
            leads::table
                .filter(scoped_leads(&tenant))
                .filter(leads::id.eq(lead)),
        )
        // Given to its owner a few minutes after it came in.
        .set((
            leads::owner_user_id.eq(owner),
            leads::updated_at.eq(*at + Duration::minutes(4)),
        ))
        .execute(conn)?;
        consume(conn, &tenant, UsageKind::LeadCreated, lead.0, *at)?;
    }
    send_history(conn, &tenant, teammate, leads, now)?;
    move_through_funnel(conn, &tenant, teammate, leads, now)?;
    enrol_newest(conn, &tenant, leads, now)
}

/// The statuses lead `i` reaches, with the hours after it was added: its
/// status in `super::STATUSES` is where it is headed.
fn path_for(i: usize) -> &'static [(i64, &'static str)] {
    match super::STATUSES[i % super::STATUSES.len()] {
        "contacted" => &[(3, "contacted")],
        "replied" => &[(3, "contacted"), (30, "replied")],
        "qualified" => &[(3, "contacted"), (30, "replied"), (60, "qualified")],
        "lost" => &[(3, "contacted"), (72, "lost")],
        _ => &[],
    }
}

/// Moves every lead along its path as far as `now`, one status change at a
/// time at the hour it happened, so the funnel, the reply rates and each
/// lead's timeline show how it got where it is (the status trigger records
/// each step; a reply is credited to the intro sent before it).
fn move_through_funnel(
    conn: &mut PgConnection,
    tenant: &Tenant,
    teammate: UserId,
    leads: &[(LeadId, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    for (i, (lead, created)) in leads.iter().enumerate() {
        // The lead's owner works it (the status trigger names them).
        if let Some(owner) = owner_of(i, tenant, teammate) {
            wall::enter_user(conn, owner)?;
        }
        for (hours, status) in path_for(i) {
            let at = *created + Duration::hours(*hours);
            if at > now {
                break;
            }
            diesel::update(
                leads::table
                    .filter(scoped_leads(tenant))
                    .filter(leads::id.eq(lead)),
            )
            .set((leads::status.eq(*status), leads::updated_at.eq(at)))
            .execute(conn)?;
        }
    }
    Ok(())
}

/// Every third lead is the teammate's.
fn owner_of(i: usize, tenant: &Tenant, teammate: UserId) -> Option<UserId> {
    if i % 3 == 1 {
        Some(teammate)
    } else {
        tenant.user_id()
    }
}

/// Maya joined 20 days ago, as a member who accepted an invitation.
fn add_teammate(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> QueryResult<UserId> {
    let hash = password::hash(&tokens::random_token());
    let user = crate::db::accounts::insert_user(conn, TEAMMATE_NAME, TEAMMATE_EMAIL, &hash)?
        .ok_or(diesel::result::Error::NotFound)?;
    let joined = now - Duration::days(20);
    diesel::update(users::table.find(user))
        .set(users::email_verified_at.eq(Some(joined)))
        .execute(conn)?;
    diesel::insert_into(organization_members::table)
        .values((
            NewMember::joining(tenant.org_id(), user, Role::Member),
            organization_members::joined_at.eq(joined),
        ))
        .execute(conn)?;
    let as_maya = Tenant::for_member(conn, tenant.org_id(), user)?;
    audit::record(
        conn,
        &as_maya,
        "invitation.accepted",
        TEAMMATE_EMAIL,
        None,
        Some(serde_json::json!({ "email": TEAMMATE_EMAIL, "role": "MEMBER" })),
    )?;
    Ok(user)
}

/// What the demo sends to lead `i` (by the status it is headed for):
/// nothing to "New" leads, an intro to the rest, a follow-up two days
/// later to those who replied or qualified; one intro in eleven bounced.
fn sends_for(i: usize) -> &'static [(i64, bool)] {
    match (i % 5, i % 11 == 3) {
        (0, _) => &[],
        (_, true) => &[(3, false)],
        (2 | 3, false) => &[(3, true), (51, true)],
        _ => &[(3, true)],
    }
}

/// Messages with global templates, sent `hours` after each lead was added
/// (those not yet due are left out), counted on the day they were sent.
fn send_history(
    conn: &mut PgConnection,
    tenant: &Tenant,
    teammate: UserId,
    leads: &[(LeadId, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let global: Vec<_> = templates::list(conn, tenant)?
        .into_iter()
        .filter(|t| t.is_global())
        .collect();
    let ids: Vec<LeadId> = leads.iter().map(|(id, _)| *id).collect();
    let rows = crate::db::leads::find_many(conn, tenant, &ids)?;
    for (i, (id, created)) in leads.iter().enumerate() {
        let Some(lead) = rows.iter().find(|l| l.id == *id) else {
            continue;
        };
        let sender = owner_of(i, tenant, teammate);
        let (sender_name, org_name) = sent::signature(conn, tenant, sender)?;
        for (n, (hours, delivered)) in sends_for(i).iter().enumerate() {
            let at = *created + Duration::hours(*hours);
            let Some(template) = global.get(n % global.len().max(1)) else {
                return Ok(());
            };
            if at > now {
                continue;
            }
            let text = sent::render(
                &template.subject,
                &template.body,
                lead,
                &sender_name,
                &org_name,
            )
            .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
            let message = MessageId::new();
            diesel::insert_into(messages::table)
                .values((
                    scoped_messages(tenant),
                    messages::id.eq(message),
                    messages::lead_id.eq(id),
                    messages::template_owner_key.eq(Some(template.owner_key)),
                    messages::template_id.eq(Some(template.id)),
                    messages::to_email.eq(&lead.fields.email),
                    messages::subject.eq(&text.subject),
                    messages::body.eq(&text.body),
                    messages::status.eq(if *delivered { "sent" } else { "failed" }),
                    messages::sender_user_id.eq(sender),
                    messages::error.eq((!delivered).then_some("550 5.1.1 Mailbox unavailable")),
                    messages::created_at.eq(at),
                    messages::sent_at.eq(delivered.then_some(at)),
                ))
                .execute(conn)?;
            consume(conn, tenant, UsageKind::MessageSent, message.0, at)?;
        }
    }
    Ok(())
}

/// The newest leads run through the first global sequence, their next step
/// due over the coming days.
fn enrol_newest(
    conn: &mut PgConnection,
    tenant: &Tenant,
    leads: &[(LeadId, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let Some(summary) = sequences::list(conn, tenant)?.into_iter().next() else {
        return Ok(());
    };
    let newest: Vec<LeadId> = leads.iter().take(ENROLLED).map(|(id, _)| *id).collect();
    enrollments::enrol(conn, tenant, &summary.sequence, &newest, now).map_err(query_error)?;
    // Spread the first steps over the coming days rather than all at start-up.
    for (i, lead) in newest.iter().enumerate() {
        let due = now + Duration::hours(5 + 9 * i as i64);
        diesel::update(
            sequence_enrollments::table
                .filter(scoped_enrollments(tenant))
                .filter(sequence_enrollments::lead_id.eq(lead)),
        )
        .set(sequence_enrollments::next_run_at.eq(Some(due)))
        .execute(conn)?;
    }
    Ok(())
}

/// The condition every demo `leads` row meets (its organization).
fn scoped_leads(tenant: &Tenant) -> Eq<leads::organization_id, OrgId> {
    leads::organization_id.eq(tenant.org_id())
}

/// The organization column of a demo message.
fn scoped_messages(tenant: &Tenant) -> Eq<messages::organization_id, OrgId> {
    messages::organization_id.eq(tenant.org_id())
}

/// The condition every demo enrolment meets.
fn scoped_enrollments(tenant: &Tenant) -> Eq<sequence_enrollments::organization_id, OrgId> {
    sequence_enrollments::organization_id.eq(tenant.org_id())
}

/// Counts one use at `at` (the local day and month of that moment).
fn consume(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: UsageKind,
    resource: uuid::Uuid,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    usage::consume_at(conn, tenant, kind, Some(resource), at).map_err(query_error)?;
    Ok(())
}

/// The demo is built in one transaction of plain queries: any other error
/// (a limit, say) means the demo data no longer fits the plan — a bug.
fn query_error(err: DbError) -> diesel::result::Error {
    match err {
        DbError::Query(e) => e,
        other => diesel::result::Error::QueryBuilderError(other.to_string().into()),
    }
}
