//! Messages: rendering a template for a lead, storing the message with its
//! `message_sent` usage and its outbox mail in one transaction, and the
//! keyset-paginated history. Delivery updates the status (jobs/mail.rs).

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::dsl::{AsSelect, Eq, Filter};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use crate::db::cursor;
use crate::db::error::{DbError, DbResult};
use crate::db::leads::Lead;
use crate::db::outbox::{self, MailKind, OutgoingMail};
use crate::db::schema::{leads, messages, organizations, users};
use crate::db::templates::Template;
use crate::db::usage::{self, UsageKind};
use crate::db::{webhooks, Tenant};
use crate::domain::placeholders::{self, Values};
use crate::ids::{EnrollmentId, LeadId, MailboxId, MessageId, OrgId, TemplateId, UserId};
use crate::webhooks::events::{self as hook_events, EventType};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: MessageId,
    pub lead_id: LeadId,
    pub template_id: Option<TemplateId>,
    pub enrollment_id: Option<EnrollmentId>,
    pub step_position: Option<i32>,
    pub to_email: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub sender_user_id: Option<UserId>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A message with who it went to and who sent it, for lists.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub message: Message,
    pub lead_name: String,
    pub sender_name: Option<String>,
}

/// Subject and body of a template rendered for one lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// Renders `subject`/`body` for `lead` as `sender` of `organization`.
pub fn render(
    subject: &str,
    body: &str,
    lead: &Lead,
    sender: &str,
    organization: &str,
) -> Result<Rendered, placeholders::PlaceholderError> {
    let values = Values {
        first_name: &lead.fields.first_name,
        last_name: &lead.fields.last_name,
        company: &lead.fields.company,
        title: &lead.fields.title,
        sender_name: sender,
        organization,
    };
    Ok(Rendered {
        subject: placeholders::render(subject, &values)?,
        body: placeholders::render(body, &values)?,
    })
}

/// The names a message is signed with: the sender's and the organization's.
pub fn signature(
    conn: &mut PgConnection,
    tenant: &Tenant,
    sender: Option<UserId>,
) -> QueryResult<(String, String)> {
    let organization: String = organizations::table
        .find(tenant.org_id())
        .select(organizations::name)
        .first(conn)?;
    let sender_name = match sender {
        Some(id) => users::table
            .find(id)
            .select(users::name)
            .first(conn)
            .optional()?,
        None => None,
    };
    Ok((
        sender_name.unwrap_or_else(|| organization.clone()),
        organization,
    ))
}

/// A position in the newest-first message list.
pub type Cursor = cursor::Cursor<MessageId>;
/// Where a page of the message history starts.
pub type Position = cursor::Position<MessageId>;
pub use cursor::Page;

/// Where a new message comes from.
pub struct Origin {
    pub template: Option<(Uuid, TemplateId)>,
    pub step: Option<(EnrollmentId, i32)>,
    pub sender: Option<UserId>,
    /// The mailbox it goes out from (None: the platform server). A later
    /// step of an enrolment without one keeps the mailbox of its first step.
    pub mailbox: Option<MailboxId>,
}

/// A queued message as stored, in the tenant's organization.
#[derive(Insertable)]
#[diesel(table_name = messages)]
struct NewMessage<'a> {
    organization_id: OrgId,
    id: MessageId,
    lead_id: LeadId,
    template_owner_key: Option<Uuid>,
    template_id: Option<TemplateId>,
    enrollment_id: Option<EnrollmentId>,
    step_position: Option<i32>,
    to_email: &'a str,
    subject: &'a str,
    body: &'a str,
    sender_user_id: Option<UserId>,
    created_at: DateTime<Utc>,
    mailbox_id: Option<MailboxId>,
    in_reply_to: Option<&'a str>,
    thread_references: Option<&'a str>,
}

/// Stores a queued message, counts it (`message_sent` at `now`) and queues
/// its mail with an unsubscribe link — all inside the caller's transaction.
/// `LimitReached` writes nothing; neither does a suppressed address
/// (`Conflict`, `suppression::SUPPRESSED`). A step already sent for an
/// enrolment is `Conflict`.
pub fn queue(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: &Lead,
    rendered: &Rendered,
    origin: &Origin,
    now: DateTime<Utc>,
) -> DbResult<Message> {
    let id = MessageId::new();
    crate::db::suppression::refuse_suppressed(conn, tenant, &lead.fields.email)?;
    usage::consume_at(conn, tenant, UsageKind::MessageSent, Some(id.uuid()), now)?;
    let org = tenant.org_id();
    let thread = threading(conn, tenant, origin, rendered)?;
    let inserted: Option<Message> = diesel::insert_into(messages::table)
        .values(NewMessage {
            organization_id: org,
            id,
            lead_id: lead.id,
            template_owner_key: origin.template.map(|t| t.0),
            template_id: origin.template.map(|t| t.1),
            enrollment_id: origin.step.map(|s| s.0),
            step_position: origin.step.map(|s| s.1),
            to_email: &lead.fields.email,
            subject: &thread.subject,
            body: &rendered.body,
            sender_user_id: origin.sender,
            created_at: now,
            mailbox_id: thread.mailbox,
            in_reply_to: thread.in_reply_to.as_deref(),
            thread_references: thread.references.as_deref(),
        })
        .on_conflict_do_nothing()
        .returning(Message::as_returning())
        .get_result(conn)
        .optional()?;
    let message =
        inserted.ok_or_else(|| DbError::Conflict("This step was already sent.".into()))?;
    let mail = outbox::enqueue(
        conn,
        &OutgoingMail {
            kind: MailKind::Message,
            org: Some(org),
            message: Some(id),
            to: &lead.fields.email,
            subject: &thread.subject,
            body: &rendered.body,
            html: None,
        },
        now,
    )?;
    let reply_to = match thread.mailbox {
        Some(_) => None,
        None => reply_address(conn, origin.sender)?,
    };
    outbox::attach_sending_details(
        conn,
        mail,
        &outbox::SendingDetails {
            mailbox: thread.mailbox,
            in_reply_to: thread.in_reply_to.as_deref(),
            references: thread.references.as_deref(),
            reply_to: reply_to.as_deref(),
        },
    )?;
    let unsubscribe = crate::db::suppression::issue_link(conn, tenant, lead, now)?;
    outbox::attach_unsubscribe(conn, mail, &unsubscribe)?;
    Ok(message)
}

/// Why nothing was sent when the lead was deleted after the form was loaded.
pub const LEAD_GONE: &str = "This lead was deleted in the meantime; nothing was sent.";
/// Why nothing was sent when the template was deleted after the form was loaded.
pub const TEMPLATE_GONE: &str = "This template was deleted in the meantime; nothing was sent.";

/// Sends `template` to `lead` now, as the acting user (see `queue`), from
/// `from` (a mailbox the caller has checked the user may use), else from
/// the user's own mailbox, else through the platform server. Lead and
/// template are read again and share-locked in the caller's transaction:
/// one deleted since the caller loaded it is a `Conflict` with a clear
/// message, and neither can be deleted until the message is stored.
pub fn send(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: &Lead,
    template: &Template,
    from: Option<MailboxId>,
    now: DateTime<Utc>,
) -> DbResult<Message> {
    let lead = &crate::db::leads::lock_shared(conn, tenant, lead.id)?
        .ok_or_else(|| DbError::Conflict(LEAD_GONE.into()))?;
    let template = &crate::db::templates::lock_shared(conn, tenant, template.id)?
        .ok_or_else(|| DbError::Conflict(TEMPLATE_GONE.into()))?;
    let sender = tenant.user_id();
    let (sender_name, organization) = signature(conn, tenant, sender)?;
    let rendered = render(
        &template.subject,
        &template.body,
        lead,
        &sender_name,
        &organization,
    )
    .map_err(|e| DbError::invalid(e.to_string()))?;
    let mailbox = match (from, sender) {
        (Some(chosen), _) => Some(chosen),
        (None, Some(user)) => crate::db::mailboxes::own_mailbox(conn, tenant, user)?,
        (None, None) => None,
    };
    let origin = Origin {
        template: Some((template.owner_key, template.id)),
        step: None,
        sender,
        mailbox,
    };
    queue(conn, tenant, lead, &rendered, &origin, now)
}

type Joined = (Message, String, String, Option<String>);

fn into_row((message, first, last, sender_name): Joined) -> MessageRow {
    MessageRow {
        message,
        lead_name: format!("{first} {last}").trim().to_string(),
        sender_name,
    }
}

/// One page of the organization's messages (of one lead, if given), newest
/// first, after `cursor`.
pub fn list(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: Option<LeadId>,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<(Vec<MessageRow>, bool)> {
    let page = list_page(conn, tenant, lead, after.into(), limit)?;
    Ok((page.rows, page.has_older))
}

/// One page of the organization's messages (of one lead, if given) at
/// `position`, newest first.
pub fn list_page(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: Option<LeadId>,
    position: Position,
    limit: i64,
) -> QueryResult<Page<MessageRow>> {
    let mut query = with_names(tenant).into_boxed();
    if let Some(lead) = lead {
        query = query.filter(messages::lead_id.eq(lead));
    }
    if let Some((op, c)) = position.bound() {
        query = query.filter(
            sql::<Bool>(&format!("(messages.created_at, messages.id) {op} ("))
                .bind::<Timestamptz, _>(c.created_at)
                .sql(", ")
                .bind::<SqlUuid, _>(c.id)
                .sql(")"),
        );
    }
    query = if position.reads_newest_first() {
        query.order((messages::created_at.desc(), messages::id.desc()))
    } else {
        query.order((messages::created_at.asc(), messages::id.asc()))
    };
    let rows: Vec<Joined> = query.limit(limit + 1).load(conn)?;
    let rows = rows.into_iter().map(into_row).collect();
    Ok(Page::from_rows(rows, &position, limit))
}

/// One message of the tenant, with lead and sender names.
pub fn find(conn: &mut PgConnection, tenant: &Tenant, id: MessageId) -> QueryResult<MessageRow> {
    with_names(tenant)
        .filter(messages::id.eq(id))
        .first::<Joined>(conn)
        .map(into_row)
}

/// The tenant's messages joined with their lead's and sender's names (the
/// rows of `Joined`).
#[diesel::dsl::auto_type]
fn with_names(tenant: &Tenant) -> _ {
    let scope: Eq<messages::organization_id, OrgId> = scoped_messages_rows(tenant);
    let message: AsSelect<Message, Pg> = Message::as_select();
    messages::table
        .inner_join(
            leads::table.on(leads::organization_id
                .eq(messages::organization_id)
                .and(leads::id.eq(messages::lead_id))),
        )
        .left_join(users::table.on(users::id.nullable().eq(messages::sender_user_id)))
        .filter(scope)
        .select((
            message,
            leads::first_name,
            leads::last_name,
            users::name.nullable(),
        ))
}

/// Delivery outcome of a message's mail (called by the mail worker).
pub fn mark_delivery(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MessageId,
    outcome: Result<DateTime<Utc>, &str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let kind = match outcome {
        Ok(_) => EventType::MessageSent,
        Err(_) => EventType::MessageFailed,
    };
    let target = scoped_messages(tenant).filter(messages::id.eq(id));
    match outcome {
        Ok(at) => diesel::update(target)
            .set((
                messages::status.eq("sent"),
                messages::sent_at.eq(Some(at)),
                messages::error.eq(None::<String>),
            ))
            .execute(conn)?,
        Err(error) => diesel::update(target)
            .set((
                messages::status.eq("failed"),
                messages::error.eq(Some(error)),
            ))
            .execute(conn)?,
    };
    webhooks::emit(conn, tenant, kind, now, |c| {
        Ok(vec![hook_events::message(&find(c, tenant, id)?.message)])
    })?;
    Ok(())
}

/// The time zone of the lead a message goes to, if the lead has one.
pub fn lead_time_zone(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MessageId,
) -> QueryResult<Option<String>> {
    Ok(scoped_messages(tenant)
        .inner_join(
            leads::table.on(leads::organization_id
                .eq(messages::organization_id)
                .and(leads::id.eq(messages::lead_id))),
        )
        .filter(messages::id.eq(id))
        .select(leads::time_zone)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Stores the `Message-ID` a message's mail is sent with.
pub fn set_rfc_message_id(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: MessageId,
    rfc_message_id: &str,
) -> QueryResult<()> {
    diesel::update(scoped_messages(tenant).filter(messages::id.eq(id)))
        .set(messages::rfc_message_id.eq(Some(rfc_message_id)))
        .execute(conn)?;
    Ok(())
}

/// What a later step of an enrolment continues: the mailbox, Message-ID,
/// references and subject of the enrolment's latest message.
#[derive(Debug, Clone, Queryable)]
pub struct ThreadTip {
    pub mailbox_id: Option<MailboxId>,
    pub rfc_message_id: Option<String>,
    pub thread_references: Option<String>,
    pub subject: String,
}

/// The enrolment's first and latest messages, if it has sent any.
fn thread_of(
    conn: &mut PgConnection,
    tenant: &Tenant,
    enrollment: EnrollmentId,
) -> QueryResult<Option<(ThreadTip, ThreadTip)>> {
    let tips: Vec<ThreadTip> = scoped_messages(tenant)
        .filter(messages::enrollment_id.eq(enrollment))
        .order((messages::step_position.asc(), messages::created_at.asc()))
        .select((
            messages::mailbox_id,
            messages::rfc_message_id,
            messages::thread_references,
            messages::subject,
        ))
        .load(conn)?;
    Ok(match (tips.first(), tips.last()) {
        (Some(first), Some(last)) => Some((first.clone(), last.clone())),
        _ => None,
    })
}

/// The subject of a later step: "Re: <first subject>" when the step's
/// rendered subject is the first step's (the usual follow-up), else its own.
pub fn follow_up_subject(first_subject: &str, step_subject: &str) -> String {
    let first = first_subject.trim();
    if step_subject.trim() != first {
        return step_subject.to_string();
    }
    if first.to_ascii_lowercase().starts_with("re:") {
        first.to_string()
    } else {
        format!("Re: {first}")
    }
}

/// Threading of a new step onto what the enrolment sent before.
struct Threading {
    mailbox: Option<MailboxId>,
    in_reply_to: Option<String>,
    references: Option<String>,
    subject: String,
}

fn threading(
    conn: &mut PgConnection,
    tenant: &Tenant,
    origin: &Origin,
    rendered: &Rendered,
) -> QueryResult<Threading> {
    let thread = match origin.step {
        Some((enrollment, _)) => thread_of(conn, tenant, enrollment)?,
        None => None,
    };
    let Some((first, last)) = thread else {
        return Ok(Threading {
            mailbox: origin.mailbox,
            in_reply_to: None,
            references: None,
            subject: rendered.subject.clone(),
        });
    };
    let references = match (&last.thread_references, &last.rfc_message_id) {
        (Some(chain), Some(id)) => Some(format!("{chain} {id}")),
        (None, Some(id)) => Some(id.clone()),
        (chain, None) => chain.clone(),
    };
    Ok(Threading {
        // The enrolment keeps the mailbox its first step went out from.
        mailbox: origin.mailbox.or(first.mailbox_id),
        in_reply_to: last.rfc_message_id.clone(),
        references,
        subject: follow_up_subject(&first.subject, &rendered.subject),
    })
}

/// The sending member's address, where replies go when no mailbox sends.
fn reply_address(conn: &mut PgConnection, sender: Option<UserId>) -> QueryResult<Option<String>> {
    match sender {
        Some(id) => users::table
            .find(id)
            .select(users::email)
            .first(conn)
            .optional(),
        None => Ok(None),
    }
}

/// Every `messages` query of a tenant starts here.
fn scoped_messages(
    tenant: &Tenant,
) -> Filter<messages::table, Eq<messages::organization_id, OrgId>> {
    messages::table.filter(scoped_messages_rows(tenant))
}

/// The condition every `messages` row of a tenant meets (for joined queries).
fn scoped_messages_rows(tenant: &Tenant) -> Eq<messages::organization_id, OrgId> {
    messages::organization_id.eq(tenant.org_id())
}

#[cfg(test)]
mod tests {
    use super::follow_up_subject;

    #[test]
    fn a_follow_up_with_the_first_subject_replies_to_it() {
        assert_eq!(follow_up_subject("Hello Ada", "Hello Ada"), "Re: Hello Ada");
        assert_eq!(follow_up_subject("Re: Hello", "Re: Hello"), "Re: Hello");
        assert_eq!(follow_up_subject("Hello Ada", "Last chance"), "Last chance");
    }
}
