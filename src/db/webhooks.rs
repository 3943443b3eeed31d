//! Webhook endpoints, the event outbox and the delivery log of one
//! organization (docs/product.md, "Webhooks"). `emit` is called by the change that causes an
//! event, in its transaction: it writes one row per subscribed endpoint, or
//! nothing (after one indexed lookup) when no enabled endpoint wants the
//! type or the plan has no custom integrations. The worker's side (`claim_due`,
//! `record_attempt`, `prune`) runs on the system connection.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Jsonb, Text, Timestamptz, Uuid as SqlUuid};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::db::leads::Lead;
use crate::db::models::Subscription;
use crate::db::schema::{subscriptions, webhook_deliveries, webhook_endpoints, webhook_events};
use crate::db::team::{self, MemberRow};
use crate::db::{audit, Tenant};
use crate::domain::leads::LeadStatus;
use crate::domain::plans::Feature;
use crate::ids::{OrgId, UserId};
use crate::webhooks::events::{self, EventType};
use crate::webhooks::signing;

/// How long the secret before a rotation keeps signing.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;
/// How long attempts (and finished events) are kept.
pub const KEEP_DAYS: i64 = 30;
/// Rows the delivery log shows.
pub const LOG_ROWS: i64 = 100;

/// An endpoint as the pages show it (never its secret).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints, check_for_backend(Pg))]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    event_types: Vec<Option<String>>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Endpoint {
    /// The subscribed types; empty means all.
    pub fn event_types(&self) -> Vec<&str> {
        self.event_types
            .iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

/// What the endpoint form saves (already validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInput {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
}

impl EndpointInput {
    fn audit_json(&self) -> Value {
        json!({
            "url": self.url,
            "description": self.description,
            "event_types": self.event_types,
            "enabled": self.enabled,
        })
    }
}

/// True when the organization's plan includes custom integrations now.
pub fn plan_allows(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let sub = subscriptions::table
        .find(tenant.org_id())
        .select(Subscription::as_select())
        .first(conn)?;
    Ok(sub
        .effective_plan(now)
        .spec()
        .features
        .has(Feature::CustomIntegrations))
}

/// Writes the events of one change: `data` builds each event's `data`
/// (one event per element; it is only called when an endpoint wants them).
pub fn emit<F>(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: EventType,
    now: DateTime<Utc>,
    data: F,
) -> QueryResult<usize>
where
    F: FnOnce(&mut PgConnection) -> QueryResult<Vec<Value>>,
{
    if !subscribed(conn, tenant, kind)? || !plan_allows(conn, tenant, now)? {
        return Ok(0);
    }
    let data = data(conn)?;
    insert_events(conn, tenant, kind, &data, now, None)
}

/// `lead.*` for one lead (created, deleted).
pub fn lead_event(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: EventType,
    lead: &Lead,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    emit(conn, tenant, kind, now, |_| Ok(vec![events::lead(lead)]))
}

/// `lead.updated`, and `lead.status_changed` when the status is not `before`.
pub fn lead_updated(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: &Lead,
    before: Option<LeadStatus>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let mut n = lead_event(conn, tenant, EventType::LeadUpdated, lead, now)?;
    if let Some(from) = before.filter(|b| *b != lead.fields.status) {
        n += emit(conn, tenant, EventType::LeadStatusChanged, now, |_| {
            Ok(vec![events::lead_status_changed(lead, from.as_str())])
        })?;
    }
    Ok(n)
}

/// `lead.updated` for many leads at once (a bulk change), and
/// `lead.status_changed` for those whose status moved; each lead comes with
/// its status before the change.
pub fn leads_updated(
    conn: &mut PgConnection,
    tenant: &Tenant,
    changed: &[(Lead, LeadStatus)],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if changed.is_empty() {
        return Ok(0);
    }
    let mut n = emit(conn, tenant, EventType::LeadUpdated, now, |_| {
        Ok(changed.iter().map(|(l, _)| events::lead(l)).collect())
    })?;
    let moved: Vec<&(Lead, LeadStatus)> = changed
        .iter()
        .filter(|(l, before)| *before != l.fields.status)
        .collect();
    if !moved.is_empty() {
        n += emit(conn, tenant, EventType::LeadStatusChanged, now, |_| {
            Ok(moved
                .iter()
                .map(|(l, before)| events::lead_status_changed(l, before.as_str()))
                .collect())
        })?;
    }
    Ok(n)
}

/// `lead.deleted` for many leads at once (a bulk delete).
pub fn leads_deleted(
    conn: &mut PgConnection,
    tenant: &Tenant,
    deleted: &[Lead],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if deleted.is_empty() {
        return Ok(0);
    }
    emit(conn, tenant, EventType::LeadDeleted, now, |_| {
        Ok(deleted.iter().map(events::lead).collect())
    })
}

/// `member.joined` / `member.removed` for a member row.
pub fn member_event(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: EventType,
    m: &MemberRow,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    emit(conn, tenant, kind, now, |_| {
        Ok(vec![events::member(
            m.user_id(),
            &m.name,
            &m.email,
            m.role().as_str(),
        )])
    })
}

/// `member.joined` for `user`, read from the membership just written.
pub fn member_joined(
    conn: &mut PgConnection,
    tenant: &Tenant,
    user: UserId,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    emit(conn, tenant, EventType::MemberJoined, now, |c| {
        let members = team::members(c, tenant)?;
        Ok(members
            .iter()
            .filter(|m| m.user_id() == user)
            .map(|m| events::member(m.user_id(), &m.name, &m.email, m.role().as_str()))
            .collect())
    })
}

/// `subscription.updated` with the subscription as it is now.
pub fn subscription_updated(
    conn: &mut PgConnection,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    emit(conn, tenant, EventType::SubscriptionUpdated, now, |c| {
        let sub = subscriptions::table
            .find(tenant.org_id())
            .select(Subscription::as_select())
            .first(c)?;
        Ok(vec![events::subscription(&sub, now)])
    })
}

/// Whether an enabled endpoint of the organization wants `kind`.
fn subscribed(conn: &mut PgConnection, tenant: &Tenant, kind: EventType) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        scoped(tenant)
            .filter(webhook_endpoints::enabled.eq(true))
            // Empty: every type.
            .filter(
                webhook_endpoints::event_types
                    .eq(Vec::<String>::new())
                    .or(webhook_endpoints::event_types.contains(vec![kind.as_str().to_string()])),
            ),
    ))
    .get_result(conn)
}

/// One row per (event, subscribed enabled endpoint) in one statement, or,
/// with `only`, for that endpoint alone (the test event).
fn insert_events(
    conn: &mut PgConnection,
    tenant: &Tenant,
    kind: EventType,
    data: &[Value],
    now: DateTime<Utc>,
    only: Option<Uuid>,
) -> QueryResult<usize> {
    if data.is_empty() {
        return Ok(0);
    }
    // v7 ids in order, so events of one change keep their order per endpoint.
    let ids: Vec<Uuid> = data.iter().map(|_| Uuid::now_v7()).collect();
    diesel::sql_query(
        "INSERT INTO webhook_events
             (organization_id, id, event_id, endpoint_id, event_type, data, created_at, next_attempt_at)
         SELECT e.organization_id, gen_random_uuid(), ev.event_id, e.id, $2, ev.data, $3, $3
         FROM webhook_endpoints e, unnest($4::uuid[], $5::jsonb[]) AS ev(event_id, data)
         WHERE e.organization_id = $1 AND e.enabled
           AND ($6::uuid IS NULL AND (cardinality(e.event_types) = 0 OR $2 = ANY(e.event_types))
                OR e.id = $6)",
    )
    .bind::<SqlUuid, _>(tenant.org_id())
    .bind::<Text, _>(kind.as_str())
    .bind::<Timestamptz, _>(now)
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Jsonb>, _>(data.to_vec())
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(only)
    .execute(conn)
}

/// The organization's endpoints, oldest first.
pub fn list(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<Endpoint>> {
    scoped(tenant)
        .order((
            webhook_endpoints::created_at.asc(),
            webhook_endpoints::id.asc(),
        ))
        .select(Endpoint::as_select())
        .load(conn)
}

/// One endpoint; NotFound for other organizations' ids.
pub fn find(conn: &mut PgConnection, tenant: &Tenant, id: Uuid) -> QueryResult<Endpoint> {
    scoped(tenant)
        .filter(webhook_endpoints::id.eq(id))
        .select(Endpoint::as_select())
        .first(conn)
}

/// Creates an endpoint with a new secret (audited); returns it and the
/// secret, which is shown this once.
pub fn create(
    conn: &mut PgConnection,
    tenant: &Tenant,
    input: &EndpointInput,
    now: DateTime<Utc>,
) -> QueryResult<(Endpoint, String)> {
    let secret = signing::new_secret();
    let endpoint = diesel::insert_into(webhook_endpoints::table)
        .values((
            NewEndpoint {
                organization_id: tenant.org_id(),
                id: Uuid::now_v7(),
                secret: &secret,
                created_at: now,
                updated_at: now,
            },
            fields(input),
        ))
        .returning(Endpoint::as_returning())
        .get_result(conn)?;
    audit::record(
        conn,
        tenant,
        "webhook.created",
        &input.url,
        None,
        Some(input.audit_json()),
    )?;
    Ok((endpoint, secret))
}

/// The keys and secret of a new endpoint; `fields` adds the form's values.
#[derive(Insertable)]
#[diesel(table_name = webhook_endpoints)]
struct NewEndpoint<'a> {
    organization_id: OrgId,
    id: Uuid,
    secret: &'a str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

type Fields<'a> = (
    Eq<webhook_endpoints::url, &'a str>,
    Eq<webhook_endpoints::description, &'a str>,
    Eq<webhook_endpoints::event_types, &'a Vec<String>>,
    Eq<webhook_endpoints::enabled, bool>,
);

fn fields(input: &EndpointInput) -> Fields<'_> {
    (
        webhook_endpoints::url.eq(input.url.as_str()),
        webhook_endpoints::description.eq(input.description.as_str()),
        webhook_endpoints::event_types.eq(&input.event_types),
        webhook_endpoints::enabled.eq(input.enabled),
    )
}

/// Saves the form over an endpoint (audited). Enabling clears the reason it
/// was disabled and its failure run.
pub fn update(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: Uuid,
    input: &EndpointInput,
    now: DateTime<Utc>,
) -> QueryResult<Endpoint> {
    let before = find(conn, tenant, id)?;
    let endpoint = diesel::update(scoped_endpoints(tenant).filter(webhook_endpoints::id.eq(id)))
        .set((
            fields(input),
            webhook_endpoints::updated_at.eq(now),
            webhook_endpoints::disabled_reason.eq(None::<String>),
            webhook_endpoints::failing_since.eq(None::<DateTime<Utc>>),
        ))
        .returning(Endpoint::as_returning())
        .get_result(conn)?;
    let was = json!({
        "url": before.url, "description": before.description,
        "event_types": before.event_types(), "enabled": before.enabled,
    });
    audit::record(
        conn,
        tenant,
        "webhook.updated",
        &input.url,
        Some(was),
        Some(input.audit_json()),
    )?;
    Ok(endpoint)
}

/// A new secret; the old one keeps signing for 24 hours (audited).
pub fn rotate(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    let secret = signing::new_secret();
    let url: String = diesel::update(scoped_endpoints(tenant).filter(webhook_endpoints::id.eq(id)))
        .set((
            webhook_endpoints::previous_secret.eq(webhook_endpoints::secret.nullable()),
            webhook_endpoints::previous_secret_expires_at
                .eq(Some(now + Duration::hours(ROTATION_OVERLAP_HOURS))),
            webhook_endpoints::secret.eq(&secret),
            webhook_endpoints::updated_at.eq(now),
        ))
        .returning(webhook_endpoints::url)
        .get_result(conn)?;
    audit::record(conn, tenant, "webhook.secret_rotated", &url, None, None)?;
    Ok(secret)
}

/// Deletes an endpoint with its events and log (audited).
pub fn delete(conn: &mut PgConnection, tenant: &Tenant, id: Uuid) -> QueryResult<String> {
    let url: String = diesel::delete(scoped_endpoints(tenant).filter(webhook_endpoints::id.eq(id)))
        .returning(webhook_endpoints::url)
        .get_result(conn)?;
    audit::record(
        conn,
        tenant,
        "webhook.deleted",
        &url,
        Some(json!({ "url": url })),
        None,
    )?;
    Ok(url)
}

/// Queues a `webhook.test` event for this endpoint only.
pub fn send_test(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    find(conn, tenant, id)?;
    insert_events(
        conn,
        tenant,
        EventType::Test,
        &[events::test(id)],
        now,
        Some(id),
    )
}

/// One attempt as the delivery log shows it.
#[derive(Debug, Clone, Queryable)]
pub struct Attempt {
    pub id: Uuid,
    pub webhook_event_id: Uuid,
    pub event_type: String,
    pub event_status: String,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub response_body: String,
    pub error: Option<String>,
    pub succeeded: bool,
}

/// The newest attempts of an endpoint (only failed ones with `failed_only`).
pub fn attempts(
    conn: &mut PgConnection,
    tenant: &Tenant,
    endpoint: Uuid,
    failed_only: bool,
) -> QueryResult<Vec<Attempt>> {
    let mut query = scoped_deliveries(tenant)
        .inner_join(
            webhook_events::table.on(webhook_events::organization_id
                .eq(webhook_deliveries::organization_id)
                .and(webhook_events::id.eq(webhook_deliveries::webhook_event_id))),
        )
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .into_boxed();
    if failed_only {
        query = query.filter(webhook_deliveries::succeeded.eq(false));
    }
    query
        .order((
            webhook_deliveries::attempted_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .limit(LOG_ROWS)
        .select((
            webhook_deliveries::id,
            webhook_deliveries::webhook_event_id,
            webhook_events::event_type,
            webhook_events::status,
            webhook_deliveries::attempted_at,
            webhook_deliveries::status_code,
            webhook_deliveries::latency_ms,
            webhook_deliveries::response_body,
            webhook_deliveries::error,
            webhook_deliveries::succeeded,
        ))
        .load(conn)
}

/// Sends one event to its endpoint again (a fresh schedule); NotFound for
/// another organization's or another endpoint's event.
pub fn redeliver(
    conn: &mut PgConnection,
    tenant: &Tenant,
    endpoint: Uuid,
    event: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let n = requeue(conn, tenant, endpoint, now, |q| {
        q.filter(webhook_events::id.eq(event))
    })?;
    if n == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    Ok(n)
}

/// Sends again every failed event of the endpoint created since `since`.
pub fn redeliver_failed_since(
    conn: &mut PgConnection,
    tenant: &Tenant,
    endpoint: Uuid,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    find(conn, tenant, endpoint)?;
    requeue(conn, tenant, endpoint, now, |q| {
        q.filter(webhook_events::status.eq("failed"))
            .filter(webhook_events::created_at.ge(since))
    })
}

type EventsQuery<'a> = webhook_events::BoxedQuery<'a, Pg>;

fn requeue(
    conn: &mut PgConnection,
    tenant: &Tenant,
    endpoint: Uuid,
    now: DateTime<Utc>,
    pick: impl FnOnce(EventsQuery<'static>) -> EventsQuery<'static>,
) -> QueryResult<usize> {
    let ids: Vec<Uuid> =
        pick(scoped_events(tenant).filter(webhook_events::endpoint_id.eq(endpoint)))
            .select(webhook_events::id)
            .load(conn)?;
    diesel::update(scoped_event_rows(tenant).filter(webhook_events::id.eq_any(ids)))
        .set((
            webhook_events::status.eq("pending"),
            webhook_events::attempts.eq(0),
            webhook_events::next_attempt_at.eq(now),
            webhook_events::last_error.eq(None::<String>),
        ))
        .execute(conn)
}

/// A claimed event with where and how to send it (no `Debug`: it holds the secrets).
#[derive(Clone, QueryableByName)]
pub struct Due {
    #[diesel(sql_type = SqlUuid)]
    pub organization_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub event_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub endpoint_id: Uuid,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Jsonb)]
    pub data: Value,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub secret: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub previous_secret: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamptz>)]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl Due {
    pub fn org(&self) -> OrgId {
        OrgId(self.organization_id)
    }

    /// The secrets that sign now (the previous one during its overlap).
    pub fn secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut out = vec![self.secret.as_str()];
        if let (Some(old), Some(until)) = (&self.previous_secret, self.previous_secret_expires_at) {
            if now < until {
                out.push(old);
            }
        }
        out
    }

    /// The request body: the envelope around `data`.
    pub fn body(&self) -> String {
        events::envelope(
            self.event_id,
            &self.event_type,
            self.created_at,
            self.org(),
            &self.data,
        )
        .to_string()
    }
}

/// Claims the event due longest ago whose endpoint is enabled and has no
/// older pending event (per-endpoint order), `FOR UPDATE SKIP LOCKED`: a
/// concurrent worker skips it, and an endpoint's later events wait while an
/// earlier one is locked or pending.
pub fn claim_due(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Option<Due>> {
    diesel::sql_query(
        "SELECT w.organization_id, w.id, w.event_id, w.endpoint_id, w.event_type, w.data,
                w.created_at, w.attempts, e.url, e.secret, e.previous_secret,
                e.previous_secret_expires_at
         FROM webhook_events w
         JOIN webhook_endpoints e ON e.organization_id = w.organization_id AND e.id = w.endpoint_id
         WHERE w.status = 'pending' AND w.next_attempt_at <= $1 AND e.enabled
           AND NOT EXISTS (
               SELECT 1 FROM webhook_events p
               WHERE p.organization_id = w.organization_id AND p.endpoint_id = w.endpoint_id
                 AND p.status = 'pending'
                 AND (p.created_at, p.event_id, p.id) < (w.created_at, w.event_id, w.id))
         ORDER BY w.next_attempt_at, w.created_at, w.event_id
         LIMIT 1
         FOR UPDATE OF w SKIP LOCKED",
    )
    .bind::<Timestamptz, _>(now)
    .get_result(conn)
    .optional()
}

/// The outcome of one attempt.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub response_body: String,
    pub error: Option<String>,
    pub succeeded: bool,
}

/// A row of the delivery log, in the tenant's organization.
#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries)]
struct NewAttempt<'a> {
    organization_id: OrgId,
    id: Uuid,
    endpoint_id: Uuid,
    webhook_event_id: Uuid,
    attempted_at: DateTime<Utc>,
    status_code: Option<i32>,
    latency_ms: i32,
    response_body: &'a str,
    error: Option<&'a str>,
    succeeded: bool,
}

/// What the worker decided after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAt(DateTime<Utc>),
    Failed,
}

/// Logs the attempt and moves the event on; keeps the endpoint's failure
/// run. Returns true when this failure disabled the endpoint.
pub fn record_attempt(
    conn: &mut PgConnection,
    tenant: &Tenant,
    due: &Due,
    outcome: &Outcome,
    next: Next,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(NewAttempt {
            organization_id: tenant.org_id(),
            id: Uuid::now_v7(),
            endpoint_id: due.endpoint_id,
            webhook_event_id: due.id,
            attempted_at: now,
            status_code: outcome.status_code,
            latency_ms: outcome.latency_ms,
            response_body: &outcome.response_body,
            error: outcome.error.as_deref(),
            succeeded: outcome.succeeded,
        })
        .execute(conn)?;
    let (status, retry_at, delivered_at) = match next {
        Next::Delivered => ("delivered", now, Some(now)),
        Next::RetryAt(at) => ("pending", at, None),
        Next::Failed => ("failed", now, None),
    };
    diesel::update(scoped_event_rows(tenant).filter(webhook_events::id.eq(due.id)))
        .set((
            webhook_events::status.eq(status),
            webhook_events::attempts.eq(due.attempts + 1),
            webhook_events::next_attempt_at.eq(retry_at),
            webhook_events::last_error.eq(&outcome.error),
            webhook_events::delivered_at.eq(delivered_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks an event failed without an attempt (the plan lost the feature).
pub fn give_up(conn: &mut PgConnection, tenant: &Tenant, due: &Due, why: &str) -> QueryResult<()> {
    diesel::update(scoped_event_rows(tenant).filter(webhook_events::id.eq(due.id)))
        .set((
            webhook_events::status.eq("failed"),
            webhook_events::last_error.eq(Some(why)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Keeps the endpoint's failure run: cleared by a success, started by the
/// first failure. Returns the URL when the run has lasted `disable_after`
/// and the endpoint was just disabled for it.
pub fn track_failures(
    conn: &mut PgConnection,
    tenant: &Tenant,
    endpoint: Uuid,
    succeeded: bool,
    now: DateTime<Utc>,
    disable_after: Duration,
) -> QueryResult<Option<String>> {
    let target = scoped_endpoints(tenant).filter(webhook_endpoints::id.eq(endpoint));
    if succeeded {
        diesel::update(target)
            .set(webhook_endpoints::failing_since.eq(None::<DateTime<Utc>>))
            .execute(conn)?;
        return Ok(None);
    }
    let since: Option<DateTime<Utc>> = diesel::update(target)
        .set(
            webhook_endpoints::failing_since.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<Timestamptz>,
            >(
                "COALESCE(webhook_endpoints.failing_since, "
            )
            .bind::<Timestamptz, _>(now)
            .sql(")")),
        )
        .returning(webhook_endpoints::failing_since)
        .get_result(conn)?;
    if since.is_none_or(|s| now - s < disable_after) {
        return Ok(None);
    }
    let reason = format!(
        "Disabled automatically on {}: every delivery failed for 3 days.",
        now.format("%Y-%m-%d %H:%M UTC")
    );
    let url: String =
        diesel::update(scoped_endpoints(tenant).filter(webhook_endpoints::id.eq(endpoint)))
            .set((
                webhook_endpoints::enabled.eq(false),
                webhook_endpoints::disabled_reason.eq(Some(&reason)),
                webhook_endpoints::updated_at.eq(now),
            ))
            .returning(webhook_endpoints::url)
            .get_result(conn)?;
    audit::record(
        conn,
        tenant,
        "webhook.disabled",
        &url,
        None,
        Some(json!({ "reason": reason })),
    )?;
    Ok(Some(url))
}

/// Deletes attempts and finished events older than 30 days.
pub fn prune(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let cutoff = now - Duration::days(KEEP_DAYS);
    let attempts = diesel::delete(
        webhook_deliveries::table.filter(webhook_deliveries::attempted_at.lt(cutoff)),
    )
    .execute(conn)?;
    let events = diesel::delete(
        webhook_events::table
            .filter(webhook_events::status.ne("pending"))
            .filter(webhook_events::created_at.lt(cutoff)),
    )
    .execute(conn)?;
    Ok(attempts + events)
}

/// Every `webhook_endpoints` query of a tenant starts here.
fn scoped<'a>(tenant: &Tenant) -> webhook_endpoints::BoxedQuery<'a, Pg> {
    scoped_endpoints(tenant).into_boxed()
}

fn scoped_endpoints(
    tenant: &Tenant,
) -> Filter<webhook_endpoints::table, Eq<webhook_endpoints::organization_id, OrgId>> {
    webhook_endpoints::table.filter(webhook_endpoints::organization_id.eq(tenant.org_id()))
}

/// Every `webhook_events` query of a tenant starts here.
fn scoped_events<'a>(tenant: &Tenant) -> EventsQuery<'a> {
    scoped_event_rows(tenant).into_boxed()
}

/// The same, unboxed (for updates).
fn scoped_event_rows(
    tenant: &Tenant,
) -> Filter<webhook_events::table, Eq<webhook_events::organization_id, OrgId>> {
    webhook_events::table.filter(webhook_events::organization_id.eq(tenant.org_id()))
}

/// Every `webhook_deliveries` query of a tenant starts here.
fn scoped_deliveries(
    tenant: &Tenant,
) -> Filter<webhook_deliveries::table, Eq<webhook_deliveries::organization_id, OrgId>> {
    webhook_deliveries::table.filter(webhook_deliveries::organization_id.eq(tenant.org_id()))
}
