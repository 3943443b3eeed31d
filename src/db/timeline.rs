//! A lead's activity timeline: what happened to one lead, newest first, in
//! keyset pages, read in one statement from the rows that already record
//! it — status changes (`lead_status_changes`, its creation included),
//! messages with their delivery state, sequence enrolments and where they
//! stand, field edits (`lead_edits`, written by a trigger of migration
//! `800000_lead_edits` on every update of a lead), and what came back from
//! the lead (`inbound_messages`: replies with their text, automatic answers,
//! bounces with their status), so the page reads as the conversation.
//!
//! An enrolment shows twice at most: when it began, and its present state
//! when that is paused, completed or stopped (at the time it got there);
//! earlier pauses that were resumed are not kept.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Nullable, Timestamptz, Uuid as SqlUuid};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::db::cursor::{Cursor, Page, Position};
use crate::db::Tenant;
use crate::ids::{LeadId, UserId};

/// Entries on one page of the timeline.
pub const PAGE_SIZE: i64 = 20;

/// One thing that happened to a lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub at: DateTime<Utc>,
    /// Unique within the lead's timeline: the id of the row it comes from
    /// (derived from the enrolment's id for an enrolment's present state).
    pub key: Uuid,
    /// Who did it: `None` for the API, the lead itself (an unsubscribe
    /// link) and the app's own jobs.
    pub actor: Option<UserId>,
    pub activity: Activity,
}

impl Entry {
    pub fn cursor(&self) -> Cursor<Uuid> {
        Cursor {
            created_at: self.at,
            id: self.key,
        }
    }
}

/// What happened, with what the page needs to say it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activity {
    /// The lead was added with `status`, from `source` (page, csv, api).
    Created { status: String, source: String },
    /// Its status moved; `note` says why when the app moved it (e.g.
    /// "reply detected").
    Status {
        from: String,
        to: String,
        note: Option<String>,
    },
    /// Mail that came back: `kind` is `reply`, `auto_reply`, `bounce` or
    /// `soft_bounce`; `text` is plain text (never HTML) to show escaped.
    Inbound {
        #[serde(rename = "inbound_kind")]
        kind: String,
        from: String,
        subject: String,
        text: String,
        bounce_status: Option<String>,
    },
    /// A message to the lead, with its delivery state; `step` and
    /// `sequence` when a sequence sent it.
    Message {
        id: Uuid,
        subject: String,
        status: String,
        error: Option<String>,
        step: Option<i32>,
        sequence: Option<String>,
    },
    /// It was enrolled in a sequence (`None`: the sequence was deleted).
    Enrolled {
        sequence_id: Uuid,
        sequence: Option<String>,
    },
    /// An enrolment paused, completed or stopped, with the reason given.
    EnrolmentState {
        sequence_id: Uuid,
        sequence: Option<String>,
        status: String,
        reason: Option<String>,
    },
    /// Fields changed, each from one value to another (`owner` holds user
    /// ids); in field-name order.
    Edited { changes: BTreeMap<String, Change> },
}

/// A field's value before and after an edit, as stored (strings, a list of
/// tags, a user id, or null).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Change {
    pub from: Value,
    pub to: Value,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    key: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    actor: Option<Uuid>,
    #[diesel(sql_type = Jsonb)]
    entry: Value,
}

/// Every source of the timeline, as (at, key, actor, entry) rows of lead
/// `$2` in organization `$1`.
const ENTRIES_SQL: &str = "
    SELECT c.changed_at AS at, c.id AS key, c.changed_by AS actor,
           CASE WHEN c.from_status IS NULL
                THEN jsonb_build_object('kind', 'created', 'status', c.to_status, 'source', l.source)
                ELSE jsonb_build_object('kind', 'status', 'from', c.from_status, 'to', c.to_status, 'note', c.note)
           END AS entry
    FROM lead_status_changes c
    JOIN leads l ON l.organization_id = c.organization_id AND l.id = c.lead_id
    WHERE c.organization_id = $1 AND c.lead_id = $2
    UNION ALL
    SELECT m.created_at, m.id, m.sender_user_id,
           jsonb_build_object('kind', 'message', 'id', m.id, 'subject', m.subject, 'status', m.status,
                              'error', m.error, 'step', m.step_position, 'sequence', s.name)
    FROM messages m
    LEFT JOIN sequence_enrollments e ON e.organization_id = m.organization_id AND e.id = m.enrollment_id
    LEFT JOIN sequences s ON s.owner_key = e.sequence_owner_key AND s.id = e.sequence_id
    WHERE m.organization_id = $1 AND m.lead_id = $2
    UNION ALL
    SELECT e.created_at, e.id, e.enrolled_by,
           jsonb_build_object('kind', 'enrolled', 'sequence_id', e.sequence_id, 'sequence', s.name)
    FROM sequence_enrollments e
    LEFT JOIN sequences s ON s.owner_key = e.sequence_owner_key AND s.id = e.sequence_id
    WHERE e.organization_id = $1 AND e.lead_id = $2
    UNION ALL
    SELECT e.updated_at, md5(e.id::text || ':' || e.status)::uuid, NULL::uuid,
           jsonb_build_object('kind', 'enrolment_state', 'sequence_id', e.sequence_id, 'sequence', s.name,
                              'status', e.status, 'reason', e.paused_reason)
    FROM sequence_enrollments e
    LEFT JOIN sequences s ON s.owner_key = e.sequence_owner_key AND s.id = e.sequence_id
    WHERE e.organization_id = $1 AND e.lead_id = $2 AND e.status <> 'active'
    UNION ALL
    SELECT d.changed_at, d.id, d.changed_by, jsonb_build_object('kind', 'edited', 'changes', d.changes)
    FROM lead_edits d
    WHERE d.organization_id = $1 AND d.lead_id = $2
    UNION ALL
    SELECT i.received_at, i.id, NULL::uuid,
           jsonb_build_object('kind', 'inbound', 'inbound_kind', i.kind, 'from', i.from_email,
                              'subject', i.subject, 'text', i.body_text, 'bounce_status', i.bounce_status)
    FROM inbound_messages i
    WHERE i.organization_id = $1 AND i.lead_id = $2";

/// One page of lead `lead`'s timeline at `position`, newest first.
pub fn page(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: LeadId,
    position: &Position<Uuid>,
) -> QueryResult<Page<Entry>> {
    let rows = scoped_timeline_rows(conn, tenant, lead, position, PAGE_SIZE + 1)?;
    let entries = rows
        .into_iter()
        .map(entry)
        .collect::<QueryResult<Vec<_>>>()?;
    Ok(Page::from_rows(entries, position, PAGE_SIZE))
}

fn entry(row: Row) -> QueryResult<Entry> {
    let activity = serde_json::from_value(row.entry)
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
    Ok(Entry {
        at: row.at,
        key: row.key,
        actor: row.actor.map(UserId),
        activity,
    })
}

/// The rows of one page, read in `position`'s direction; the organization
/// filter of every source is `$1`, the tenant's organization.
fn scoped_timeline_rows(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: LeadId,
    position: &Position<Uuid>,
    limit: i64,
) -> QueryResult<Vec<Row>> {
    let order = if position.reads_newest_first() {
        "DESC"
    } else {
        "ASC"
    };
    let (bound, cursor) = match position.bound() {
        Some((op, c)) => (format!("WHERE (t.at, t.key) {op} ($4, $5)"), Some(c)),
        None => (
            "WHERE $4::timestamptz IS NULL AND $5::uuid IS NULL".to_string(),
            None,
        ),
    };
    let sql = format!(
        "SELECT t.at, t.key, t.actor, t.entry FROM ({ENTRIES_SQL}) t {bound}
         ORDER BY t.at {order}, t.key {order} LIMIT $3"
    );
    diesel::sql_query(sql)
        .bind::<SqlUuid, _>(tenant.org_id().uuid())
        .bind::<SqlUuid, _>(lead.uuid())
        .bind::<BigInt, _>(limit)
        .bind::<Nullable<Timestamptz>, _>(cursor.map(|c| c.created_at))
        .bind::<Nullable<SqlUuid>, _>(cursor.map(|c| c.id))
        .load(conn)
}
