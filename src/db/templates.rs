//! Message templates: the organization's own (editable, count-limited) and
//! the global ones (`owner_key` nil, read-only to everyone). Lookups see
//! exactly those two owners; another organization's template matches nothing.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::json;
use uuid::Uuid;

use crate::db::error::{DbError, DbResult};
use crate::db::schema::message_templates;
use crate::db::{audit, usage, Tenant};
use crate::domain::plans::LimitKind;
use crate::ids::{OrgId, TemplateId, GLOBAL_OWNER};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = message_templates)]
pub struct Template {
    pub organization_id: Option<OrgId>,
    pub owner_key: Uuid,
    pub id: TemplateId,
    pub name: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Template {
    pub fn is_global(&self) -> bool {
        self.owner_key == GLOBAL_OWNER
    }
}

/// A validated template (placeholders checked by the caller).
#[derive(Debug, Clone)]
pub struct TemplateFields {
    pub name: String,
    pub subject: String,
    pub body: String,
}

/// Templates the tenant may use: its own and the global ones.
fn visible<'a>(tenant: &Tenant) -> message_templates::BoxedQuery<'a, Pg> {
    message_templates::table
        .filter(message_templates::owner_key.eq_any(vec![tenant.owner_key(), GLOBAL_OWNER]))
        .into_boxed()
}

/// Own templates first, then global ones, each by name.
pub fn list(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<Template>> {
    let mut rows: Vec<Template> = visible(tenant)
        .order((message_templates::name.asc(), message_templates::id.asc()))
        .select(Template::as_select())
        .load(conn)?;
    rows.sort_by_key(|t| t.is_global());
    Ok(rows)
}

/// An own or global template; NotFound for any other.
pub fn find(conn: &mut PgConnection, tenant: &Tenant, id: TemplateId) -> QueryResult<Template> {
    visible(tenant)
        .filter(message_templates::id.eq(id))
        .select(Template::as_select())
        .first(conn)
}

/// A visible template as it is now, share-locked until the transaction ends
/// (so it cannot be deleted meanwhile); None when it is gone. Only own
/// templates are locked: no organization can delete a global one, and
/// row-level security lets a lock take only rows the organization may change.
pub fn lock_shared(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: TemplateId,
) -> QueryResult<Option<Template>> {
    let own = message_templates::table
        .find(own_key(tenant, id))
        .select(Template::as_select())
        .for_share()
        .first(conn)
        .optional()?;
    if own.is_some() {
        return Ok(own);
    }
    message_templates::table
        .find((GLOBAL_OWNER, id))
        .select(Template::as_select())
        .first(conn)
        .optional()
}

/// An own template (editable); global and foreign ones are NotFound.
pub fn find_own(conn: &mut PgConnection, tenant: &Tenant, id: TemplateId) -> QueryResult<Template> {
    message_templates::table
        .find(own_key(tenant, id))
        .select(Template::as_select())
        .first(conn)
}

fn own_key(tenant: &Tenant, id: TemplateId) -> (Uuid, TemplateId) {
    (tenant.owner_key(), id)
}

/// An own template as created: owned by the tenant's organization.
#[derive(Insertable)]
#[diesel(table_name = message_templates)]
struct NewTemplate<'a> {
    organization_id: Option<OrgId>,
    owner_key: Uuid,
    id: TemplateId,
    name: &'a str,
    subject: &'a str,
    body: &'a str,
}

/// Creates an own template after the templates limit allows one more
/// (`guard_count_limit` serialises concurrent creations). In a transaction.
pub fn create(
    conn: &mut PgConnection,
    tenant: &Tenant,
    fields: &TemplateFields,
    now: DateTime<Utc>,
) -> DbResult<Template> {
    usage::guard_count_limit(conn, tenant, LimitKind::Templates, now)?;
    let org = tenant.org_id();
    Ok(diesel::insert_into(message_templates::table)
        .values(NewTemplate {
            organization_id: Some(org),
            owner_key: tenant.owner_key(),
            id: TemplateId::new(),
            name: &fields.name,
            subject: &fields.subject,
            body: &fields.body,
        })
        .returning(Template::as_returning())
        .get_result(conn)?)
}

/// Updates an own template; global ones and other organizations' are NotFound.
pub fn update(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: TemplateId,
    fields: &TemplateFields,
    now: DateTime<Utc>,
) -> QueryResult<Template> {
    diesel::update(message_templates::table.find(own_key(tenant, id)))
        .set((
            message_templates::name.eq(&fields.name),
            message_templates::subject.eq(&fields.subject),
            message_templates::body.eq(&fields.body),
            message_templates::updated_at.eq(now),
        ))
        .returning(Template::as_returning())
        .get_result(conn)
}

/// Deletes an own template and records it in the audit log (caller's
/// transaction). A template still used by a sequence step is refused with a
/// clear message (the step's foreign key restricts it).
pub fn delete(conn: &mut PgConnection, tenant: &Tenant, id: TemplateId) -> DbResult<Template> {
    let result = conn.transaction(|conn| {
        diesel::delete(message_templates::table.find(own_key(tenant, id)))
            .returning(Template::as_returning())
            .get_result(conn)
    });
    match result {
        Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {
            Err(DbError::Conflict(
                "This template is used by a sequence step. Remove it from the sequence first."
                    .into(),
            ))
        }
        Err(other) => Err(other.into()),
        Ok(template) => {
            let before = json!({
                "id": template.id,
                "name": template.name,
                "subject": template.subject,
            });
            audit::record(
                conn,
                tenant,
                "template.deleted",
                &template.name,
                Some(before),
                None,
            )?;
            Ok(template)
        }
    }
}

/// Copies a visible template (usually a global one) into the organization.
pub fn copy(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: TemplateId,
    now: DateTime<Utc>,
) -> DbResult<Template> {
    let source = find(conn, tenant, id)?;
    let name: String = format!("{} (copy)", source.name)
        .chars()
        .take(120)
        .collect();
    create(
        conn,
        tenant,
        &TemplateFields {
            name,
            subject: source.subject,
            body: source.body,
        },
        now,
    )
}
