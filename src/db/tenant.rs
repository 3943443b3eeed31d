//! `Tenant`: proof that the current user is a member of the current
//! organization. Only a membership row creates one for a request; acting for
//! an organization with no user needs `SystemAccess`, a capability that the
//! server start-up (for its jobs) and the CLI grant once and routes never
//! hold. Every tenant query in `db/` starts from a `Tenant`.

use diesel::prelude::*;

use crate::db::schema::organization_members;
use crate::ids::{OrgId, UserId};

/// The organization whose data a request may touch, and who is acting.
/// Fields are private: a `Tenant` cannot be made up from a request parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenant {
    org: OrgId,
    user: Option<UserId>,
}

impl Tenant {
    /// Built by the request context loader from a membership row it just read.
    pub(crate) fn from_membership_row(org: OrgId, user: UserId) -> Tenant {
        Tenant {
            org,
            user: Some(user),
        }
    }

    /// An organization with no acting user. Inside `db` only: for a payment
    /// event whose signature was verified (the event names the organization)
    /// and for `SystemAccess::tenant`.
    pub(in crate::db) fn system(org: OrgId) -> Tenant {
        Tenant { org, user: None }
    }

    /// The organization an API key belongs to, acting with no user (the
    /// key's scope, not a role, says what it may do). Only the key lookup
    /// (`api_keys::authenticate`) makes one, from the row the key's hash found.
    pub(in crate::db) fn for_api_key(org: OrgId) -> Tenant {
        Tenant { org, user: None }
    }

    /// The organization an unsubscribe link was sent for, acting with no
    /// user. Only `suppression::unsubscribe` makes one, from the row the
    /// link's token hash found.
    pub(in crate::db) fn for_unsubscribe_link(org: OrgId) -> Tenant {
        Tenant { org, user: None }
    }

    /// Loads the membership of `user` in `org`; NotFound when there is none.
    pub fn for_member(conn: &mut PgConnection, org: OrgId, user: UserId) -> QueryResult<Tenant> {
        organization_members::table
            .find((org, user))
            .select(organization_members::user_id)
            .first::<uuid::Uuid>(conn)
            .map(|_| Tenant::from_membership_row(org, user))
    }

    pub fn org_id(&self) -> OrgId {
        self.org
    }

    /// The `owner_key` of the organization's own templates and sequences
    /// (global ones have `GLOBAL_OWNER`).
    pub fn owner_key(&self) -> uuid::Uuid {
        self.org.uuid()
    }

    /// The acting user; `None` for background jobs.
    pub fn user_id(&self) -> Option<UserId> {
        self.user
    }
}

/// Capability to act for any organization with no user (trial expiry,
/// sequence steps, mail delivery, operator commands). The private field
/// means only `grant_at_startup` makes one; `server` hands it to the jobs and
/// `cli` to its commands. Routes never receive one, so no request can mint a
/// `Tenant` for an organization it is not a member of.
#[derive(Debug, Clone, Copy)]
pub struct SystemAccess {
    _private: (),
}

impl SystemAccess {
    /// Called by the server start-up and the CLI only (checked by a test).
    pub fn grant_at_startup() -> SystemAccess {
        SystemAccess { _private: () }
    }

    /// The tenant of `org`, acting as the system.
    pub fn tenant(&self, org: OrgId) -> Tenant {
        Tenant::system(org)
    }
}

#[cfg(test)]
mod tests {
    /// Files of `src/` that may grant `SystemAccess`.
    const GRANTERS: [&str; 2] = ["server.rs", "cli.rs"];

    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn only_start_up_and_the_cli_grant_system_access() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let needle = ["SystemAccess::", "grant_at_startup()"].concat();
        let offenders: Vec<_> = files
            .iter()
            .filter(|p| !GRANTERS.iter().any(|g| p.ends_with(g)))
            .filter(|p| std::fs::read_to_string(p).is_ok_and(|s| s.contains(&needle)))
            .collect();
        assert!(
            offenders.is_empty(),
            "SystemAccess granted in {offenders:?}"
        );
    }
}
