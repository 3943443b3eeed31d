//! Extractors handlers use to learn who is asking. `CurrentOrg` is the only
//! way to a `Tenant`; it answers "sign in" or "choose an organization" itself,
//! and `require` checks the role matrix of `domain::roles`.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use chrono::{DateTime, Utc};

use crate::auth::middleware::Identity;
use crate::db::context::{OrgContext, SessionContext};
use crate::db::models::BEING_DELETED;
use crate::db::Tenant;
use crate::domain::roles::{self, Action, Role};
use crate::error::AppError;
use crate::ids::{OrgId, UserId};

fn identity(req: &HttpRequest) -> Result<Identity, AppError> {
    req.extensions()
        .get::<Identity>()
        .cloned()
        .ok_or_else(|| AppError::unexpected("identity middleware not installed"))
}

/// Anyone; carries the session when there is one, and the CSRF token for forms.
#[derive(Debug, Clone)]
pub struct MaybeUser {
    pub session: Option<SessionContext>,
    pub csrf: String,
    /// The instant this request happens at (one per request).
    pub now: DateTime<Utc>,
}

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identity(req).map(|id| MaybeUser {
            session: id.session,
            csrf: id.csrf_token,
            now: id.now,
        }))
    }
}

/// A signed-in user (organization not required).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub session: SessionContext,
    pub csrf: String,
    /// The instant this request happens at (one per request).
    pub now: DateTime<Utc>,
}

impl CurrentUser {
    pub fn id(&self) -> UserId {
        self.session.user_id()
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identity(req).and_then(|id| match id.session {
            Some(session) => Ok(CurrentUser {
                session,
                csrf: id.csrf_token,
                now: id.now,
            }),
            None => Err(AppError::Unauthenticated),
        }))
    }
}

/// A signed-in member working in their current organization.
#[derive(Debug, Clone)]
pub struct CurrentOrg {
    pub user: CurrentUser,
    pub ctx: OrgContext,
}

impl CurrentOrg {
    pub fn tenant(&self) -> Tenant {
        self.ctx.tenant
    }

    pub fn org_id(&self) -> OrgId {
        self.ctx.tenant.org_id()
    }

    pub fn user_id(&self) -> UserId {
        self.user.id()
    }

    /// The instant this request happens at: every date, period and expiry
    /// of one request is judged at this one time.
    pub fn now(&self) -> DateTime<Utc> {
        self.user.now
    }

    pub fn role(&self) -> Role {
        self.ctx.member.role
    }

    pub fn can(&self, action: Action) -> bool {
        roles::allows(self.role(), self.ctx.member.flags(), action)
    }

    /// 403 unless the user has confirmed their email address: nobody may
    /// invite others or send mail from an unverified address.
    pub fn require_verified_email(&self) -> Result<(), AppError> {
        if self.user.session.user.email_verified_at.is_some() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "Please confirm your email address first: use the link we sent you, or resend it from your account page.",
            ))
        }
    }

    /// 403 with a clear message unless the role matrix allows `action`.
    pub fn require(&self, action: Action) -> Result<(), AppError> {
        if self.can(action) {
            Ok(())
        } else {
            Err(AppError::forbidden(roles::denial_message(action)))
        }
    }

    /// The organization's tenant, once the role matrix allows `action`
    /// (403 otherwise): the opening of most handlers.
    pub fn tenant_for(&self, action: Action) -> Result<Tenant, AppError> {
        self.require(action)?;
        Ok(self.tenant())
    }
}

impl FromRequest for CurrentOrg {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identity(req).and_then(|id| {
            let session = id.session.ok_or(AppError::Unauthenticated)?;
            let ctx = session.org.clone().ok_or(AppError::NoOrganization)?;
            // From its deletion date on, an organization only reads.
            if !req.method().is_safe() && ctx.org.is_being_deleted(id.now) {
                return Err(AppError::Conflict(BEING_DELETED.into()));
            }
            Ok(CurrentOrg {
                user: CurrentUser {
                    session,
                    csrf: id.csrf_token,
                    now: id.now,
                },
                ctx,
            })
        }))
    }
}
