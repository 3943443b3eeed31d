//! Organizations: creation (with subscription and OWNER membership), the
//! user's list for the switcher, and the dashboard figures. Slugs are unique
//! and URL-safe; a taken one gets a numeric suffix.

use chrono::{DateTime, Duration, Months, Utc};
use diesel::dsl::Eq;
use diesel::prelude::*;

use crate::db::models::{Organization, Subscription};
use crate::db::schema::{
    invitations, leads, message_templates, organization_members, organizations,
    sequence_enrollments, sequences, subscriptions,
};
use crate::db::team::NewMember;
use crate::db::{wall, Tenant};
use crate::domain::plans::Plan;
use crate::domain::roles::Role;
use crate::domain::subscription::{Status, TRIAL_DAYS};
use crate::ids::{OrgId, UserId};

/// "Behar" → "Behar's Organization".
pub fn default_name(user_name: &str) -> String {
    format!("{}'s Organization", user_name.trim())
}

/// "Behar's Organization" → "behar-s-organization": lowercase ASCII letters
/// and digits separated by single dashes.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(50).collect();
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() {
        "org".into()
    } else {
        slug
    }
}

/// First free slug among `base`, `base-2`, `base-3`, … Slugs are unique
/// across organizations, so this reads every organization's slug (and only
/// that column).
fn free_slug(conn: &mut PgConnection, base: &str) -> QueryResult<String> {
    let taken: Vec<String> = wall::lifted(conn, |conn| {
        organizations::table
            .filter(organizations::slug.like(format!("{base}%")))
            .select(organizations::slug)
            .load(conn)
    })?;
    if !taken.iter().any(|s| s == base) {
        return Ok(base.to_string());
    }
    let n = (2..)
        .find(|n| !taken.contains(&format!("{base}-{n}")))
        .unwrap_or(2);
    Ok(format!("{base}-{n}"))
}

/// How often a slug taken between the look-up and the insert is looked up
/// again before a random suffix settles it.
const SLUG_TRIES: usize = 5;

/// Inserts the organization row with the first free slug. Two sign-ups with
/// the same name can both find the same slug free: the second insert waits
/// for the first, finds the slug taken (`ON CONFLICT DO NOTHING`, so the
/// transaction stays usable) and looks again.
fn insert_with_free_slug(conn: &mut PgConnection, id: OrgId, name: &str) -> QueryResult<String> {
    let base = slugify(name);
    for attempt in 0..=SLUG_TRIES {
        let slug = if attempt < SLUG_TRIES {
            free_slug(conn, &base)?
        } else {
            let tail = &id.uuid().simple().to_string()[..8];
            let head: String = base.chars().take(50).collect();
            format!("{}-{tail}", head.trim_end_matches('-'))
        };
        let inserted = diesel::insert_into(organizations::table)
            .values((
                organizations::id.eq(id),
                organizations::name.eq(name),
                organizations::slug.eq(&slug),
            ))
            .on_conflict(organizations::slug)
            .do_nothing()
            .execute(conn)?;
        if inserted == 1 {
            return Ok(slug);
        }
    }
    Err(diesel::result::Error::RollbackTransaction)
}

/// Creates an organization on FREE with a 14-day trial, owned by `owner`,
/// all or nothing. Creating it enters it (`wall`) for the rest of the
/// caller's transaction, so the caller can go on working in it.
pub fn create(
    conn: &mut PgConnection,
    owner: UserId,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<OrgId> {
    conn.transaction(|conn| create_entered(conn, owner, name, now))
}

fn create_entered(
    conn: &mut PgConnection,
    owner: UserId,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<OrgId> {
    let id = OrgId::new();
    wall::enter_org(conn, id)?;
    insert_with_free_slug(conn, id, name)?;
    diesel::insert_into(subscriptions::table)
        .values(NewSubscription {
            organization_id: id,
            plan: Plan::Free,
            status: Status::Trial,
            trial_ends_at: Some(now + Duration::days(TRIAL_DAYS)),
            current_period_start: now,
            current_period_end: now + Months::new(1),
        })
        .execute(conn)?;
    diesel::insert_into(organization_members::table)
        .values(NewMember::joining(id, owner, Role::Owner))
        .execute(conn)?;
    Ok(id)
}

/// The subscription a new organization starts with.
#[derive(Insertable)]
#[diesel(table_name = subscriptions)]
struct NewSubscription {
    organization_id: OrgId,
    plan: Plan,
    status: Status,
    trial_ends_at: Option<DateTime<Utc>>,
    current_period_start: DateTime<Utc>,
    current_period_end: DateTime<Utc>,
}

/// One organization in the user's list.
#[derive(Debug, Clone, Queryable)]
pub struct Membership {
    pub org_id: OrgId,
    pub name: String,
    pub slug: String,
    pub role: Role,
    pub plan: Plan,
}

/// The organizations `user` belongs to, by name.
pub fn memberships(conn: &mut PgConnection, user: UserId) -> QueryResult<Vec<Membership>> {
    organization_members::table
        .inner_join(organizations::table)
        .inner_join(
            subscriptions::table
                .on(subscriptions::organization_id.eq(organization_members::organization_id)),
        )
        .filter(organization_members::user_id.eq(user))
        .order((organizations::name.asc(), organizations::id.asc()))
        .select((
            organizations::id,
            organizations::name,
            organizations::slug,
            organization_members::role,
            subscriptions::plan,
        ))
        .load(conn)
}

/// The organization a user lands in at sign-in (their first by name). The
/// request has no signed-in user yet, so this enters `user` for the wall.
pub fn first_org_at_sign_in(conn: &mut PgConnection, user: UserId) -> QueryResult<Option<OrgId>> {
    conn.transaction(|conn| {
        wall::enter_user(conn, user)?;
        Ok(memberships(conn, user)?.first().map(|m| m.org_id))
    })
}

/// True when `user` is a member of `org`.
pub fn is_member(conn: &mut PgConnection, user: UserId, org: OrgId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        organization_members::table.find((org, user)),
    ))
    .get_result(conn)
}

/// Figures for the dashboard.
#[derive(Debug, Clone)]
pub struct Overview {
    pub members: i64,
    pub leads: i64,
    /// The getting-started steps already taken: an own template written, a
    /// sequence put to work (an own one, or any enrolment), a teammate
    /// invited or joined.
    pub has_template: bool,
    pub has_sequence: bool,
    pub has_team: bool,
}

pub fn overview(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Overview> {
    use diesel::dsl::exists;
    let members: i64 = organization_members::table
        .filter(scoped_organization_members_rows(tenant))
        .count()
        .get_result(conn)?;
    let leads = leads::table
        .filter(scoped_leads_rows(tenant))
        .count()
        .get_result(conn)?;
    let own = tenant.owner_key();
    let has_template = diesel::select(exists(
        message_templates::table.filter(message_templates::owner_key.eq(own)),
    ))
    .get_result(conn)?;
    let has_sequence = diesel::select(
        exists(sequences::table.filter(sequences::owner_key.eq(own))).or(exists(
            sequence_enrollments::table.filter(scoped_sequence_enrollments_rows(tenant)),
        )),
    )
    .get_result(conn)?;
    let invited: bool = diesel::select(exists(
        invitations::table.filter(scoped_invitations_rows(tenant)),
    ))
    .get_result(conn)?;
    Ok(Overview {
        members,
        leads,
        has_template,
        has_sequence,
        has_team: members > 1 || invited,
    })
}

/// The organization and subscription of a tenant (fresh from the database).
pub fn load(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<(Organization, Subscription)> {
    organizations::table
        .inner_join(subscriptions::table)
        .filter(organizations::id.eq(tenant.org_id()))
        .select((Organization::as_select(), Subscription::as_select()))
        .first(conn)
}

/// The condition every `leads` row of a tenant meets.
fn scoped_leads_rows(tenant: &Tenant) -> Eq<leads::organization_id, OrgId> {
    leads::organization_id.eq(tenant.org_id())
}

/// The condition every `sequence_enrollments` row of a tenant meets.
fn scoped_sequence_enrollments_rows(
    tenant: &Tenant,
) -> Eq<sequence_enrollments::organization_id, OrgId> {
    sequence_enrollments::organization_id.eq(tenant.org_id())
}

/// The condition every `invitations` row of a tenant meets.
fn scoped_invitations_rows(tenant: &Tenant) -> Eq<invitations::organization_id, OrgId> {
    invitations::organization_id.eq(tenant.org_id())
}

/// The condition every `organization_members` row of a tenant meets.
fn scoped_organization_members_rows(
    tenant: &Tenant,
) -> Eq<organization_members::organization_id, OrgId> {
    organization_members::organization_id.eq(tenant.org_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slugify("Behar's Organization"), "behar-s-organization");
        assert_eq!(slugify("  ACME  GmbH & Co. KG "), "acme-gmbh-co-kg");
        assert_eq!(slugify("Ünïcødé"), "n-c-d");
        assert_eq!(slugify("!!!"), "org");
    }
}
