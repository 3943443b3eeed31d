//! Typed ids: an `OrgId` cannot be passed where a `LeadId` is expected.
//! They wrap uuids (v7 for new rows, so ids sort by creation time).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! typed_id {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh time-ordered id.
            pub fn new() -> Self {
                $name(Uuid::now_v7())
            }
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                $name(u)
            }
        }
    )*};
}

/// Calls `$m!(UserId, OrgId, …)` with every typed id, so the list exists once
/// (the SQL mapping in `db` walks it too).
macro_rules! with_every_id {
    ($m:ident) => {
        $m!(
            UserId,
            OrgId,
            SessionId,
            LeadId,
            TemplateId,
            SequenceId,
            StepId,
            EnrollmentId,
            MessageId,
            InvitationId,
            InvoiceId,
            ApiKeyId,
            NoticeId,
            SuppressionId,
            MailboxId,
            InboundMessageId,
            StripeOperationId,
        );
    };
}
pub(crate) use with_every_id;

with_every_id!(typed_id);

/// Owner key of global templates and sequences (see the schema notes).
pub const GLOBAL_OWNER: Uuid = Uuid::nil();
