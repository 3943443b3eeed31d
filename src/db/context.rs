//! The per-request context: session, user, and — when the cookie names a
//! current organization the user still belongs to — membership, organization
//! and subscription, all in ONE query. A removed member simply gets no
//! organization here and is sent to the organization picker.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::models::{Member, Organization, Subscription, User};
use crate::db::schema::{organization_members, organizations, sessions, subscriptions, users};
use crate::db::Tenant;
use crate::ids::{OrgId, SessionId, UserId};
use crate::tokens;

/// A signed-in session as loaded for one request.
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub session_id: SessionId,
    pub csrf_token: String,
    pub last_seen_at: DateTime<Utc>,
    pub user: User,
    pub org: Option<OrgContext>,
}

/// The current organization, proven by a membership row.
#[derive(Debug, Clone)]
pub struct OrgContext {
    pub tenant: Tenant,
    pub member: Member,
    pub org: Organization,
    pub subscription: Subscription,
}

impl SessionContext {
    pub fn user_id(&self) -> UserId {
        self.user.id
    }
}

type Row = (
    (SessionId, String, DateTime<Utc>),
    User,
    Option<Member>,
    Option<Organization>,
    Option<Subscription>,
);

/// Loads the live session for a cookie token: not expired, not idle longer
/// than `idle`; with `org` when the user is a member of it. `Ok(None)` when
/// there is no such session.
pub fn load(
    conn: &mut PgConnection,
    token: &str,
    org: Option<OrgId>,
    idle: Duration,
    now: DateTime<Utc>,
) -> QueryResult<Option<SessionContext>> {
    // The nil id belongs to no organization: no current organization.
    let org = org.unwrap_or(OrgId(Uuid::nil()));
    let row: Option<Row> = sessions::table
        .inner_join(users::table)
        .left_join(
            organization_members::table.on(organization_members::organization_id
                .eq(org)
                .and(organization_members::user_id.eq(sessions::user_id))),
        )
        .left_join(
            organizations::table.on(organizations::id.eq(organization_members::organization_id)),
        )
        .left_join(subscriptions::table.on(subscriptions::organization_id.eq(organizations::id)))
        .filter(sessions::token_hash.eq(tokens::hash(token)))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(now - idle))
        .select((
            (sessions::id, sessions::csrf_token, sessions::last_seen_at),
            User::as_select(),
            Option::<Member>::as_select(),
            Option::<Organization>::as_select(),
            Option::<Subscription>::as_select(),
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(into_context))
}

fn into_context(row: Row) -> SessionContext {
    let ((session_id, csrf_token, last_seen_at), user, member, org, subscription) = row;
    let org = match (member, org, subscription) {
        (Some(member), Some(org), Some(subscription)) => Some(OrgContext {
            tenant: Tenant::from_membership_row(org.id, user.id),
            member,
            org,
            subscription,
        }),
        _ => None,
    };
    SessionContext {
        session_id,
        csrf_token,
        last_seen_at,
        user,
        org,
    }
}
