//! Invitations (docs/product.md, "Invitations"): created, resent and revoked by the organization
//! (through a `Tenant`), accepted by whoever holds the link — the token is the
//! key there, so those lookups take a token, not a tenant. Only the token's
//! hash is stored; creating or reviving one holds a seat (`guard_count_limit`).

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use serde_json::json;

use crate::db::error::{DbError, DbResult};
use crate::db::schema::{invitations, organization_members, organizations, users};
use crate::db::team::NewMember;
use crate::db::{audit, usage, wall, Tenant};
use crate::domain::plans::LimitKind;
use crate::domain::roles::{may_assign_role, Role};
use crate::ids::{InvitationId, OrgId, UserId};
use crate::tokens;

/// How long a link stays valid.
pub const VALID_DAYS: i64 = 7;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub organization_id: OrgId,
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_by: Option<UserId>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Expired,
    Revoked,
    Accepted,
}

impl Invitation {
    pub fn state(&self, now: DateTime<Utc>) -> State {
        if self.accepted_at.is_some() {
            State::Accepted
        } else if self.revoked_at.is_some() {
            State::Revoked
        } else if self.expires_at <= now {
            State::Expired
        } else {
            State::Pending
        }
    }
}

/// An open invitation (pending or expired) on the team page.
#[derive(Debug, Clone)]
pub struct OpenInvitation {
    pub invitation: Invitation,
    pub inviter: Option<String>,
}

/// Invitations neither accepted nor revoked, newest first.
pub fn open(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<OpenInvitation>> {
    let rows: Vec<(Invitation, Option<String>)> = invitations::table
        .left_join(users::table.on(users::id.nullable().eq(invitations::invited_by)))
        .filter(scoped_invitations_rows(tenant))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .order((invitations::created_at.desc(), invitations::id.desc()))
        .select((Invitation::as_select(), users::name.nullable()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(invitation, inviter)| OpenInvitation {
            invitation,
            inviter,
        })
        .collect())
}

/// What `create` did.
#[derive(Debug)]
pub enum Created {
    /// The new invitation and its token (to mail; never stored).
    Invitation {
        id: InvitationId,
        token: String,
        expires_at: DateTime<Utc>,
    },
    AlreadyMember,
    AlreadyInvited,
}

fn is_member_email(conn: &mut PgConnection, tenant: &Tenant, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        organization_members::table
            .inner_join(users::table)
            .filter(scoped_organization_members_rows(tenant))
            .filter(users::email.eq(email)),
    ))
    .get_result(conn)
}

/// The open invitation for `email`, if any (row-locked).
fn open_for_email(
    conn: &mut PgConnection,
    tenant: &Tenant,
    email: &str,
) -> QueryResult<Option<Invitation>> {
    scoped_invitations(tenant)
        .filter(invitations::email.eq(email))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .select(Invitation::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// Invites `email` as `role`: takes a seat (402 when none is left), refuses
/// members and addresses with a live invitation, and replaces an expired one.
pub fn create(
    conn: &mut PgConnection,
    tenant: &Tenant,
    email: &str,
    role: Role,
    now: DateTime<Utc>,
) -> DbResult<Created> {
    usage::guard_count_limit(conn, tenant, LimitKind::Users, now)?;
    if is_member_email(conn, tenant, email)? {
        return Ok(Created::AlreadyMember);
    }
    if let Some(old) = open_for_email(conn, tenant, email)? {
        if old.state(now) == State::Pending {
            return Ok(Created::AlreadyInvited);
        }
        set_revoked(conn, tenant, old.id, now)?;
    }
    let id = InvitationId::new();
    let token = tokens::random_token();
    let expires_at = now + Duration::days(VALID_DAYS);
    diesel::insert_into(invitations::table)
        .values(NewInvitation {
            organization_id: tenant.org_id(),
            id,
            email,
            role,
            token_hash: tokens::hash(&token),
            invited_by: tenant.user_id(),
            expires_at,
        })
        .execute(conn)?;
    audit::record(
        conn,
        tenant,
        "invitation.created",
        email,
        None,
        Some(json!({ "role": role.as_str(), "expires_at": expires_at })),
    )?;
    Ok(Created::Invitation {
        id,
        token,
        expires_at,
    })
}

fn set_revoked(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: InvitationId,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(scoped_invitations(tenant).filter(invitations::id.eq(id)))
        .set(invitations::revoked_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}

/// One invitation of the tenant, row-locked; 404 for other organizations' ids.
fn locked(conn: &mut PgConnection, tenant: &Tenant, id: InvitationId) -> DbResult<Invitation> {
    scoped_invitations(tenant)
        .filter(invitations::id.eq(id))
        .select(Invitation::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound)
}

fn still_open(inv: &Invitation, now: DateTime<Utc>) -> DbResult<()> {
    match inv.state(now) {
        State::Pending | State::Expired => Ok(()),
        State::Accepted => Err(DbError::Conflict(
            "This invitation has already been accepted.".into(),
        )),
        State::Revoked => Err(DbError::Conflict(
            "This invitation has been revoked.".into(),
        )),
    }
}

/// Gives an open invitation a new token and a fresh 7-day expiry (the old
/// link stops working). Reviving an expired one takes a seat again.
pub fn resend(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: InvitationId,
    now: DateTime<Utc>,
) -> DbResult<(Invitation, String)> {
    // The seat lock comes before the row lock, in the same order as `create`.
    let peek: Option<DateTime<Utc>> = scoped_invitations(tenant)
        .filter(invitations::id.eq(id))
        .select(invitations::expires_at)
        .first(conn)
        .optional()?;
    if peek.ok_or(DbError::NotFound)? <= now {
        usage::guard_count_limit(conn, tenant, LimitKind::Users, now)?;
    }
    let inv = locked(conn, tenant, id)?;
    still_open(&inv, now)?;
    let token = tokens::random_token();
    let expires_at = now + Duration::days(VALID_DAYS);
    diesel::update(scoped_invitations(tenant).filter(invitations::id.eq(inv.id)))
        .set((
            invitations::token_hash.eq(tokens::hash(&token)),
            invitations::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        tenant,
        "invitation.resent",
        &inv.email,
        Some(json!({ "expires_at": inv.expires_at })),
        Some(json!({ "expires_at": expires_at })),
    )?;
    Ok((Invitation { expires_at, ..inv }, token))
}

/// Revokes an open invitation; its link stops working and its seat frees up.
pub fn revoke(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: InvitationId,
    now: DateTime<Utc>,
) -> DbResult<String> {
    let inv = locked(conn, tenant, id)?;
    still_open(&inv, now)?;
    set_revoked(conn, tenant, inv.id, now)?;
    audit::record(
        conn,
        tenant,
        "invitation.revoked",
        &inv.email,
        Some(json!({ "email": inv.email, "role": inv.role })),
        None,
    )?;
    Ok(inv.email)
}

/// Revokes every open invitation `inviter` created in the tenant's
/// organization (they are removed or left: their invitations must not let
/// anyone in after them); returns how many.
pub(in crate::db) fn revoke_all_by(
    conn: &mut PgConnection,
    tenant: &Tenant,
    inviter: UserId,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        scoped_invitations(tenant)
            .filter(invitations::invited_by.eq(inviter))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(Some(now)))
    .execute(conn)
}

/// Revokes the open invitations `inviter` created for roles that `role`,
/// their new role, may not grant: a demoted admin's invitation must not
/// let anyone in as an admin after them. Returns how many.
pub(in crate::db) fn revoke_beyond_role(
    conn: &mut PgConnection,
    tenant: &Tenant,
    inviter: UserId,
    role: Role,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let out_of_reach: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|invited| !may_assign_role(role, *invited))
        .collect();
    diesel::update(
        scoped_invitations(tenant)
            .filter(invitations::invited_by.eq(inviter))
            .filter(invitations::role.eq_any(out_of_reach))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(Some(now)))
    .execute(conn)
}

/// An invitation as its link shows it.
#[derive(Debug, Clone)]
pub struct Found {
    pub invitation: Invitation,
    pub org_name: String,
    pub inviter: Option<String>,
}

/// Looks an invitation up by the token from its link (any state).
/// Token-keyed, so it reads beyond the request's organization.
pub fn find_by_token(conn: &mut PgConnection, token: &str) -> QueryResult<Option<Found>> {
    let row: Option<(Invitation, String, Option<String>)> = wall::lifted(conn, |conn| {
        invitations::table
            .inner_join(organizations::table)
            .left_join(users::table.on(users::id.nullable().eq(invitations::invited_by)))
            .filter(invitations::token_hash.eq(tokens::hash(token)))
            .select((
                Invitation::as_select(),
                organizations::name,
                users::name.nullable(),
            ))
            .first(conn)
            .optional()
    })?;
    Ok(row.map(|(invitation, org_name, inviter)| Found {
        invitation,
        org_name,
        inviter,
    }))
}

/// An invitation as created: the tenant's organization, invited by the
/// acting user.
#[derive(Insertable)]
#[diesel(table_name = invitations)]
struct NewInvitation<'a> {
    organization_id: OrgId,
    id: InvitationId,
    email: &'a str,
    role: Role,
    token_hash: Vec<u8>,
    invited_by: Option<UserId>,
    expires_at: DateTime<Utc>,
}

/// The invitation of a token, row-locked for accepting it (token-keyed, so
/// it reads beyond the request's organization).
pub fn lock_by_token(conn: &mut PgConnection, token: &str) -> QueryResult<Option<Invitation>> {
    wall::lifted(conn, |conn| {
        invitations::table
            .filter(invitations::token_hash.eq(tokens::hash(token)))
            .select(Invitation::as_select())
            .for_update()
            .first(conn)
            .optional()
    })
}

/// Accepts a pending invitation (locked by `lock_by_token`, checked by the
/// caller) for `user`: membership with the invited role (kept as it is when
/// they already belong), the invitation used, the address confirmed (the link
/// reached it), and the audit event with the new member as actor.
pub fn accept(
    conn: &mut PgConnection,
    inv: &Invitation,
    user: UserId,
    now: DateTime<Utc>,
) -> QueryResult<OrgId> {
    let org = inv.organization_id;
    // The invitation, not a session, admits the user: enter its organization.
    wall::enter_org(conn, org)?;
    diesel::insert_into(organization_members::table)
        .values(NewMember::joining(org, user, inv.role))
        .on_conflict_do_nothing()
        .execute(conn)?;
    diesel::update(invitations::table.find((inv.organization_id, inv.id)))
        .set((
            invitations::accepted_at.eq(Some(now)),
            invitations::accepted_by.eq(Some(user)),
        ))
        .execute(conn)?;
    diesel::update(users::table.find(user))
        .filter(users::email_verified_at.is_null())
        .set(users::email_verified_at.eq(Some(now)))
        .execute(conn)?;
    let tenant = Tenant::for_member(conn, org, user)?;
    audit::record(
        conn,
        &tenant,
        "invitation.accepted",
        &inv.email,
        None,
        Some(json!({ "email": inv.email, "role": inv.role })),
    )?;
    crate::db::webhooks::member_joined(conn, &tenant, user, now)?;
    Ok(org)
}

/// Every `invitations` query of a tenant starts here.
fn scoped_invitations(
    tenant: &Tenant,
) -> Filter<invitations::table, Eq<invitations::organization_id, OrgId>> {
    invitations::table.filter(scoped_invitations_rows(tenant))
}

/// The condition every `invitations` row of a tenant meets (for joined queries).
fn scoped_invitations_rows(tenant: &Tenant) -> Eq<invitations::organization_id, OrgId> {
    invitations::organization_id.eq(tenant.org_id())
}

/// The condition every `organization_members` row of a tenant meets (for joined queries).
fn scoped_organization_members_rows(
    tenant: &Tenant,
) -> Eq<organization_members::organization_id, OrgId> {
    organization_members::organization_id.eq(tenant.org_id())
}
