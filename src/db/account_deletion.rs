//! Deleting a user's account (docs/product.md, "API" and "Accounts"). Each organization the user
//! belongs to either blocks the deletion (they are its last OWNER and others
//! remain), is deleted with them (they are its only member), or simply loses
//! the membership (audited as `member.account_deleted`). `delete` locks the
//! organizations and their member rows first, so two owners deleting their
//! accounts at once cannot leave an organization without an owner.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{organization_members, organizations, users};
use crate::db::{audit, invitations, wall, Tenant};
use crate::domain::roles::{self, Role};
use crate::ids::{OrgId, UserId};

/// One organization of the user, as the deletion sees it.
#[derive(Debug, Clone)]
pub struct Seat {
    pub org_id: OrgId,
    pub name: String,
    pub role: Role,
    pub members: usize,
    pub owners: usize,
}

/// What deleting the account does to one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// The user is its last OWNER and others remain: ownership must move first.
    Blocks,
    /// The user is its only member: it is deleted with the account.
    DeletedWithUser,
    /// The organization continues; the user's membership goes.
    Left,
}

impl Seat {
    pub fn fate(&self) -> Fate {
        if self.members <= 1 {
            Fate::DeletedWithUser
        } else if roles::removes_last_owner(self.role, None, self.owners as i64) {
            Fate::Blocks
        } else {
            Fate::Left
        }
    }
}

/// The user's organizations and what deletion would do to each.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub seats: Vec<Seat>,
}

impl Plan {
    pub fn with_fate(&self, fate: Fate) -> Vec<&Seat> {
        self.seats.iter().filter(|s| s.fate() == fate).collect()
    }

    pub fn is_blocked(&self) -> bool {
        self.seats.iter().any(|s| s.fate() == Fate::Blocks)
    }
}

/// Outcome of `delete`.
#[derive(Debug)]
pub enum Deleted {
    Done,
    /// Nothing changed: these organizations need another owner first.
    Blocked(Plan),
}

/// What deleting `user`'s account would do now (no locks; for the page).
/// It spans every organization the user belongs to, and their co-owners,
/// so it reads beyond the request's organization.
pub fn plan(conn: &mut PgConnection, user: UserId) -> QueryResult<Plan> {
    wall::lifted(conn, |conn| load_plan(conn, user, false))
}

/// Deletes the account unless an organization blocks it. Run inside a
/// transaction: it locks the user's organizations and their members. The
/// open invitations they created in organizations that stay are revoked.
/// Like `plan`, it acts in every organization of the user.
pub fn delete(conn: &mut PgConnection, user: UserId, now: DateTime<Utc>) -> QueryResult<Deleted> {
    wall::lifted(conn, |conn| delete_everywhere(conn, user, now))
}

fn delete_everywhere(
    conn: &mut PgConnection,
    user: UserId,
    now: DateTime<Utc>,
) -> QueryResult<Deleted> {
    let plan = load_plan(conn, user, true)?;
    if plan.is_blocked() {
        return Ok(Deleted::Blocked(plan));
    }
    let (name, email): (String, String) = users::table
        .find(user)
        .select((users::name, users::email))
        .first(conn)?;
    for seat in plan.with_fate(Fate::Left) {
        record_departure(conn, seat, user, &name, &email, now)?;
    }
    let removed: Vec<OrgId> = plan
        .with_fate(Fate::DeletedWithUser)
        .iter()
        .map(|s| s.org_id)
        .collect();
    diesel::delete(organizations::table.filter(organizations::id.eq_any(&removed)))
        .execute(conn)?;
    // Memberships, sessions, tokens and notices go by ON DELETE CASCADE;
    // authored rows elsewhere keep their content with the author set to NULL.
    diesel::delete(users::table.find(user)).execute(conn)?;
    Ok(Deleted::Done)
}

fn record_departure(
    conn: &mut PgConnection,
    seat: &Seat,
    user: UserId,
    name: &str,
    email: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let tenant = Tenant::for_member(conn, seat.org_id, user)?;
    invitations::revoke_all_by(conn, &tenant, user, now)?;
    let before = serde_json::json!({ "name": name, "email": email, "role": seat.role.as_str() });
    audit::record(
        conn,
        &tenant,
        "member.account_deleted",
        email,
        Some(before),
        None,
    )
}

fn load_plan(conn: &mut PgConnection, user: UserId, lock: bool) -> QueryResult<Plan> {
    let org_ids: Vec<OrgId> = organization_members::table
        .filter(organization_members::user_id.eq(user))
        .select(organization_members::organization_id)
        .load(conn)?;
    let orgs = organizations::table
        .filter(organizations::id.eq_any(&org_ids))
        .order(organizations::id)
        .select((organizations::id, organizations::name));
    let orgs: Vec<(OrgId, String)> = if lock {
        orgs.for_update().load(conn)?
    } else {
        orgs.load(conn)?
    };
    let members = organization_members::table
        .filter(organization_members::organization_id.eq_any(&org_ids))
        .order((
            organization_members::organization_id,
            organization_members::user_id,
        ))
        .select((
            organization_members::organization_id,
            organization_members::user_id,
            organization_members::role,
        ));
    let members: Vec<(OrgId, UserId, Role)> = if lock {
        members.for_update().load(conn)?
    } else {
        members.load(conn)?
    };
    Ok(build_plan(user, orgs, &members))
}

fn build_plan(user: UserId, orgs: Vec<(OrgId, String)>, members: &[(OrgId, UserId, Role)]) -> Plan {
    let mut seats: Vec<Seat> = orgs
        .into_iter()
        .filter_map(|(org, name)| {
            let of_org = || members.iter().filter(move |m| m.0 == org);
            let mine = of_org().find(|m| m.1 == user)?;
            Some(Seat {
                org_id: org,
                name,
                role: mine.2,
                members: of_org().count(),
                owners: of_org().filter(|m| m.2 == Role::Owner).count(),
            })
        })
        .collect();
    seats.sort_by(|a, b| a.name.cmp(&b.name));
    Plan { seats }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn seat(role: Role, members: usize, owners: usize) -> Seat {
        Seat {
            org_id: OrgId(Uuid::nil()),
            name: "Acme".into(),
            role,
            members,
            owners,
        }
    }

    #[test]
    fn fates() {
        assert_eq!(seat(Role::Owner, 1, 1).fate(), Fate::DeletedWithUser);
        assert_eq!(seat(Role::Owner, 3, 1).fate(), Fate::Blocks);
        assert_eq!(seat(Role::Owner, 3, 2).fate(), Fate::Left);
        assert_eq!(seat(Role::Admin, 2, 1).fate(), Fate::Left);
        assert_eq!(seat(Role::Viewer, 5, 1).fate(), Fate::Left);
    }

    #[test]
    fn plan_counts_members_and_owners_per_organization() {
        let me = UserId(Uuid::from_u128(1));
        let (a, b) = (OrgId(Uuid::from_u128(10)), OrgId(Uuid::from_u128(20)));
        let other = UserId(Uuid::from_u128(2));
        let members = vec![
            (a, me, Role::Owner),
            (a, other, Role::Member),
            (b, me, Role::Owner),
        ];
        let plan = build_plan(me, vec![(a, "A".into()), (b, "B".into())], &members);
        assert_eq!(plan.with_fate(Fate::Blocks)[0].name, "A");
        assert_eq!(plan.with_fate(Fate::DeletedWithUser)[0].name, "B");
        assert!(plan.is_blocked());
    }
}
