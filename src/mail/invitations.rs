//! The invitation email: who invites whom, to which organization and role,
//! and until when the link works (a date in the organization's time zone).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use diesel::PgConnection;

use super::{link, queue, MailText};
use crate::auth::CurrentOrg;
use crate::db::outbox::MailKind;
use crate::domain::roles::Role;
use crate::error::AppResult;
use crate::ids::OrgId;
use crate::state::AppState;
use crate::views::format;

/// Subject and text of the invitation email.
pub fn invitation(
    org: &str,
    inviter: &str,
    role: Role,
    link: &str,
    tz: Tz,
    expires_at: DateTime<Utc>,
) -> MailText {
    MailText {
        subject: format!("{inviter} invited you to {org} on Lead Dashboard"),
        body: format!(
            "Hello,\n\n{inviter} invited you to join {org} on Lead Dashboard as {role}.\n\n\
             Accept the invitation:\n{link}\n\n\
             The link works once and until {until}. If you were not expecting this \
             invitation, you can ignore this email.\n",
            role = role.label().to_lowercase(),
            until = format::date(expires_at, tz),
        ),
    }
}

/// What an invitation email needs from the request, movable into a transaction.
pub struct MailContext {
    org: OrgId,
    org_name: String,
    inviter: String,
    public_url: String,
    tz: Tz,
}

impl MailContext {
    pub fn of(state: &AppState, cur: &CurrentOrg) -> MailContext {
        MailContext {
            org: cur.org_id(),
            org_name: cur.ctx.org.name.clone(),
            inviter: cur.user.session.user.name.clone(),
            public_url: state.config.public_url.clone(),
            tz: cur.ctx.org.tz(),
        }
    }

    /// Queues the invitation email in the caller's transaction.
    pub fn enqueue(
        &self,
        conn: &mut PgConnection,
        to: &str,
        role: Role,
        token: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        let url = link(&self.public_url, &format!("/invitations/{token}"));
        let text = invitation(
            &self.org_name,
            &self.inviter,
            role,
            &url,
            self.tz,
            expires_at,
        );
        queue(conn, MailKind::Invitation, Some(self.org), to, &text, now)?;
        Ok(())
    }
}
