//! A payment-provider event (Stripe's shape) as read from the webhook body,
//! what processing one did, and the configuration its effects need. Shared
//! by the event log (`events`) and the state changes (`sync`).

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::billing::stripe::StripeClient;
use crate::domain::vat::VatSetup;
use crate::ids::OrgId;

/// A provider event as delivered to the webhook.
#[derive(Debug, Clone)]
pub struct ProviderEvent {
    pub id: String,
    pub kind: String,
    pub created: DateTime<Utc>,
    pub object: Value,
}

impl ProviderEvent {
    /// Reads the fields we use from an event's JSON; `None` if malformed.
    pub fn parse(body: &[u8]) -> Option<ProviderEvent> {
        Self::from_value(&serde_json::from_slice(body).ok()?)
    }

    pub(super) fn from_value(v: &Value) -> Option<ProviderEvent> {
        Some(ProviderEvent {
            id: v.get("id")?.as_str()?.to_string(),
            kind: v.get("type")?.as_str()?.to_string(),
            created: Utc.timestamp_opt(v.get("created")?.as_i64()?, 0).single()?,
            object: v.get("data")?.get("object")?.clone(),
        })
    }

    /// The event as stored while it waits for its organization.
    pub(super) fn to_value(&self) -> Value {
        serde_json::json!({
            "id": self.id, "type": self.kind, "created": self.created.timestamp(),
            "data": { "object": self.object },
        })
    }

    pub(super) fn str_at(&self, path: &[&str]) -> Option<&str> {
        path.iter()
            .try_fold(&self.object, |v, key| v.get(*key))
            .and_then(Value::as_str)
    }

    /// A unix time field of the object, or of its first subscription item
    /// (where newer API versions keep the period).
    pub(super) fn time_at(&self, key: &str) -> Option<DateTime<Utc>> {
        let secs = self.object.get(key).and_then(Value::as_i64).or_else(|| {
            self.object
                .pointer(&format!("/items/data/0/{key}"))
                .and_then(Value::as_i64)
        })?;
        Utc.timestamp_opt(secs, 0).single()
    }

    /// The Stripe customer the event is about (`customer`, or the object
    /// itself when it is a customer).
    pub(super) fn customer(&self) -> Option<&str> {
        self.str_at(&["customer"])
    }

    /// The organization the signed event names itself, if any.
    pub(super) fn named_org(&self) -> Option<OrgId> {
        self.str_at(&["client_reference_id"])
            .or_else(|| self.str_at(&["metadata", "organization_id"]))
            .and_then(|s| s.parse::<OrgId>().ok())
    }
}

/// What processing an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Seen before: nothing done.
    Duplicate,
    /// Older than the state already applied: recorded, state untouched.
    Stale,
    /// About a customer not linked yet: kept, applied when the link arrives.
    Pending,
    /// Not about a known organization or not a type we handle.
    Ignored,
}

/// What an event's effects take from the configuration: the public URL
/// (links in the mail an event may cause), the VAT setup (invoices) and the
/// Stripe client (to end a second subscription at once).
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a> {
    pub site: &'a str,
    pub vat: &'a VatSetup,
    pub stripe: Option<&'a StripeClient>,
}
