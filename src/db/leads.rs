//! Leads of one organization: keyset-paginated list with search and filters,
//! create (counted as `lead_created`), edit, delete. Every query starts from
//! `scoped(tenant)`; an id of another organization matches nothing.

use chrono::{DateTime, Utc};
use diesel::deserialize::FromSql;
use diesel::dsl::sql;
use diesel::dsl::SqlTypeOf;
use diesel::dsl::{Eq, Filter};
use diesel::pg::{Pg, PgValue};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use serde_json::json;

use crate::db::error::DbResult;
use crate::db::schema::leads;
use crate::db::usage::{self, UsageKind};
use crate::db::{audit, cursor, unique_violation, webhooks, Tenant};
use crate::domain::leads::{LeadFields, LeadSource, LeadStatus};
use crate::forms::FieldErrors;
use crate::ids::{LeadId, OrgId, UserId};
use crate::webhooks::events::{self as hook_events, EventType};

/// Leads per page.
pub const PAGE_SIZE: i64 = 50;

/// The searched text; must match the expression of the `leads_search` index.
const SEARCH_EXPR: &str = "lower(first_name || ' ' || last_name || ' ' || email || ' ' || company)";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = leads, check_for_backend(Pg))]
pub struct Lead {
    pub id: LeadId,
    #[diesel(embed)]
    pub fields: LeadFields,
    pub owner_user_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A lead's own fields read from their columns (the mapping lives here, not
/// on the type, because `domain` knows no SQL).
impl Selectable<Pg> for LeadFields {
    type SelectExpression = (
        leads::first_name,
        leads::last_name,
        leads::email,
        leads::company,
        leads::title,
        leads::phone,
        leads::status,
        leads::tags,
        leads::notes,
        leads::time_zone,
    );

    fn construct_selection() -> Self::SelectExpression {
        Default::default()
    }
}

impl Queryable<SqlTypeOf<<LeadFields as Selectable<Pg>>::SelectExpression>, Pg> for LeadFields {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        LeadStatus,
        TagList,
        String,
        Option<String>,
    );

    fn build(row: Self::Row) -> diesel::deserialize::Result<Self> {
        Ok(LeadFields {
            first_name: row.0,
            last_name: row.1,
            email: row.2,
            company: row.3,
            title: row.4,
            phone: row.5,
            status: row.6,
            tags: row.7.into(),
            notes: row.8,
            time_zone: row.9.unwrap_or_default(),
        })
    }
}

/// `text[]` as stored (elements are never NULL; any that were would be skipped).
#[derive(Debug, Clone, Default, diesel::deserialize::FromSqlRow)]
pub struct TagList(Vec<String>);

impl FromSql<Array<Nullable<Text>>, Pg> for TagList {
    fn from_sql(bytes: PgValue<'_>) -> diesel::deserialize::Result<Self> {
        let raw: Vec<Option<String>> = FromSql::<Array<Nullable<Text>>, Pg>::from_sql(bytes)?;
        Ok(TagList(raw.into_iter().flatten().collect()))
    }
}

impl From<TagList> for Vec<String> {
    fn from(t: TagList) -> Vec<String> {
        t.0
    }
}

impl Lead {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.fields.first_name, self.fields.last_name)
            .trim()
            .to_string()
    }

    /// The position of this lead in the newest-first order.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// What the list shows: search text and filters (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadFilter {
    pub q: String,
    pub status: Option<LeadStatus>,
    pub tag: Option<String>,
    pub owner: Option<OwnerFilter>,
}

impl LeadFilter {
    /// No search, status, tag or owner: every lead.
    pub fn is_empty(&self) -> bool {
        self.q.trim().is_empty()
            && self.status.is_none()
            && self.tag.is_none()
            && self.owner.is_none()
    }
}

/// Whose leads a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerFilter {
    User(UserId),
    Unassigned,
}

impl OwnerFilter {
    /// The query-string form: a user id or `none`.
    pub fn as_param(self) -> String {
        match self {
            OwnerFilter::User(id) => id.to_string(),
            OwnerFilter::Unassigned => "none".into(),
        }
    }
}

/// A position in the newest-first lead (and message) list.
pub type Cursor = cursor::Cursor<LeadId>;
/// Where a page of the lead list starts.
pub type Position = cursor::Position<LeadId>;
pub use cursor::Page;

fn scoped<'a>(tenant: &Tenant) -> leads::BoxedQuery<'a, Pg> {
    scoped_leads(tenant).into_boxed()
}

/// `%text%` for LIKE, with the wildcard characters of `text` escaped.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn filtered<'a>(tenant: &Tenant, filter: &LeadFilter) -> leads::BoxedQuery<'a, Pg> {
    let mut query = scoped(tenant);
    let q = filter.q.trim();
    if !q.is_empty() {
        query = query.filter(
            sql::<Bool>(&format!("{SEARCH_EXPR} LIKE "))
                .bind::<Text, _>(like_pattern(q))
                .sql(" ESCAPE '\\'"),
        );
    }
    if let Some(status) = filter.status {
        query = query.filter(leads::status.eq(status));
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(leads::tags.contains(vec![tag.clone()]));
    }
    match filter.owner {
        Some(OwnerFilter::User(id)) => query = query.filter(leads::owner_user_id.eq(id)),
        Some(OwnerFilter::Unassigned) => query = query.filter(leads::owner_user_id.is_null()),
        None => {}
    }
    query
}

/// Gives lead `id` to `owner` (a member of the organization) or to nobody.
/// Refused with a clear message when `owner` is not a member, so a lead
/// never points at someone outside the organization. Audited.
pub fn set_owner(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: LeadId,
    owner: Option<UserId>,
    now: DateTime<Utc>,
) -> DbResult<Lead> {
    if let Some(user) = owner {
        if !crate::db::team::is_member(conn, tenant, user)? {
            return Err(crate::db::DbError::Invalid(
                "Choose a member of this organization as the owner.".into(),
            ));
        }
    }
    let before = find(conn, tenant, id)?;
    let lead = diesel::update(scoped_leads(tenant).filter(leads::id.eq(id)))
        .set((
            leads::owner_user_id.eq(owner),
            leads::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Lead::as_returning())
        .get_result(conn)?;
    audit::record(
        conn,
        tenant,
        "lead.owner_changed",
        &lead.full_name(),
        Some(json!({ "owner": before.owner_user_id })),
        Some(json!({ "owner": owner })),
    )?;
    webhooks::lead_event(conn, tenant, EventType::LeadUpdated, &lead, now)?;
    Ok(lead)
}

/// Hands every lead `from` owns to `to` (a member the caller has checked)
/// or to nobody, when `from` leaves the organization; returns how many.
pub fn hand_over(
    conn: &mut PgConnection,
    tenant: &Tenant,
    from: UserId,
    to: Option<UserId>,
) -> QueryResult<usize> {
    diesel::update(scoped_leads(tenant).filter(leads::owner_user_id.eq(from)))
        .set(leads::owner_user_id.eq(to))
        .execute(conn)
}

/// One page of leads, newest first, after `cursor`. Returns up to `limit`
/// rows plus whether more follow.
pub fn list(
    conn: &mut PgConnection,
    tenant: &Tenant,
    filter: &LeadFilter,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<(Vec<Lead>, bool)> {
    let page = list_page(conn, tenant, filter, after.into(), limit)?;
    Ok((page.rows, page.has_older))
}

/// One page of leads at `position` (older or newer than a cursor), newest
/// first. The row comparison `(created_at, id) < …` (or `>`) is an index
/// condition on `leads_newest` / `leads_status`, so a deep page costs the
/// same as the first.
pub fn list_page(
    conn: &mut PgConnection,
    tenant: &Tenant,
    filter: &LeadFilter,
    position: Position,
    limit: i64,
) -> QueryResult<Page<Lead>> {
    if filter.is_empty() && position.is_newest() {
        return newest_page(conn, tenant, limit);
    }
    let mut query = filtered(tenant, filter);
    if let Some((op, c)) = position.bound() {
        query = query.filter(
            sql::<Bool>(&format!("(leads.created_at, leads.id) {op} ("))
                .bind::<Timestamptz, _>(c.created_at)
                .sql(", ")
                .bind::<SqlUuid, _>(c.id)
                .sql(")"),
        );
    }
    query = if position.reads_newest_first() {
        query.order((leads::created_at.desc(), leads::id.desc()))
    } else {
        query.order((leads::created_at.asc(), leads::id.asc()))
    };
    let rows = query
        .limit(limit + 1)
        .select(Lead::as_select())
        .load(conn)?;
    Ok(Page::from_rows(rows, &position, limit))
}

/// The list as it opens: no filter, the newest leads. A statement of one
/// fixed shape (the filtered list is built per request, boxed), so diesel
/// keeps it prepared on each connection and PostgreSQL plans it once.
fn newest_page(conn: &mut PgConnection, tenant: &Tenant, limit: i64) -> QueryResult<Page<Lead>> {
    let rows = scoped_leads(tenant)
        .order((leads::created_at.desc(), leads::id.desc()))
        .limit(limit + 1)
        .select(Lead::as_select())
        .load(conn)?;
    Ok(Page::from_rows(rows, &Position::Newest, limit))
}

/// One lead of the tenant; NotFound for other organizations' ids.
pub fn find(conn: &mut PgConnection, tenant: &Tenant, id: LeadId) -> QueryResult<Lead> {
    scoped(tenant)
        .filter(leads::id.eq(id))
        .select(Lead::as_select())
        .first(conn)
}

/// Leads by id (for bulk actions); ids of other organizations are skipped.
pub fn find_many(
    conn: &mut PgConnection,
    tenant: &Tenant,
    ids: &[LeadId],
) -> QueryResult<Vec<Lead>> {
    scoped(tenant)
        .filter(leads::id.eq_any(ids.to_vec()))
        .select(Lead::as_select())
        .load(conn)
}

/// Ids of the leads matching `filter`, newest first: a bulk selection made
/// on the server from the list's filter, not from ids the browser sent.
pub fn matching_ids(
    conn: &mut PgConnection,
    tenant: &Tenant,
    filter: &LeadFilter,
) -> QueryResult<Vec<LeadId>> {
    filtered(tenant, filter)
        .order((leads::created_at.desc(), leads::id.desc()))
        .select(leads::id)
        .load(conn)
}

/// Which of `ids` are the tenant's leads, newest first.
pub fn existing_ids(
    conn: &mut PgConnection,
    tenant: &Tenant,
    ids: &[LeadId],
) -> QueryResult<Vec<LeadId>> {
    scoped(tenant)
        .filter(leads::id.eq_any(ids.to_vec()))
        .order((leads::created_at.desc(), leads::id.desc()))
        .select(leads::id)
        .load(conn)
}

/// The lead as it is now, share-locked until the transaction ends (so it
/// cannot be deleted meanwhile); None when it is gone.
pub fn lock_shared(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: LeadId,
) -> QueryResult<Option<Lead>> {
    scoped_leads(tenant)
        .filter(leads::id.eq(id))
        .select(Lead::as_select())
        .for_share()
        .first(conn)
        .optional()
}

/// A few leads to preview templates against (newest first).
pub fn recent(conn: &mut PgConnection, tenant: &Tenant, limit: i64) -> QueryResult<Vec<Lead>> {
    scoped(tenant)
        .order((leads::created_at.desc(), leads::id.desc()))
        .limit(limit)
        .select(Lead::as_select())
        .load(conn)
}

fn duplicate_email() -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add(
        "email",
        "A lead with this email already exists in your organization.",
    );
    errors
}

/// Creates a lead from `source` and counts it (`lead_created`); run inside a
/// transaction. A duplicate email is a field error; the monthly limit is `LimitReached`
/// (the caller's transaction then rolls back).
pub fn create(
    conn: &mut PgConnection,
    tenant: &Tenant,
    fields: &LeadFields,
    source: LeadSource,
    now: DateTime<Utc>,
) -> DbResult<Result<Lead, FieldErrors>> {
    let id = LeadId::new();
    // A savepoint, so a duplicate leaves the surrounding transaction usable.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(leads::table)
            .values((
                NewLead::of(tenant, id),
                values(fields),
                stamped(now),
                leads::source.eq(source.as_str()),
            ))
            .returning(Lead::as_returning())
            .get_result(conn)
    });
    let Some(lead) = unique_violation(inserted)? else {
        return Ok(Err(duplicate_email()));
    };
    usage::consume_at(
        conn,
        tenant,
        UsageKind::LeadCreated,
        Some(lead.id.uuid()),
        now,
    )?;
    webhooks::lead_event(conn, tenant, EventType::LeadCreated, &lead, now)?;
    Ok(Ok(lead))
}

/// The keys of a new lead: its organization (the tenant's) and owner (the
/// acting user); `values` adds the fields.
#[derive(Insertable)]
#[diesel(table_name = leads)]
pub(in crate::db) struct NewLead {
    organization_id: OrgId,
    id: LeadId,
    owner_user_id: Option<UserId>,
}

impl NewLead {
    pub(in crate::db) fn of(tenant: &Tenant, id: LeadId) -> NewLead {
        NewLead {
            organization_id: tenant.org_id(),
            id,
            owner_user_id: tenant.user_id(),
        }
    }
}

type Values<'a> = (
    diesel::dsl::Eq<leads::first_name, &'a str>,
    diesel::dsl::Eq<leads::last_name, &'a str>,
    diesel::dsl::Eq<leads::email, &'a str>,
    diesel::dsl::Eq<leads::company, &'a str>,
    diesel::dsl::Eq<leads::title, &'a str>,
    diesel::dsl::Eq<leads::phone, &'a str>,
    diesel::dsl::Eq<leads::status, LeadStatus>,
    diesel::dsl::Eq<leads::tags, &'a Vec<String>>,
    diesel::dsl::Eq<leads::notes, &'a str>,
    diesel::dsl::Eq<leads::time_zone, Option<&'a str>>,
);

fn values(f: &LeadFields) -> Values<'_> {
    (
        leads::first_name.eq(f.first_name.as_str()),
        leads::last_name.eq(f.last_name.as_str()),
        leads::email.eq(f.email.as_str()),
        leads::company.eq(f.company.as_str()),
        leads::title.eq(f.title.as_str()),
        leads::phone.eq(f.phone.as_str()),
        leads::status.eq(f.status),
        leads::tags.eq(&f.tags),
        leads::notes.eq(f.notes.as_str()),
        // Empty: no zone of its own (the organization's applies).
        leads::time_zone.eq(Some(f.time_zone.as_str()).filter(|z| !z.is_empty())),
    )
}

/// Replaces a lead's fields; NotFound for other organizations' ids, a field
/// error for an email another lead of the organization already has. A lead
/// now Replied or Lost leaves sequences that stop on reply (`db::stops`).
pub fn update(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: LeadId,
    fields: &LeadFields,
    now: DateTime<Utc>,
) -> DbResult<Result<Lead, FieldErrors>> {
    let before = scoped(tenant)
        .filter(leads::id.eq(id))
        .select(leads::status)
        .first(conn)
        .optional()?;
    let updated = conn.transaction(|conn| {
        let lead = diesel::update(scoped_leads(tenant).filter(leads::id.eq(id)))
            .set((values(fields), leads::updated_at.eq(now)))
            .returning(Lead::as_returning())
            .get_result(conn)?;
        crate::db::stops::after_status_change(conn, tenant, &lead, now)?;
        Ok(lead)
    });
    Ok(match unique_violation(updated)? {
        Some(lead) => {
            webhooks::lead_updated(conn, tenant, &lead, before, now)?;
            Ok(lead)
        }
        None => Err(duplicate_email()),
    })
}

/// Deletes a lead (its messages and enrolments go with it) and records who
/// deleted what in the audit log, in the caller's transaction; NotFound when
/// the id is not one of the tenant's leads.
pub fn delete(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: LeadId,
    now: DateTime<Utc>,
) -> QueryResult<Lead> {
    let lead = diesel::delete(scoped_leads(tenant).filter(leads::id.eq(id)))
        .returning(Lead::as_returning())
        .get_result(conn)?;
    let f = &lead.fields;
    let before = json!({
        "id": lead.id,
        "email": f.email,
        "first_name": f.first_name,
        "last_name": f.last_name,
        "company": f.company,
        "status": f.status.as_str(),
    });
    audit::record(conn, tenant, "lead.deleted", &f.email, Some(before), None)?;
    webhooks::lead_event(conn, tenant, EventType::LeadDeleted, &lead, now)?;
    Ok(lead)
}

/// The subset of `emails` that leads of the organization already use.
pub fn existing_emails(
    conn: &mut PgConnection,
    tenant: &Tenant,
    emails: &[String],
) -> QueryResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in emails.chunks(5000) {
        let mut part: Vec<String> = scoped(tenant)
            .filter(leads::email.eq_any(chunk.to_vec()))
            .select(leads::email)
            .load(conn)?;
        found.append(&mut part);
    }
    Ok(found)
}

/// Inserts already validated, already counted leads (CSV import).
pub fn insert_counted(
    conn: &mut PgConnection,
    tenant: &Tenant,
    rows: &[(LeadId, LeadFields)],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let mut inserted = 0;
    for chunk in rows.chunks(1000) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(id, f)| {
                (
                    NewLead::of(tenant, *id),
                    values(f),
                    stamped(now),
                    leads::source.eq(LeadSource::Csv.as_str()),
                )
            })
            .collect();
        inserted += diesel::insert_into(leads::table)
            .values(values)
            .execute(conn)?;
    }
    webhooks::emit(conn, tenant, EventType::LeadCreated, now, |_| {
        let owner = tenant.user_id();
        Ok(rows
            .iter()
            .map(|(id, f)| hook_events::imported_lead(*id, f, owner, now))
            .collect())
    })?;
    Ok(inserted)
}

/// The creation and change times of a new lead, from the app's clock.
fn stamped(
    now: DateTime<Utc>,
) -> (
    diesel::dsl::Eq<leads::created_at, DateTime<Utc>>,
    diesel::dsl::Eq<leads::updated_at, DateTime<Utc>>,
) {
    (leads::created_at.eq(now), leads::updated_at.eq(now))
}

/// Every `leads` query of a tenant starts here.
fn scoped_leads(tenant: &Tenant) -> Filter<leads::table, Eq<leads::organization_id, OrgId>> {
    leads::table.filter(scoped_leads_rows(tenant))
}

/// The condition every `leads` row of a tenant meets (for joined queries).
fn scoped_leads_rows(tenant: &Tenant) -> Eq<leads::organization_id, OrgId> {
    leads::organization_id.eq(tenant.org_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
