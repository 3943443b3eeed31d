//! Members of the current organization: listing, role and permission changes,
//! removal, leaving, ownership. Every change runs in the caller's transaction:
//! it locks the owner rows first (so two owners acting at once cannot remove
//! the last one), re-reads actor and target, applies `domain::membership`,
//! and writes its audit event.

use chrono::{DateTime, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use serde_json::json;

use crate::db::error::{DbError, DbResult};
use crate::db::models::Member;
use crate::db::schema::{organization_members, users};
use crate::db::Tenant;
use crate::db::{audit, invitations, leads, webhooks};
use crate::domain::membership::{self, Refusal, STEP_DOWN_ROLE};
use crate::domain::roles::{MemberFlags, Role};
use crate::ids::{OrgId, UserId};
use crate::webhooks::events::EventType;
use diesel::pg::Pg;

/// One member as the team page shows it: the membership and who it is.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(Pg))]
pub struct MemberRow {
    #[diesel(embed)]
    pub member: Member,
    pub name: String,
    pub email: String,
}

impl MemberRow {
    pub fn user_id(&self) -> UserId {
        self.member.user_id
    }

    pub fn role(&self) -> Role {
        self.member.role
    }

    /// "Name <email>", the audit target.
    pub fn label(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }
}

/// Members of the tenant's organization: owners first, then by name.
pub fn members(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<MemberRow>> {
    let mut rows: Vec<MemberRow> = organization_members::table
        .inner_join(users::table)
        .filter(scoped_organization_members_rows(tenant))
        .select(MemberRow::as_select())
        .load(conn)?;
    rows.sort_by(|a, b| {
        let rank = |r: &MemberRow| Role::ALL.iter().position(|x| *x == r.role());
        (rank(a), a.name.to_lowercase()).cmp(&(rank(b), b.name.to_lowercase()))
    });
    Ok(rows)
}

/// Members' ids and names, by name: the choices wherever a lead is given
/// to someone.
pub fn names(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<(UserId, String)>> {
    organization_members::table
        .inner_join(users::table)
        .filter(scoped_organization_members_rows(tenant))
        .select((users::id, users::name))
        .order((users::name.asc(), users::id.asc()))
        .load(conn)
}

/// One member of the tenant's organization, row-locked; NotFound (404) when
/// `user` is not a member here — including members of other organizations.
fn locked_member(conn: &mut PgConnection, tenant: &Tenant, user: UserId) -> DbResult<MemberRow> {
    let row = organization_members::table
        .inner_join(users::table)
        .filter(scoped_organization_members_rows(tenant))
        .filter(organization_members::user_id.eq(user))
        .select(MemberRow::as_select())
        .for_update()
        .first(conn)
        .optional()?;
    row.ok_or(DbError::NotFound)
}

/// Locks the organization's owner rows (in a fixed order, so concurrent
/// callers queue instead of deadlocking) and returns how many owners there are.
fn lock_owners(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<i64> {
    let owners: Vec<UserId> = scoped_organization_members(tenant)
        .filter(organization_members::role.eq(Role::Owner))
        .order(organization_members::user_id)
        .select(organization_members::user_id)
        .for_update()
        .load(conn)?;
    Ok(owners.len() as i64)
}

/// The acting user's membership as it is now (it may have changed since the
/// request started); 403 when it is gone.
fn actor(conn: &mut PgConnection, tenant: &Tenant) -> DbResult<MemberRow> {
    let user = tenant
        .user_id()
        .ok_or_else(|| DbError::forbidden("Only a signed-in member can do this."))?;
    locked_member(conn, tenant, user).map_err(|e| match e {
        DbError::NotFound => DbError::forbidden("You are no longer a member of this organization."),
        other => other,
    })
}

/// Maps a refusal of `domain::membership` to its HTTP error.
pub fn refused(r: Refusal) -> DbError {
    match r {
        Refusal::Forbidden(m) => DbError::forbidden(m),
        Refusal::LastOwner => DbError::Conflict(r.message().into()),
    }
}

/// The acting user's fresh role and the locked target, after locking owners.
struct Scene {
    owners: i64,
    actor: MemberRow,
    target: MemberRow,
}

fn scene(conn: &mut PgConnection, tenant: &Tenant, target: UserId) -> DbResult<Scene> {
    let owners = lock_owners(conn, tenant)?;
    let actor = actor(conn, tenant)?;
    let target = locked_member(conn, tenant, target)?;
    Ok(Scene {
        owners,
        actor,
        target,
    })
}

fn is_self(s: &Scene) -> bool {
    s.actor.user_id() == s.target.user_id()
}

fn set_role(conn: &mut PgConnection, tenant: &Tenant, user: UserId, role: Role) -> QueryResult<()> {
    diesel::update(
        scoped_organization_members(tenant).filter(organization_members::user_id.eq(user)),
    )
    .set(organization_members::role.eq(role))
    .execute(conn)?;
    Ok(())
}

/// Gives `target` the role `new_role` and revokes the open invitations
/// they created that the new role may not grant. Returns false when they
/// already had the role.
pub fn change_role(
    conn: &mut PgConnection,
    tenant: &Tenant,
    target: UserId,
    new_role: Role,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    let s = scene(conn, tenant, target)?;
    let old = s.target.role();
    membership::check_role_change(s.actor.role(), old, new_role, s.owners, is_self(&s))
        .map_err(refused)?;
    if old == new_role {
        return Ok(false);
    }
    set_role(conn, tenant, s.target.user_id(), new_role)?;
    let revoked = invitations::revoke_beyond_role(conn, tenant, target, new_role, now)?;
    audit::record(
        conn,
        tenant,
        "member.role_changed",
        &s.target.label(),
        Some(json!({ "role": old.as_str() })),
        Some(json!({ "role": new_role.as_str(), "invitations_revoked": revoked })),
    )?;
    Ok(true)
}

fn flags_json(f: MemberFlags) -> serde_json::Value {
    json!({
        "can_manage_leads": f.can_manage_leads,
        "can_send_messages": f.can_send_messages,
        "can_manage_templates": f.can_manage_templates,
    })
}

/// Sets `target`'s permission flags. Returns false when nothing changed.
pub fn set_permissions(
    conn: &mut PgConnection,
    tenant: &Tenant,
    target: UserId,
    flags: MemberFlags,
) -> DbResult<bool> {
    let s = scene(conn, tenant, target)?;
    membership::check_permissions(s.actor.role(), s.target.role(), is_self(&s)).map_err(refused)?;
    let old = s.target.member.flags();
    if old == flags {
        return Ok(false);
    }
    diesel::update(
        scoped_organization_members(tenant)
            .filter(organization_members::user_id.eq(s.target.user_id())),
    )
    .set((
        organization_members::can_manage_leads.eq(flags.can_manage_leads),
        organization_members::can_send_messages.eq(flags.can_send_messages),
        organization_members::can_manage_templates.eq(flags.can_manage_templates),
    ))
    .execute(conn)?;
    audit::record(
        conn,
        tenant,
        "member.permissions_changed",
        &s.target.label(),
        Some(flags_json(old)),
        Some(flags_json(flags)),
    )?;
    Ok(true)
}

fn delete_membership(conn: &mut PgConnection, tenant: &Tenant, user: UserId) -> QueryResult<()> {
    diesel::delete(
        scoped_organization_members(tenant).filter(organization_members::user_id.eq(user)),
    )
    .execute(conn)?;
    Ok(())
}

/// True when `user` is a member of the tenant's organization.
pub fn is_member(conn: &mut PgConnection, tenant: &Tenant, user: UserId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        scoped_organization_members(tenant).filter(organization_members::user_id.eq(user)),
    ))
    .get_result(conn)
}

/// Removes `target` from the organization, revokes the invitations they
/// created (a removed member's reach ends with them) and gives their leads
/// to `leads_to` (another member) or leaves them unassigned; returns their
/// name.
pub fn remove(
    conn: &mut PgConnection,
    tenant: &Tenant,
    target: UserId,
    leads_to: Option<UserId>,
    now: DateTime<Utc>,
) -> DbResult<String> {
    let s = scene(conn, tenant, target)?;
    let role = s.target.role();
    membership::check_remove(s.actor.role(), role, s.owners, is_self(&s)).map_err(refused)?;
    if let Some(heir) = leads_to {
        if heir == target || !is_member(conn, tenant, heir)? {
            return Err(DbError::Invalid(
                "Their leads can go to another member of this organization, or to nobody.".into(),
            ));
        }
    }
    delete_membership(conn, tenant, s.target.user_id())?;
    let revoked = invitations::revoke_all_by(conn, tenant, s.target.user_id(), now)?;
    let handed = leads::hand_over(conn, tenant, target, leads_to)?;
    audit::record(
        conn,
        tenant,
        "member.removed",
        &s.target.label(),
        Some(json!({ "role": role.as_str(), "invitations_revoked": revoked })),
        Some(json!({ "leads_handed_over": handed, "leads_to": leads_to })),
    )?;
    webhooks::member_event(conn, tenant, EventType::MemberRemoved, &s.target, now)?;
    Ok(s.target.name)
}

/// The acting user leaves the organization (never its last owner); the
/// invitations they created are revoked with them.
pub fn leave(conn: &mut PgConnection, tenant: &Tenant, now: DateTime<Utc>) -> DbResult<()> {
    let owners = lock_owners(conn, tenant)?;
    let me = actor(conn, tenant)?;
    membership::check_leave(me.role(), owners).map_err(refused)?;
    let revoked = invitations::revoke_all_by(conn, tenant, me.user_id(), now)?;
    // Their leads stay in the organization, unassigned, for others to take.
    leads::hand_over(conn, tenant, me.user_id(), None)?;
    audit::record(
        conn,
        tenant,
        "member.left",
        &me.label(),
        Some(json!({ "role": me.role().as_str(), "invitations_revoked": revoked })),
        None,
    )?;
    webhooks::member_event(conn, tenant, EventType::MemberRemoved, &me, now)?;
    delete_membership(conn, tenant, me.user_id())?;
    Ok(())
}

/// Makes `target` an owner (the acting owner stays one); returns their name.
pub fn make_owner(conn: &mut PgConnection, tenant: &Tenant, target: UserId) -> DbResult<String> {
    let s = scene(conn, tenant, target)?;
    membership::check_make_owner(s.actor.role(), is_self(&s)).map_err(refused)?;
    let old = s.target.role();
    if old != Role::Owner {
        set_role(conn, tenant, s.target.user_id(), Role::Owner)?;
        audit::record(
            conn,
            tenant,
            "ownership.granted",
            &s.target.label(),
            Some(json!({ "role": old.as_str() })),
            Some(json!({ "role": Role::Owner.as_str() })),
        )?;
    }
    Ok(s.target.name)
}

/// The acting owner becomes an admin, if another owner remains; their open
/// invitations that an admin may not grant are revoked.
pub fn step_down(conn: &mut PgConnection, tenant: &Tenant, now: DateTime<Utc>) -> DbResult<()> {
    let owners = lock_owners(conn, tenant)?;
    let me = actor(conn, tenant)?;
    membership::check_step_down(me.role(), owners).map_err(refused)?;
    set_role(conn, tenant, me.user_id(), STEP_DOWN_ROLE)?;
    let revoked = invitations::revoke_beyond_role(conn, tenant, me.user_id(), STEP_DOWN_ROLE, now)?;
    audit::record(
        conn,
        tenant,
        "ownership.stepped_down",
        &me.label(),
        Some(json!({ "role": Role::Owner.as_str() })),
        Some(json!({ "role": STEP_DOWN_ROLE.as_str(), "invitations_revoked": revoked })),
    )?;
    Ok(())
}

/// The acting member's membership (role and permission flags), fresh from
/// the database: a background job re-checks it before acting in the
/// member's name. 403 when they are no longer a member.
pub fn my_membership(conn: &mut PgConnection, tenant: &Tenant) -> DbResult<Member> {
    actor(conn, tenant).map(|row| row.member)
}

/// The acting user's current role (fresh from the database).
pub fn my_role(conn: &mut PgConnection, tenant: &Tenant) -> DbResult<Role> {
    let user = tenant.user_id().ok_or(DbError::NotFound)?;
    let role: Option<Role> = scoped_organization_members(tenant)
        .filter(organization_members::user_id.eq(user))
        .select(organization_members::role)
        .first(conn)
        .optional()?;
    role.ok_or(DbError::NoOrganization)
}

/// A membership as created: `user` joins `org` (its creator or an invited
/// user, so there is no tenant yet) with `role`.
#[derive(Insertable)]
#[diesel(table_name = organization_members)]
pub(in crate::db) struct NewMember {
    organization_id: OrgId,
    user_id: UserId,
    role: Role,
}

impl NewMember {
    pub(in crate::db) fn joining(org: OrgId, user: UserId, role: Role) -> NewMember {
        NewMember {
            organization_id: org,
            user_id: user,
            role,
        }
    }
}

/// Every `organization_members` query of a tenant starts here.
fn scoped_organization_members(
    tenant: &Tenant,
) -> Filter<organization_members::table, Eq<organization_members::organization_id, OrgId>> {
    organization_members::table.filter(scoped_organization_members_rows(tenant))
}

/// The condition every `organization_members` row of a tenant meets (for joined queries).
fn scoped_organization_members_rows(
    tenant: &Tenant,
) -> Eq<organization_members::organization_id, OrgId> {
    organization_members::organization_id.eq(tenant.org_id())
}
