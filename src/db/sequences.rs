//! Sequences and their steps: own (editable, count-limited) or global (read
//! only). A step may use an own or a global template — `templates::find`
//! answers NotFound for any other, and the composite key refuses it anyway.
//! Positions are renumbered in one transaction (the unique key is deferred).

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::Eq;
use diesel::pg::Pg;
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use crate::db::error::{DbError, DbResult};
use crate::db::schema::{message_templates, sequence_enrollments, sequence_steps, sequences};
use crate::db::{audit, templates, usage, Tenant};
use crate::domain::plans::LimitKind;
use crate::ids::{OrgId, SequenceId, StepId, TemplateId, GLOBAL_OWNER};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sequences)]
pub struct Sequence {
    pub owner_key: Uuid,
    pub id: SequenceId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// A lead that becomes Replied or Lost leaves it (`db::stops`).
    pub stop_on_reply: bool,
}

impl Sequence {
    pub fn is_global(&self) -> bool {
        self.owner_key == GLOBAL_OWNER
    }
}

/// A step with its template's name.
#[derive(Debug, Clone)]
pub struct StepView {
    pub id: StepId,
    pub position: i32,
    pub delay_days: i32,
    pub template_id: TemplateId,
    pub template_name: String,
    pub template_global: bool,
}

/// A sequence in the list, with its size and activity.
#[derive(Debug, Clone)]
pub struct SequenceSummary {
    pub sequence: Sequence,
    pub steps: i64,
    pub active: i64,
}

fn visible<'a>(tenant: &Tenant) -> sequences::BoxedQuery<'a, Pg> {
    sequences::table
        .filter(sequences::owner_key.eq_any(vec![tenant.owner_key(), GLOBAL_OWNER]))
        .into_boxed()
}

/// Own sequences first, then global ones, each by name, with counts.
pub fn list(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<SequenceSummary>> {
    let mut rows: Vec<Sequence> = visible(tenant)
        .order((sequences::name.asc(), sequences::id.asc()))
        .select(Sequence::as_select())
        .load(conn)?;
    rows.sort_by_key(|s| s.is_global());
    rows.into_iter()
        .map(|sequence| {
            let steps = sequence_steps::table
                .filter(sequence_steps::owner_key.eq(sequence.owner_key))
                .filter(sequence_steps::sequence_id.eq(sequence.id))
                .count()
                .get_result(conn)?;
            let active = sequence_enrollments::table
                .filter(scoped_sequence_enrollments_rows(tenant))
                .filter(sequence_enrollments::sequence_id.eq(sequence.id))
                .filter(sequence_enrollments::status.eq("active"))
                .count()
                .get_result(conn)?;
            Ok(SequenceSummary {
                sequence,
                steps,
                active,
            })
        })
        .collect()
}

/// (id, name) of every visible sequence, for pickers: in `list`'s order
/// (own first, then global, each by name), in one query — a picker needs no
/// step or enrolment counts.
pub fn options(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<(SequenceId, String)>> {
    visible(tenant)
        .order((
            sequences::owner_key.eq(GLOBAL_OWNER),
            sequences::name.asc(),
            sequences::id.asc(),
        ))
        .select((sequences::id, sequences::name))
        .load(conn)
}

/// An own or global sequence; NotFound for any other.
pub fn find(conn: &mut PgConnection, tenant: &Tenant, id: SequenceId) -> QueryResult<Sequence> {
    visible(tenant)
        .filter(sequences::id.eq(id))
        .select(Sequence::as_select())
        .first(conn)
}

/// An own sequence (editable); global and foreign ones are NotFound.
pub fn find_own(conn: &mut PgConnection, tenant: &Tenant, id: SequenceId) -> QueryResult<Sequence> {
    sequences::table
        .find((tenant.owner_key(), id))
        .select(Sequence::as_select())
        .first(conn)
}

/// The steps of a visible sequence, in order.
pub fn steps(
    conn: &mut PgConnection,
    tenant: &Tenant,
    seq: &Sequence,
) -> QueryResult<Vec<StepView>> {
    let rows: Vec<(StepId, i32, i32, Uuid, TemplateId, String)> = sequence_steps::table
        .inner_join(
            message_templates::table.on(message_templates::owner_key
                .eq(sequence_steps::template_owner_key)
                .and(message_templates::id.eq(sequence_steps::template_id))),
        )
        .filter(sequence_steps::owner_key.eq(seq.owner_key))
        .filter(sequence_steps::owner_key.eq_any([tenant.owner_key(), GLOBAL_OWNER]))
        .filter(sequence_steps::sequence_id.eq(seq.id))
        .order(sequence_steps::position.asc())
        .select((
            sequence_steps::id,
            sequence_steps::position,
            sequence_steps::delay_days,
            sequence_steps::template_owner_key,
            message_templates::id,
            message_templates::name,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, position, delay_days, owner, template_id, name)| StepView {
                id,
                position,
                delay_days,
                template_id,
                template_name: name,
                template_global: owner == GLOBAL_OWNER,
            },
        )
        .collect())
}

/// An own sequence as created: owned by the tenant's organization.
#[derive(Insertable)]
#[diesel(table_name = sequences)]
struct NewSequence<'a> {
    organization_id: Option<OrgId>,
    owner_key: Uuid,
    id: SequenceId,
    name: &'a str,
}

impl NewSequence<'_> {
    fn own<'a>(tenant: &Tenant, name: &'a str) -> NewSequence<'a> {
        let org = tenant.org_id();
        NewSequence {
            organization_id: Some(org),
            owner_key: tenant.owner_key(),
            id: SequenceId::new(),
            name,
        }
    }
}

/// A step as added: it belongs to its sequence's owner (no organization for
/// a global sequence).
#[derive(Insertable)]
#[diesel(table_name = sequence_steps)]
struct NewStep {
    organization_id: Option<OrgId>,
    owner_key: Uuid,
    id: StepId,
    sequence_id: SequenceId,
    position: i32,
    template_owner_key: Uuid,
    template_id: TemplateId,
    delay_days: i32,
}

/// Creates an own sequence within the sequences limit. In a transaction.
pub fn create(
    conn: &mut PgConnection,
    tenant: &Tenant,
    name: &str,
    now: DateTime<Utc>,
) -> DbResult<Sequence> {
    usage::guard_count_limit(conn, tenant, LimitKind::Sequences, now)?;
    Ok(diesel::insert_into(sequences::table)
        .values(NewSequence::own(tenant, name))
        .returning(Sequence::as_returning())
        .get_result(conn)?)
}

pub fn rename(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: SequenceId,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<Sequence> {
    diesel::update(sequences::table.find((tenant.owner_key(), id)))
        .set((sequences::name.eq(name), sequences::updated_at.eq(now)))
        .returning(Sequence::as_returning())
        .get_result(conn)
}

/// Turns "stop on reply" on or off for an own sequence (NotFound for a
/// global one or another organization's).
pub fn set_stop_on_reply(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: SequenceId,
    on: bool,
    now: DateTime<Utc>,
) -> QueryResult<Sequence> {
    diesel::update(sequences::table.find((tenant.owner_key(), id)))
        .set((
            sequences::stop_on_reply.eq(on),
            sequences::updated_at.eq(now),
        ))
        .returning(Sequence::as_returning())
        .get_result(conn)
}

/// Deletes an own sequence with its steps and enrolments, and records it in
/// the audit log (caller's transaction). Its sent messages stay: they lose
/// only the link to the enrolment.
pub fn delete(conn: &mut PgConnection, tenant: &Tenant, id: SequenceId) -> QueryResult<Sequence> {
    let seq = find_own(conn, tenant, id)?;
    let steps = steps(conn, tenant, &seq)?.len();
    // An own sequence's key is the organization's: only its enrolments match.
    let enrolled: i64 = sequence_enrollments::table
        .filter(sequence_enrollments::sequence_owner_key.eq(seq.owner_key))
        .filter(sequence_enrollments::sequence_id.eq(seq.id))
        .count()
        .get_result(conn)?;
    let seq = diesel::delete(sequences::table.find((tenant.owner_key(), id)))
        .returning(Sequence::as_returning())
        .get_result(conn)?;
    let before = json!({
        "id": seq.id,
        "name": seq.name,
        "steps": steps,
        "enrollments": enrolled,
    });
    audit::record(
        conn,
        tenant,
        "sequence.deleted",
        &seq.name,
        Some(before),
        None,
    )?;
    Ok(seq)
}

/// Appends a step using an own or global template (NotFound otherwise).
pub fn add_step(
    conn: &mut PgConnection,
    tenant: &Tenant,
    seq: SequenceId,
    template: TemplateId,
    delay_days: i32,
) -> DbResult<()> {
    let seq = find_own(conn, tenant, seq)?;
    let template = templates::find(conn, tenant, template)?;
    let last: Option<i32> = sequence_steps::table
        .filter(sequence_steps::owner_key.eq(seq.owner_key))
        .filter(sequence_steps::sequence_id.eq(seq.id))
        .select(diesel::dsl::max(sequence_steps::position))
        .first(conn)?;
    insert_step(conn, &seq, last.unwrap_or(0) + 1, &template, delay_days)?;
    Ok(())
}

fn insert_step(
    conn: &mut PgConnection,
    seq: &Sequence,
    position: i32,
    template: &templates::Template,
    delay_days: i32,
) -> QueryResult<usize> {
    diesel::insert_into(sequence_steps::table)
        .values(NewStep {
            organization_id: (seq.owner_key != GLOBAL_OWNER).then_some(OrgId(seq.owner_key)),
            owner_key: seq.owner_key,
            id: StepId::new(),
            sequence_id: seq.id,
            position,
            template_owner_key: template.owner_key,
            template_id: template.id,
            delay_days,
        })
        .execute(conn)
}

/// The own sequence a step belongs to; NotFound for global or foreign steps.
pub fn sequence_of_step(
    conn: &mut PgConnection,
    tenant: &Tenant,
    step: StepId,
) -> QueryResult<Sequence> {
    let seq_id: SequenceId = sequence_steps::table
        .find((tenant.owner_key(), step))
        .select(sequence_steps::sequence_id)
        .first(conn)?;
    find_own(conn, tenant, seq_id)
}

/// Writes positions 1..n in the given order (one transaction; the unique
/// key is checked at commit).
fn renumber(conn: &mut PgConnection, owner_key: Uuid, ordered: &[StepId]) -> QueryResult<()> {
    for (i, id) in ordered.iter().enumerate() {
        diesel::update(sequence_steps::table.find((owner_key, *id)))
            .set(sequence_steps::position.eq(i as i32 + 1))
            .execute(conn)?;
    }
    Ok(())
}

/// Removes a step of an own sequence and closes the gap.
pub fn remove_step(
    conn: &mut PgConnection,
    tenant: &Tenant,
    step: StepId,
) -> QueryResult<Sequence> {
    let seq = sequence_of_step(conn, tenant, step)?;
    let owner_key = tenant.owner_key();
    let mut rest = steps(conn, tenant, &seq)?;
    let gone = rest
        .iter()
        .position(|s| s.id == step)
        .map(|i| rest.remove(i));
    diesel::delete(sequence_steps::table.find((owner_key, step))).execute(conn)?;
    let rest: Vec<StepId> = rest.into_iter().map(|s| s.id).collect();
    renumber(conn, owner_key, &rest)?;
    if let Some(gone) = gone {
        let before = json!({
            "id": gone.id,
            "sequence_id": seq.id,
            "sequence": seq.name,
            "position": gone.position,
            "template_id": gone.template_id,
            "template": gone.template_name,
            "delay_days": gone.delay_days,
        });
        let target = format!("{} (step {})", seq.name, gone.position);
        audit::record(
            conn,
            tenant,
            "sequence_step.deleted",
            &target,
            Some(before),
            None,
        )?;
    }
    Ok(seq)
}

/// Moves a step of an own sequence one place up or down.
pub fn move_step(
    conn: &mut PgConnection,
    tenant: &Tenant,
    step: StepId,
    up: bool,
) -> QueryResult<Sequence> {
    let seq = sequence_of_step(conn, tenant, step)?;
    let mut order: Vec<StepId> = steps(conn, tenant, &seq)?
        .into_iter()
        .map(|s| s.id)
        .collect();
    if let Some(i) = order.iter().position(|id| *id == step) {
        let j = if up { i.checked_sub(1) } else { Some(i + 1) };
        if let Some(j) = j.filter(|j| *j < order.len()) {
            order.swap(i, j);
            renumber(conn, tenant.owner_key(), &order)?;
        }
    }
    Ok(seq)
}

/// Copies a visible sequence (usually a global one) with its steps into the
/// organization, within the sequences limit.
pub fn copy(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: SequenceId,
    now: DateTime<Utc>,
) -> DbResult<Sequence> {
    let source = find(conn, tenant, id)?;
    let name: String = format!("{} (copy)", source.name)
        .chars()
        .take(120)
        .collect();
    let copy = create(conn, tenant, &name, now)?;
    for step in steps(conn, tenant, &source)? {
        let template = templates::find(conn, tenant, step.template_id)?;
        insert_step(conn, &copy, step.position, &template, step.delay_days)?;
    }
    Ok(copy)
}

/// When the first step of `seq` is due for an enrolment made at `now`.
pub fn first_run_at(
    conn: &mut PgConnection,
    seq: &Sequence,
    now: DateTime<Utc>,
) -> DbResult<DateTime<Utc>> {
    let delay: Option<i32> = sequence_steps::table
        .filter(sequence_steps::owner_key.eq(seq.owner_key))
        .filter(sequence_steps::sequence_id.eq(seq.id))
        .filter(sequence_steps::position.eq(1))
        .select(sequence_steps::delay_days)
        .first(conn)
        .optional()?;
    let delay = delay.ok_or_else(|| {
        DbError::invalid("This sequence has no steps yet. Add a step before enrolling leads.")
    })?;
    Ok(now + Duration::days(i64::from(delay)))
}

/// The condition every `sequence_enrollments` row of a tenant meets.
fn scoped_sequence_enrollments_rows(
    tenant: &Tenant,
) -> Eq<sequence_enrollments::organization_id, OrgId> {
    sequence_enrollments::organization_id.eq(tenant.org_id())
}
