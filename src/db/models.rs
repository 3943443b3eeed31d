//! Row types shared by several features: users, organizations, memberships
//! and subscriptions. Feature-specific rows live in their feature module.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{organization_members, organizations, subscriptions, users};
use crate::domain::billing::Interval;
use crate::domain::plans::Plan;
use crate::domain::roles::{MemberFlags, Role};
use crate::domain::settings::TimeZone;
use crate::domain::subscription::Status;
use crate::ids::{OrgId, UserId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub time_zone: TimeZone,
    pub brand_name: Option<String>,
    pub brand_color: Option<String>,
    pub logo_content_type: Option<String>,
    pub deletion_scheduled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Why nothing of an organization can change once its deletion date has come.
pub const BEING_DELETED: &str =
    "This organization is being deleted: its deletion date has passed. \
     Its data can still be read and exported until it is erased, but nothing can be changed.";

impl Organization {
    /// The organization's time zone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.tz()
    }

    /// True from the scheduled deletion date on: the organization is then
    /// read-only until the erasure job removes it.
    pub fn is_being_deleted(&self, now: DateTime<Utc>) -> bool {
        self.deletion_scheduled_at.is_some_and(|date| date <= now)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organization_members)]
pub struct Member {
    pub organization_id: OrgId,
    pub user_id: UserId,
    pub role: Role,
    pub can_manage_leads: bool,
    pub can_send_messages: bool,
    pub can_manage_templates: bool,
    pub joined_at: DateTime<Utc>,
}

impl Member {
    pub fn flags(&self) -> MemberFlags {
        MemberFlags {
            can_manage_leads: self.can_manage_leads,
            can_send_messages: self.can_send_messages,
            can_manage_templates: self.can_manage_templates,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subscriptions)]
pub struct Subscription {
    pub organization_id: OrgId,
    pub plan: Plan,
    pub status: Status,
    pub billing_interval: Interval,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub past_due_since: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub scheduled_plan: Option<Plan>,
    pub has_payment_method: bool,
    pub provider: String,
    pub provider_customer_id: Option<String>,
}

impl Subscription {
    /// The plan whose limits and features apply now (docs/product.md, "Limits").
    pub fn effective_plan(&self, now: DateTime<Utc>) -> Plan {
        crate::domain::subscription::effective_plan(
            self.plan,
            self.status,
            self.past_due_since,
            now,
        )
    }

    pub fn trial_days_left(&self, now: DateTime<Utc>) -> i64 {
        if self.status != Status::Trial {
            return 0;
        }
        crate::domain::subscription::trial_days_left(self.trial_ends_at, now)
    }
}
