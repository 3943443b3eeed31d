//! Rules for changing memberships (docs/product.md, "Roles"): who may re-role, re-permission,
//! remove, promote or demote whom, and the last-owner rule. Callers pass the
//! roles as read inside their transaction, after locking the owner rows.
use super::roles::{may_assign_role, may_manage_member, removes_last_owner, Role};

/// Why a membership change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The role table does not allow it (403).
    Forbidden(&'static str),
    /// It would leave the organization without an owner (409).
    LastOwner,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Forbidden(m) => m,
            Refusal::LastOwner => {
                "An organization must keep at least one owner. Make another member an owner first."
            }
        }
    }
}

const NOT_OWNERS: &str = "Admins cannot change or remove an owner.";
const NOT_MANAGER: &str = "Only owners and admins can manage members and invitations.";
const NOT_YOURSELF: &str =
    "You cannot change or remove your own membership here. To leave, use \"Leave organization\"; owners can step down.";
const ONLY_OWNER_GRANTS: &str = "Only an owner can make someone an owner.";

/// May `actor` manage the member `target` at all (re-role, permissions, remove)?
fn manage(actor: Role, target: Role, is_self: bool) -> Result<(), Refusal> {
    if is_self {
        return Err(Refusal::Forbidden(NOT_YOURSELF));
    }
    if matches!(actor, Role::Member | Role::Viewer) {
        return Err(Refusal::Forbidden(NOT_MANAGER));
    }
    if !may_manage_member(actor, target) {
        return Err(Refusal::Forbidden(NOT_OWNERS));
    }
    Ok(())
}

/// Changing `target`'s role to `new_role`; `owners` = current number of owners.
pub fn check_role_change(
    actor: Role,
    target: Role,
    new_role: Role,
    owners: i64,
    is_self: bool,
) -> Result<(), Refusal> {
    manage(actor, target, is_self)?;
    if !may_assign_role(actor, new_role) {
        return Err(Refusal::Forbidden(ONLY_OWNER_GRANTS));
    }
    if removes_last_owner(target, Some(new_role), owners) {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

/// Changing `target`'s permission flags.
pub fn check_permissions(actor: Role, target: Role, is_self: bool) -> Result<(), Refusal> {
    manage(actor, target, is_self)
}

/// Removing `target` from the organization.
pub fn check_remove(actor: Role, target: Role, owners: i64, is_self: bool) -> Result<(), Refusal> {
    manage(actor, target, is_self)?;
    if removes_last_owner(target, None, owners) {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

/// A member of role `role` leaving the organization.
pub fn check_leave(role: Role, owners: i64) -> Result<(), Refusal> {
    if removes_last_owner(role, None, owners) {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

/// Making `target` an (additional) owner: owners only, never oneself.
pub fn check_make_owner(actor: Role, is_self: bool) -> Result<(), Refusal> {
    if actor != Role::Owner {
        return Err(Refusal::Forbidden(ONLY_OWNER_GRANTS));
    }
    if is_self {
        return Err(Refusal::Forbidden("You are already an owner."));
    }
    Ok(())
}

/// The role an owner takes when stepping down.
pub const STEP_DOWN_ROLE: Role = Role::Admin;

/// An owner stepping down to `STEP_DOWN_ROLE`.
pub fn check_step_down(role: Role, owners: i64) -> Result<(), Refusal> {
    if role != Role::Owner {
        return Err(Refusal::Forbidden("Only an owner can step down as owner."));
    }
    if removes_last_owner(role, Some(STEP_DOWN_ROLE), owners) {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

/// Roles an invitation may carry (the schema allows exactly these).
pub const INVITABLE: [Role; 3] = [Role::Admin, Role::Member, Role::Viewer];

/// Inviting someone as `role`.
pub fn check_invite(actor: Role, role: Role) -> Result<(), Refusal> {
    if !INVITABLE.contains(&role) {
        return Err(Refusal::Forbidden(
            "Invitations are for admins, members or viewers; make someone an owner once they have joined.",
        ));
    }
    if !may_assign_role(actor, role) {
        return Err(Refusal::Forbidden(NOT_MANAGER));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn admins_manage_everyone_but_owners() {
        for target in [Admin, Member, Viewer] {
            assert_eq!(check_remove(Admin, target, 1, false), Ok(()));
            assert_eq!(check_permissions(Admin, target, false), Ok(()));
        }
        assert!(matches!(
            check_remove(Admin, Owner, 2, false),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_role_change(Admin, Member, Owner, 1, false),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn members_and_viewers_manage_nobody() {
        for actor in [Member, Viewer] {
            for target in Role::ALL {
                assert!(check_remove(actor, target, 2, false).is_err());
                assert!(check_role_change(actor, target, Viewer, 2, false).is_err());
            }
            assert!(check_make_owner(actor, false).is_err());
        }
    }

    #[test]
    fn nobody_manages_themselves_here() {
        assert!(check_remove(Owner, Owner, 3, true).is_err());
        assert!(check_role_change(Admin, Admin, Viewer, 1, true).is_err());
        assert!(check_make_owner(Owner, true).is_err());
    }

    #[test]
    fn the_last_owner_stays() {
        assert_eq!(
            check_role_change(Owner, Owner, Admin, 1, false),
            Err(Refusal::LastOwner)
        );
        assert_eq!(check_role_change(Owner, Owner, Admin, 2, false), Ok(()));
        assert_eq!(
            check_remove(Owner, Owner, 1, false),
            Err(Refusal::LastOwner)
        );
        assert_eq!(check_leave(Owner, 1), Err(Refusal::LastOwner));
        assert_eq!(check_leave(Owner, 2), Ok(()));
        assert_eq!(check_leave(Viewer, 1), Ok(()));
        assert_eq!(check_step_down(Owner, 1), Err(Refusal::LastOwner));
        assert_eq!(check_step_down(Owner, 2), Ok(()));
        assert!(matches!(
            check_step_down(Admin, 2),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn invitations_never_carry_owner() {
        assert!(check_invite(Owner, Owner).is_err());
        for role in INVITABLE {
            assert_eq!(check_invite(Owner, role), Ok(()));
            assert_eq!(check_invite(Admin, role), Ok(()));
            assert!(check_invite(Member, role).is_err());
        }
    }
}
