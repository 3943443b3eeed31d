//! `Tenant`: proof that the current user is a member of the current
//! organization. Only a membership row (or a background job acting for an
//! organization) creates one, and every tenant query in `db/` starts from it.

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

    /// For background jobs that act for an organization with no user
    /// (trial expiry, sequence steps, mail delivery).
    pub(crate) fn system(org: OrgId) -> Tenant {
        Tenant { org, user: None }
    }

    /// Loads the membership of `user` in `org`; NotFound when there is none.
    pub fn for_member(conn: &mut PgConnection, org: OrgId, user: UserId) -> QueryResult<Tenant> {
        organization_members::table
            .find((org.uuid(), user.uuid()))
            .select(organization_members::user_id)
            .first::<uuid::Uuid>(conn)
            .map(|_| Tenant::from_membership_row(org, user))
    }

    pub fn org_id(&self) -> OrgId {
        self.org
    }

    /// The acting user; `None` for background jobs.
    pub fn user_id(&self) -> Option<UserId> {
        self.user
    }
}
