//! The event catalogue: every type an endpoint can subscribe to, and the
//! builders of each event's `data`, which is the API's JSON for the object
//! (`/api/v1`). One module, so the OpenAPI `webhooks` section can be
//! generated from `EventType::ALL` and these builders.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::db::conversations::MessageOutcome;
use crate::db::enrollments::Enrollment;
use crate::db::leads::Lead;
use crate::db::messages::Message;
use crate::db::models::Subscription;
use crate::domain::leads::LeadFields;
use crate::ids::{LeadId, MailboxId, OrgId, UserId};

/// An event type as stored and sent (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    LeadCreated,
    LeadUpdated,
    LeadDeleted,
    LeadStatusChanged,
    MessageSent,
    MessageFailed,
    MessageBounced,
    MessageReplied,
    EnrollmentCreated,
    EnrollmentCompleted,
    MemberJoined,
    MemberRemoved,
    SubscriptionUpdated,
    UsageLimitReached,
    MailboxPaused,
    /// "Send test event": only to the endpoint it was asked for.
    Test,
}

impl EventType {
    /// The types an endpoint can subscribe to (the test event is not one).
    pub const ALL: [EventType; 15] = [
        EventType::LeadCreated,
        EventType::LeadUpdated,
        EventType::LeadDeleted,
        EventType::LeadStatusChanged,
        EventType::MessageSent,
        EventType::MessageFailed,
        EventType::MessageBounced,
        EventType::MessageReplied,
        EventType::EnrollmentCreated,
        EventType::EnrollmentCompleted,
        EventType::MemberJoined,
        EventType::MemberRemoved,
        EventType::SubscriptionUpdated,
        EventType::UsageLimitReached,
        EventType::MailboxPaused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LeadCreated => "lead.created",
            EventType::LeadUpdated => "lead.updated",
            EventType::LeadDeleted => "lead.deleted",
            EventType::LeadStatusChanged => "lead.status_changed",
            EventType::MessageSent => "message.sent",
            EventType::MessageFailed => "message.failed",
            EventType::MessageBounced => "message.bounced",
            EventType::MessageReplied => "message.replied",
            EventType::EnrollmentCreated => "enrollment.created",
            EventType::EnrollmentCompleted => "enrollment.completed",
            EventType::MemberJoined => "member.joined",
            EventType::MemberRemoved => "member.removed",
            EventType::SubscriptionUpdated => "subscription.updated",
            EventType::UsageLimitReached => "usage.limit_reached",
            EventType::MailboxPaused => "mailbox.paused",
            EventType::Test => "webhook.test",
        }
    }

    /// A subscribable type by name; None for anything else.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// The body every delivery sends: the envelope around `data`.
pub fn envelope(
    event_id: uuid::Uuid,
    kind: &str,
    created_at: DateTime<Utc>,
    org: OrgId,
    data: &Value,
) -> Value {
    json!({
        "id": event_id,
        "type": kind,
        "created_at": created_at,
        "organization_id": org,
        "data": data,
    })
}

/// A lead as `GET /api/v1/leads/{id}` shows it.
pub fn lead(l: &Lead) -> Value {
    let mut out = serde_json::to_value(&l.fields).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut out {
        map.insert("id".into(), json!(l.id));
        map.insert("owner_user_id".into(), json!(l.owner_user_id));
        map.insert("created_at".into(), json!(l.created_at));
        map.insert("updated_at".into(), json!(l.updated_at));
    }
    out
}

/// A lead just inserted by an import (no row read back).
pub fn imported_lead(
    id: LeadId,
    fields: &LeadFields,
    owner: Option<UserId>,
    at: DateTime<Utc>,
) -> Value {
    lead(&Lead {
        id,
        fields: fields.clone(),
        owner_user_id: owner,
        created_at: at,
        updated_at: at,
    })
}

/// A lead whose status changed: the lead and the status it had before.
pub fn lead_status_changed(l: &Lead, from: &str) -> Value {
    json!({ "lead": lead(l), "previous_status": from })
}

/// A message (without its body, which can be long and personal), before
/// anything came back: `reply` and `bounce` are `null`.
pub fn message(m: &Message) -> Value {
    message_with_outcome(m, &MessageOutcome::default())
}

/// A message with what came back for it: its latest reply and its bounce
/// (each `null` when there is none), as the API's message shows them.
pub fn message_with_outcome(m: &Message, outcome: &MessageOutcome) -> Value {
    json!({
        "id": m.id,
        "lead_id": m.lead_id,
        "template_id": m.template_id,
        "enrollment_id": m.enrollment_id,
        "step_position": m.step_position,
        "to_email": m.to_email,
        "subject": m.subject,
        "status": m.status,
        "error": m.error,
        "sender_user_id": m.sender_user_id,
        "created_at": m.created_at,
        "sent_at": m.sent_at,
        "reply": outcome.reply,
        "bounce": outcome.bounce,
    })
}

/// An enrolment of a lead in a sequence.
pub fn enrollment(e: &Enrollment) -> Value {
    json!({
        "id": e.id,
        "lead_id": e.lead_id,
        "sequence_id": e.sequence_id,
        "status": e.status,
        "next_step": e.next_step,
        "next_run_at": e.next_run_at,
        "enrolled_by": e.enrolled_by,
        "created_at": e.created_at,
    })
}

/// A member who joined or left (removed, or left on their own).
pub fn member(user_id: UserId, name: &str, email: &str, role: &str) -> Value {
    json!({ "user_id": user_id, "name": name, "email": email, "role": role })
}

/// A limit of the plan that was just used up.
pub fn usage_limit_reached(limit: &str, plan: &str, used: i64, value: i64, period: &str) -> Value {
    json!({ "limit": limit, "plan": plan, "used": used, "value": value, "period": period })
}

/// A mailbox that stopped sending: `status` is `needs_attention` (its
/// login failed) or `paused` (its bounce rate); `reason` says which.
pub fn mailbox_paused(id: MailboxId, email: &str, status: &str, reason: &str) -> Value {
    json!({ "mailbox_id": id, "email": email, "status": status, "reason": reason })
}

/// The subscription: the plan bought and the one that applies now.
pub fn subscription(s: &Subscription, now: DateTime<Utc>) -> Value {
    json!({
        "organization_id": s.organization_id,
        "plan": s.plan.as_str(),
        "effective_plan": s.effective_plan(now).as_str(),
        "status": s.status.as_str(),
        "interval": s.billing_interval.as_str(),
        "trial_ends_at": s.trial_ends_at,
        "current_period_start": s.current_period_start,
        "current_period_end": s.current_period_end,
        "cancel_at_period_end": s.cancel_at_period_end,
        "scheduled_plan": s.scheduled_plan.map(|p| p.as_str()),
    })
}

/// What an event of type `t` is about, for the OpenAPI `webhooks` section.
pub fn summary(t: EventType) -> &'static str {
    match t {
        EventType::LeadCreated => "A lead was added (page, API or CSV import; one event per lead).",
        EventType::LeadUpdated => "A lead's fields or owner changed.",
        EventType::LeadDeleted => "A lead was deleted; `data` is the lead as it was.",
        EventType::LeadStatusChanged => {
            "A lead's status changed; `data` has the lead and its previous status."
        }
        EventType::MessageSent => "A message was delivered to the mail server.",
        EventType::MessageFailed => "A message could not be delivered.",
        EventType::MessageBounced => {
            "A message bounced for good (a 5.x.x delivery report or refusal); its address is suppressed."
        }
        EventType::MessageReplied => {
            "The lead replied to a message (read from the sending mailbox's inbox)."
        }
        EventType::EnrollmentCreated => "A lead was enrolled in a sequence.",
        EventType::EnrollmentCompleted => "An enrolment sent its last step.",
        EventType::MemberJoined => "Someone joined the organization.",
        EventType::MemberRemoved => "A member was removed or left.",
        EventType::SubscriptionUpdated => {
            "The plan, billing interval or subscription status changed."
        }
        EventType::UsageLimitReached => "A plan limit was used up for its period.",
        EventType::MailboxPaused => {
            "A sender mailbox stopped sending: its login failed or its bounce rate passed 5 %."
        }
        EventType::Test => "A test event sent from the endpoint's page.",
    }
}

/// JSON Schema of the `data` of an event of type `t`: the shapes the
/// builders above write (leads refer to the API's `LeadOut`).
pub fn data_schema(t: EventType) -> Value {
    let lead = json!({ "$ref": "#/components/schemas/LeadOut" });
    let uuid = json!({ "type": "string", "format": "uuid" });
    let uuid_or_null = json!({ "type": ["string", "null"], "format": "uuid" });
    let time = json!({ "type": "string", "format": "date-time" });
    let time_or_null = json!({ "type": ["string", "null"], "format": "date-time" });
    let text = json!({ "type": "string" });
    let text_or_null = json!({ "type": ["string", "null"] });
    let object = |props: Value| {
        let required: Vec<Value> = props
            .as_object()
            .map(|m| m.keys().map(|k| Value::String(k.clone())).collect())
            .unwrap_or_default();
        json!({ "type": "object", "properties": props, "required": required })
    };
    let nullable = |schema: Value| json!({ "oneOf": [schema, { "type": "null" }] });
    match t {
        EventType::LeadCreated | EventType::LeadUpdated | EventType::LeadDeleted => lead,
        EventType::LeadStatusChanged => object(json!({ "lead": lead, "previous_status": text })),
        EventType::MessageSent
        | EventType::MessageFailed
        | EventType::MessageBounced
        | EventType::MessageReplied => object(json!({
            "id": uuid, "lead_id": uuid, "template_id": uuid_or_null,
            "enrollment_id": uuid_or_null, "step_position": { "type": ["integer", "null"] },
            "to_email": text, "subject": text, "status": text, "error": text_or_null,
            "sender_user_id": uuid_or_null, "created_at": time, "sent_at": time_or_null,
            "reply": nullable(object(json!({
                "received_at": time, "from": text, "subject": text, "text": text,
            }))),
            "bounce": nullable(object(json!({
                "bounced_at": time, "status": text_or_null, "diagnostic": text_or_null,
            }))),
        })),
        EventType::EnrollmentCreated | EventType::EnrollmentCompleted => object(json!({
            "id": uuid, "lead_id": uuid, "sequence_id": uuid, "status": text,
            "next_step": { "type": "integer" }, "next_run_at": time_or_null,
            "enrolled_by": uuid_or_null, "created_at": time,
        })),
        EventType::MemberJoined | EventType::MemberRemoved => object(json!({
            "user_id": uuid, "name": text, "email": text, "role": text,
        })),
        EventType::SubscriptionUpdated => object(json!({
            "organization_id": uuid, "plan": text, "effective_plan": text, "status": text,
            "interval": text, "trial_ends_at": time_or_null, "current_period_start": time,
            "current_period_end": time, "cancel_at_period_end": { "type": "boolean" },
            "scheduled_plan": text_or_null,
        })),
        EventType::UsageLimitReached => object(json!({
            "limit": text, "plan": text, "used": { "type": "integer" },
            "value": { "type": "integer" }, "period": text,
        })),
        EventType::MailboxPaused => object(json!({
            "mailbox_id": uuid, "email": text, "status": text, "reason": text,
        })),
        EventType::Test => object(json!({ "endpoint_id": uuid, "message": text })),
    }
}

/// JSON Schema of a whole delivery body of type `t`: the envelope.
pub fn envelope_schema(t: EventType) -> Value {
    json!({
        "type": "object",
        "required": ["id", "type", "created_at", "organization_id", "data"],
        "properties": {
            "id": { "type": "string", "format": "uuid", "description": "Also the `webhook-id` header; the same on every retry." },
            "type": { "const": t.as_str() },
            "created_at": { "type": "string", "format": "date-time" },
            "organization_id": { "type": "string", "format": "uuid" },
            "data": data_schema(t),
        }
    })
}

/// The test event's data.
pub fn test(endpoint_id: uuid::Uuid) -> Value {
    json!({ "endpoint_id": endpoint_id, "message": "This is a test event from Lead Dashboard." })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses_back_and_the_test_event_is_not_subscribable() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("webhook.test"), None);
        assert_eq!(EventType::parse("lead.exploded"), None);
    }
}
