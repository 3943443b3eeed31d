//! Roles, member permission flags and the one permission table of docs/product.md, "Roles".
//! `allows` is the only place that decides role × action; member flags refine MEMBER only.
//! Member-management rules keep ADMINs away from OWNERs; the last-owner rule is `removes_last_owner`.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl Role {
    /// Most powerful first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    /// The database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "OWNER",
            Role::Admin => "ADMIN",
            Role::Member => "MEMBER",
            Role::Viewer => "VIEWER",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Member => "Member",
            Role::Viewer => "Viewer",
        }
    }
}

super::canonical_str!(Role, "role");

/// Per-member flags; only consulted for `Role::Member`. `Default` is `DEFAULT_MEMBER` (all true).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberFlags {
    pub can_manage_leads: bool,
    pub can_send_messages: bool,
    pub can_manage_templates: bool,
}

impl MemberFlags {
    pub const DEFAULT_MEMBER: MemberFlags = MemberFlags {
        can_manage_leads: true,
        can_send_messages: true,
        can_manage_templates: true,
    };

    pub const NONE: MemberFlags = MemberFlags {
        can_manage_leads: false,
        can_send_messages: false,
        can_manage_templates: false,
    };
}

impl Default for MemberFlags {
    fn default() -> Self {
        MemberFlags::DEFAULT_MEMBER
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read leads, templates, sequences, messages, usage and plan.
    ReadWorkspace,
    /// Create, edit, delete, import leads.
    ManageLeads,
    /// Create, edit templates and sequences.
    ManageTemplates,
    /// Send messages, enrol leads in sequences.
    SendMessages,
    /// Invite, re-role, re-permission, remove members (see also `may_manage_member`).
    ManageMembers,
    /// Organization settings.
    ManageSettings,
    /// See plan changes, billing and invoices (read only).
    ViewBilling,
    /// Change plan, billing, API keys, data export, delete organization.
    ManageBilling,
    /// Transfer ownership or make another OWNER.
    TransferOwnership,
    ViewAudit,
    /// Connect a sender mailbox of one's own and manage it (a MEMBER needs
    /// `can_send_messages`; see `may_manage_mailbox`).
    ConnectOwnMailbox,
    /// Manage every sender mailbox of the organization.
    ManageAllMailboxes,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Action::ReadWorkspace,
        Action::ManageLeads,
        Action::ManageTemplates,
        Action::SendMessages,
        Action::ManageMembers,
        Action::ManageSettings,
        Action::ViewBilling,
        Action::ManageBilling,
        Action::TransferOwnership,
        Action::ViewAudit,
        Action::ConnectOwnMailbox,
        Action::ManageAllMailboxes,
    ];
}

/// docs/product.md, "Roles": may `role` (with `flags`, which matter for MEMBER only) do `action`?
pub fn allows(role: Role, flags: MemberFlags, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Owner => true,
        Role::Admin => !matches!(action, ManageBilling | TransferOwnership),
        Role::Member => match action {
            ReadWorkspace => true,
            ManageLeads => flags.can_manage_leads,
            ManageTemplates => flags.can_manage_templates,
            SendMessages | ConnectOwnMailbox => flags.can_send_messages,
            _ => false,
        },
        Role::Viewer => action == ReadWorkspace,
    }
}

/// The sentence shown on the 403 page for a denied `action`.
pub fn denial_message(action: Action) -> &'static str {
    match action {
        Action::ReadWorkspace => "You are not a member of this organization.",
        Action::ManageLeads => "Your role does not allow managing leads. Ask an owner or admin.",
        Action::ManageTemplates => {
            "Your role does not allow managing templates and sequences. Ask an owner or admin."
        }
        Action::SendMessages => {
            "Your role does not allow sending messages or enrolling leads. Ask an owner or admin."
        }
        Action::ManageMembers => "Only owners and admins can manage members and invitations.",
        Action::ManageSettings => "Only owners and admins can change organization settings.",
        Action::ViewBilling => "Only owners and admins can see billing.",
        Action::ManageBilling => {
            "Only an owner can change the plan, billing, API keys, data export or delete the organization."
        }
        Action::TransferOwnership => "Only an owner can transfer ownership or make another owner.",
        Action::ViewAudit => "Only owners and admins can see the audit log.",
        Action::ConnectOwnMailbox => {
            "Your role does not allow connecting a mailbox. Ask an owner or admin."
        }
        Action::ManageAllMailboxes => {
            "Only owners and admins can manage other members' mailboxes."
        }
    }
}

/// May someone manage a mailbox owned by `mailbox_owner` (`None` = shared)?
/// Owners and admins manage all; a MEMBER only their own; a VIEWER none.
pub fn may_manage_mailbox(role: Role, flags: MemberFlags, is_own_mailbox: bool) -> bool {
    allows(role, flags, Action::ManageAllMailboxes)
        || (is_own_mailbox && allows(role, flags, Action::ConnectOwnMailbox))
}

/// May someone send a single message from a mailbox (`is_own_mailbox`: they
/// connected it)? Only who may send messages: owners and admins from any of
/// the organization's mailboxes, a MEMBER only from their own.
pub fn may_send_from_mailbox(role: Role, flags: MemberFlags, is_own_mailbox: bool) -> bool {
    allows(role, flags, Action::SendMessages)
        && (is_own_mailbox || allows(role, flags, Action::ManageAllMailboxes))
}

/// May `actor` invite, re-role, re-permission or remove a member whose role is `target`?
/// OWNER: anyone. ADMIN: anyone but an OWNER. Others: nobody.
pub fn may_manage_member(actor: Role, target: Role) -> bool {
    match actor {
        Role::Owner => true,
        Role::Admin => target != Role::Owner,
        Role::Member | Role::Viewer => false,
    }
}

/// May `actor` give someone (by invitation or re-role) the role `new_role`?
/// Only an OWNER makes OWNERs; an ADMIN assigns ADMIN, MEMBER, VIEWER.
pub fn may_assign_role(actor: Role, new_role: Role) -> bool {
    match actor {
        Role::Owner => true,
        Role::Admin => new_role != Role::Owner,
        Role::Member | Role::Viewer => false,
    }
}

/// True when changing a member of role `target` to `new_role` (`None` = removing them or
/// them leaving) would leave the organization with no OWNER. `owner_count` counts current OWNERs.
pub fn removes_last_owner(target: Role, new_role: Option<Role>, owner_count: i64) -> bool {
    target == Role::Owner && new_role != Some(Role::Owner) && owner_count <= 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use Action::*;

    const NO_LEADS: MemberFlags = MemberFlags {
        can_manage_leads: false,
        ..MemberFlags::DEFAULT_MEMBER
    };
    const NO_SEND: MemberFlags = MemberFlags {
        can_send_messages: false,
        ..MemberFlags::DEFAULT_MEMBER
    };
    const NO_TEMPLATES: MemberFlags = MemberFlags {
        can_manage_templates: false,
        ..MemberFlags::DEFAULT_MEMBER
    };

    #[test]
    fn a_member_sends_only_from_their_own_mailbox_owners_and_admins_from_any() {
        let d = MemberFlags::DEFAULT_MEMBER;
        assert!(may_send_from_mailbox(Role::Owner, d, false));
        assert!(may_send_from_mailbox(Role::Admin, d, false));
        assert!(may_send_from_mailbox(Role::Member, d, true));
        assert!(!may_send_from_mailbox(Role::Member, d, false));
        assert!(!may_send_from_mailbox(Role::Member, NO_SEND, true));
        assert!(!may_send_from_mailbox(Role::Viewer, d, true));
    }

    /// Expected rows in `Action::ALL` order: Owner, Admin, Member (default flags), Viewer.
    const MATRIX: [(Action, [bool; 4]); 12] = [
        (ReadWorkspace, [true, true, true, true]),
        (ManageLeads, [true, true, true, false]),
        (ManageTemplates, [true, true, true, false]),
        (SendMessages, [true, true, true, false]),
        (ManageMembers, [true, true, false, false]),
        (ManageSettings, [true, true, false, false]),
        (ViewBilling, [true, true, false, false]),
        (ManageBilling, [true, false, false, false]),
        (TransferOwnership, [true, false, false, false]),
        (ViewAudit, [true, true, false, false]),
        (ConnectOwnMailbox, [true, true, true, false]),
        (ManageAllMailboxes, [true, true, false, false]),
    ];

    #[test]
    fn full_matrix_with_default_flags() {
        assert_eq!(MATRIX.map(|(a, _)| a), Action::ALL);
        for (action, row) in MATRIX {
            for (role, expected) in Role::ALL.into_iter().zip(row) {
                let got = allows(role, MemberFlags::DEFAULT_MEMBER, action);
                assert_eq!(got, expected, "{role:?} {action:?}");
            }
        }
    }

    #[test]
    fn flags_never_matter_for_non_members() {
        for role in [Role::Owner, Role::Admin, Role::Viewer] {
            for action in Action::ALL {
                let with = allows(role, MemberFlags::DEFAULT_MEMBER, action);
                assert_eq!(allows(role, MemberFlags::NONE, action), with);
            }
        }
    }

    #[test]
    fn each_member_flag_gates_exactly_its_action() {
        let cases: [(MemberFlags, &[Action]); 3] = [
            (NO_LEADS, &[ManageLeads]),
            (NO_SEND, &[SendMessages, ConnectOwnMailbox]),
            (NO_TEMPLATES, &[ManageTemplates]),
        ];
        for (flags, gated) in cases {
            for action in Action::ALL {
                let expected = !gated.contains(&action)
                    && allows(Role::Member, MemberFlags::default(), action);
                assert_eq!(allows(Role::Member, flags, action), expected, "{action:?}");
            }
        }
    }

    #[test]
    fn member_without_flags_only_reads() {
        for action in Action::ALL {
            let got = allows(Role::Member, MemberFlags::NONE, action);
            assert_eq!(got, action == ReadWorkspace, "{action:?}");
        }
    }

    #[test]
    fn members_manage_only_their_own_mailbox() {
        let d = MemberFlags::DEFAULT_MEMBER;
        assert!(may_manage_mailbox(Role::Owner, d, false));
        assert!(may_manage_mailbox(Role::Admin, d, false));
        assert!(may_manage_mailbox(Role::Member, d, true));
        assert!(!may_manage_mailbox(Role::Member, d, false));
        assert!(!may_manage_mailbox(Role::Member, NO_SEND, true));
        assert!(!may_manage_mailbox(Role::Viewer, d, true));
    }

    #[test]
    fn default_flags_are_all_true() {
        assert_eq!(MemberFlags::default(), MemberFlags::DEFAULT_MEMBER);
        let f = MemberFlags::DEFAULT_MEMBER;
        assert!(f.can_manage_leads && f.can_send_messages && f.can_manage_templates);
    }

    #[test]
    fn every_denial_has_a_sentence() {
        for action in Action::ALL {
            let msg = denial_message(action);
            assert!(msg.ends_with('.') && msg.len() > 20, "{action:?}");
        }
        assert_eq!(
            denial_message(ManageLeads),
            "Your role does not allow managing leads. Ask an owner or admin."
        );
    }

    #[test]
    fn owner_manages_anyone_admin_never_an_owner() {
        for target in Role::ALL {
            assert!(may_manage_member(Role::Owner, target));
            assert_eq!(
                may_manage_member(Role::Admin, target),
                target != Role::Owner
            );
            assert!(!may_manage_member(Role::Member, target));
            assert!(!may_manage_member(Role::Viewer, target));
        }
    }

    #[test]
    fn only_owner_assigns_owner() {
        for role in Role::ALL {
            assert!(may_assign_role(Role::Owner, role));
            assert_eq!(may_assign_role(Role::Admin, role), role != Role::Owner);
            assert!(!may_assign_role(Role::Member, role));
            assert!(!may_assign_role(Role::Viewer, role));
        }
    }

    #[test]
    fn last_owner_is_kept() {
        assert!(removes_last_owner(Role::Owner, None, 1));
        assert!(removes_last_owner(Role::Owner, Some(Role::Admin), 1));
        assert!(!removes_last_owner(Role::Owner, Some(Role::Owner), 1));
        assert!(!removes_last_owner(Role::Owner, None, 2));
        assert!(!removes_last_owner(Role::Admin, None, 1));
        assert!(!removes_last_owner(Role::Viewer, None, 0));
    }

    #[test]
    fn role_strings_round_trip_exactly() {
        for role in Role::ALL {
            assert_eq!(Role::from_str(role.as_str()), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        assert_eq!(Role::Viewer.label(), "Viewer");
        assert!(Role::from_str("owner").is_err());
        assert_eq!(Role::from_str("ROOT").unwrap_err().kind, "role");
    }
}
