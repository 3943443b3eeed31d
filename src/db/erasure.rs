//! Erasure of a person ("Forget this lead", docs/product.md, "Data rights"): the lead, its
//! messages (bodies included) and enrolments, the mail queued or kept for
//! those messages, and whatever came back from or about the address
//! (replies, auto-replies, bounce reports), and API responses kept for
//! replays that name the lead, are deleted in one transaction; what stays is the
//! salted hash of the address on the suppression list, so an import cannot
//! bring the person back silently, and an audit event without their data.

use chrono::{DateTime, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use serde_json::json;

use crate::db::schema::{inbound_messages, leads, mail_outbox, messages, sequence_enrollments};
use crate::db::suppression::{self, Reason};
use crate::db::{audit, idempotency, leads as lead_rows, Tenant};
use crate::ids::{LeadId, MessageId, OrgId};

/// Forgets lead `id` of the tenant (NotFound for another organization's).
/// Run inside the caller's transaction.
pub fn forget_lead(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: LeadId,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let lead = lead_rows::find(conn, tenant, id)?;
    suppression::suppress_lead(conn, tenant, &lead, Reason::Forgotten, now)?;
    suppression::detach_links(conn, tenant, id)?;
    let message_ids: Vec<MessageId> = scoped_messages(tenant)
        .filter(messages::lead_id.eq(id))
        .select(messages::id)
        .load(conn)?;
    // Queued mail would still reach them, sent mail keeps their address and
    // the body: both go.
    diesel::delete(scoped_mail_outbox(tenant).filter(mail_outbox::message_id.eq_any(&message_ids)))
        .execute(conn)?;
    // Their replies go with the lead (a foreign key); mail about the address
    // that matched no lead row (a bounce report) goes by the address.
    let email = lead.fields.email.to_lowercase();
    diesel::delete(
        scoped_inbound(tenant).filter(
            inbound_messages::lead_id
                .eq(id)
                .or(inbound_messages::from_email
                    .eq(&email)
                    .or(inbound_messages::bounce_recipient.eq(&email))),
        ),
    )
    .execute(conn)?;
    let enrolments =
        diesel::delete(scoped_enrollments(tenant).filter(sequence_enrollments::lead_id.eq(id)))
            .execute(conn)?;
    let messages =
        diesel::delete(scoped_messages(tenant).filter(messages::lead_id.eq(id))).execute(conn)?;
    diesel::delete(scoped_leads(tenant).filter(leads::id.eq(id))).execute(conn)?;
    // An API response kept for replays may carry the lead.
    idempotency::forget_responses_naming(conn, tenant, &[&id.to_string(), &email])?;
    let after = json!({ "messages": messages, "enrolments": enrolments });
    audit::record(
        conn,
        tenant,
        "lead.forgotten",
        &id.to_string(),
        None,
        Some(after),
    )
}

fn scoped_messages(
    tenant: &Tenant,
) -> Filter<messages::table, Eq<messages::organization_id, OrgId>> {
    messages::table.filter(messages::organization_id.eq(tenant.org_id()))
}

fn scoped_mail_outbox(
    tenant: &Tenant,
) -> Filter<mail_outbox::table, diesel::dsl::Eq<mail_outbox::organization_id, OrgId>> {
    mail_outbox::table.filter(mail_outbox::organization_id.eq(tenant.org_id()))
}

fn scoped_enrollments(
    tenant: &Tenant,
) -> Filter<sequence_enrollments::table, Eq<sequence_enrollments::organization_id, OrgId>> {
    sequence_enrollments::table.filter(sequence_enrollments::organization_id.eq(tenant.org_id()))
}

fn scoped_inbound(
    tenant: &Tenant,
) -> Filter<inbound_messages::table, Eq<inbound_messages::organization_id, OrgId>> {
    inbound_messages::table.filter(inbound_messages::organization_id.eq(tenant.org_id()))
}

fn scoped_leads(tenant: &Tenant) -> Filter<leads::table, Eq<leads::organization_id, OrgId>> {
    leads::table.filter(leads::organization_id.eq(tenant.org_id()))
}
