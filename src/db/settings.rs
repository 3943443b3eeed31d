//! Organization settings: name, slug, time zone and (white label) brand name
//! and colour. `save` locks the organization row, writes only what changed and
//! records one `settings.updated` event with the old and new values.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{Map, Value};

use crate::db::error::DbResult;
use crate::db::schema::organizations;
use crate::db::{audit, unique_violation, Tenant};

/// The editable settings of an organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Queryable)]
pub struct OrgSettings {
    pub name: String,
    pub slug: String,
    pub time_zone: String,
    pub brand_name: Option<String>,
    pub brand_color: Option<String>,
}

type Columns = (
    organizations::name,
    organizations::slug,
    organizations::time_zone,
    organizations::brand_name,
    organizations::brand_color,
);

const COLUMNS: Columns = (
    organizations::name,
    organizations::slug,
    organizations::time_zone,
    organizations::brand_name,
    organizations::brand_color,
);

/// The tenant's organization settings.
pub fn load(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<OrgSettings> {
    organizations::table
        .find(tenant.org_id())
        .select(COLUMNS)
        .first(conn)
}

/// What `save` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Changed,
    Unchanged,
    SlugTaken,
}

/// The fields that differ, as (before, after) JSON objects.
fn diff(old: &OrgSettings, new: &OrgSettings) -> (Map<String, Value>, Map<String, Value>) {
    let pairs = [
        ("name", Some(&old.name), Some(&new.name)),
        ("slug", Some(&old.slug), Some(&new.slug)),
        ("time_zone", Some(&old.time_zone), Some(&new.time_zone)),
        (
            "brand_name",
            old.brand_name.as_ref(),
            new.brand_name.as_ref(),
        ),
        (
            "brand_color",
            old.brand_color.as_ref(),
            new.brand_color.as_ref(),
        ),
    ];
    let (mut before, mut after) = (Map::new(), Map::new());
    for (key, was, now) in pairs {
        if was != now {
            before.insert(
                key.into(),
                was.map_or(Value::Null, |v| Value::from(v.as_str())),
            );
            after.insert(
                key.into(),
                now.map_or(Value::Null, |v| Value::from(v.as_str())),
            );
        }
    }
    (before, after)
}

fn slug_taken(conn: &mut PgConnection, tenant: &Tenant, slug: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        organizations::table
            .filter(organizations::slug.eq(slug))
            .filter(organizations::id.ne(tenant.org_id())),
    ))
    .get_result(conn)
}

/// Saves validated settings. Without white label the brand fields are left
/// as they are. A slug used by another organization is `SlugTaken`.
pub fn save(
    conn: &mut PgConnection,
    tenant: &Tenant,
    new: &OrgSettings,
    white_label: bool,
    now: DateTime<Utc>,
) -> DbResult<Saved> {
    let org = tenant.org_id();
    let old: OrgSettings = organizations::table
        .find(org)
        .select(COLUMNS)
        .for_update()
        .first(conn)?;
    let mut new = new.clone();
    if !white_label {
        new.brand_name = old.brand_name.clone();
        new.brand_color = old.brand_color.clone();
    }
    let (before, after) = diff(&old, &new);
    if after.is_empty() {
        return Ok(Saved::Unchanged);
    }
    if new.slug != old.slug && slug_taken(conn, tenant, &new.slug)? {
        return Ok(Saved::SlugTaken);
    }
    // A savepoint, so a slug taken at the same moment is a field error, not a failed transaction.
    let updated = unique_violation(conn.transaction(|c| {
        diesel::update(organizations::table.find(org))
            .set((
                organizations::name.eq(&new.name),
                organizations::slug.eq(&new.slug),
                organizations::time_zone.eq(&new.time_zone),
                organizations::brand_name.eq(&new.brand_name),
                organizations::brand_color.eq(&new.brand_color),
                organizations::updated_at.eq(now),
            ))
            .execute(c)
    }))?;
    if updated.is_none() {
        return Ok(Saved::SlugTaken);
    }
    audit::record(
        conn,
        tenant,
        "settings.updated",
        &new.name,
        Some(Value::Object(before)),
        Some(Value::Object(after)),
    )?;
    Ok(Saved::Changed)
}

/// A logo as stored: content type and bytes.
pub struct Logo {
    pub content_type: String,
    pub data: Vec<u8>,
}

fn describe(logo: Option<(&str, usize)>) -> Value {
    match logo {
        Some((ct, len)) => Value::from(format!("{ct}, {} KB", len.div_ceil(1024))),
        None => Value::Null,
    }
}

/// Replaces (or with `None` removes) the organization's logo and records it
/// as a `settings.updated` event. Returns false when there was nothing to remove.
pub fn set_logo(
    conn: &mut PgConnection,
    tenant: &Tenant,
    logo: Option<&Logo>,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    let org = tenant.org_id();
    let (old_type, old_len): (Option<String>, Option<i32>) = organizations::table
        .find(org)
        .select((
            organizations::logo_content_type,
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Integer>>(
                "octet_length(logo_data)",
            ),
        ))
        .for_update()
        .first(conn)?;
    if logo.is_none() && old_type.is_none() {
        return Ok(false);
    }
    diesel::update(organizations::table.find(org))
        .set((
            organizations::logo_content_type.eq(logo.map(|l| l.content_type.as_str())),
            organizations::logo_data.eq(logo.map(|l| l.data.as_slice())),
            organizations::updated_at.eq(now),
        ))
        .execute(conn)?;
    let before = describe(
        old_type
            .as_deref()
            .map(|t| (t, old_len.unwrap_or(0) as usize)),
    );
    let after = describe(logo.map(|l| (l.content_type.as_str(), l.data.len())));
    let name: String = organizations::table
        .find(org)
        .select(organizations::name)
        .first(conn)?;
    audit::record(
        conn,
        tenant,
        "settings.updated",
        &name,
        Some(serde_json::json!({ "logo": before })),
        Some(serde_json::json!({ "logo": after })),
    )?;
    Ok(true)
}

/// The tenant's logo, if one is stored.
pub fn logo(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Option<Logo>> {
    let row: (Option<String>, Option<Vec<u8>>) = organizations::table
        .find(tenant.org_id())
        .select((organizations::logo_content_type, organizations::logo_data))
        .first(conn)?;
    Ok(match row {
        (Some(content_type), Some(data)) => Some(Logo { content_type, data }),
        _ => None,
    })
}
