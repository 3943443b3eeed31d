//! Messages over the API: the history (all, or one lead's; keyset cursor
//! like the leads list), one message, and sending a template to a lead —
//! rendered, stored, counted against messages per day and queued for
//! delivery in one transaction by the page's own `db::messages::send`.
//! A key sends in the name of the member who created it, re-checked at send
//! time (`sender`): see docs/api.md.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};

use crate::api::auth::ApiCaller;
use crate::api::idempotency::{once, stored};
use crate::api::paging::{cursor_after, next_link, page_size};
use crate::api::problem::{ApiResult, Problem};
use crate::api::{read, resource};
use crate::db::conversations::{self, BounceSummary, MessageOutcome, ReplySummary};
use crate::db::messages::{self, Cursor, MessageRow};
use crate::db::{api_keys, leads, templates, Tenant};
use crate::domain::roles::Action;
use crate::error::AppError;
use crate::ids::{EnrollmentId, LeadId, MessageId, TemplateId, UserId};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/messages")
            .route(web::get().to(list))
            .route(web::post().to(send)),
    )
    .service(resource("/messages/{id}").route(web::get().to(show)));
}

/// A message as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageOut {
    pub id: MessageId,
    pub lead_id: LeadId,
    pub lead_name: String,
    /// The template it was rendered from (`null` once that template is deleted).
    pub template_id: Option<TemplateId>,
    /// The enrolment whose step sent it, if a sequence did.
    pub enrollment_id: Option<EnrollmentId>,
    pub step_position: Option<i32>,
    pub to_email: String,
    pub subject: String,
    pub body: String,
    /// `queued`, `sent`, `failed` or `bounced`.
    pub status: String,
    pub sender_user_id: Option<UserId>,
    pub sender_name: Option<String>,
    /// Why delivery failed, for `failed`.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The lead's latest reply to this message, read from the sending
    /// mailbox's inbox; `null` when none came.
    #[schema(value_type = Option<ReplyDoc>)]
    pub reply: Option<ReplySummary>,
    /// The hard bounce of this message; `null` unless `status` is `bounced`.
    #[schema(value_type = Option<BounceDoc>)]
    pub bounce: Option<BounceSummary>,
}

/// The schema of a message's `reply` (the same in webhooks).
#[derive(utoipa::ToSchema)]
#[schema(as = MessageReply)]
#[allow(dead_code)]
pub struct ReplyDoc {
    received_at: DateTime<Utc>,
    /// The sender's address.
    #[schema(example = "anna@example.com")]
    from: String,
    subject: String,
    /// Plain text (HTML is reduced to text).
    text: String,
}

/// The schema of a message's `bounce` (the same in webhooks).
#[derive(utoipa::ToSchema)]
#[schema(as = MessageBounce)]
#[allow(dead_code)]
pub struct BounceDoc {
    bounced_at: DateTime<Utc>,
    /// The enhanced status code, when known.
    #[schema(example = "5.1.1")]
    status: Option<String>,
    /// What the receiving side said.
    diagnostic: Option<String>,
}

impl MessageOut {
    /// A message with what came back for it (`conversations::outcomes`).
    fn new(row: MessageRow, outcome: MessageOutcome) -> MessageOut {
        let m = row.message;
        MessageOut {
            id: m.id,
            lead_id: m.lead_id,
            lead_name: row.lead_name,
            template_id: m.template_id,
            enrollment_id: m.enrollment_id,
            step_position: m.step_position,
            to_email: m.to_email,
            subject: m.subject,
            body: m.body,
            status: m.status,
            sender_user_id: m.sender_user_id,
            sender_name: row.sender_name,
            error: m.error,
            created_at: m.created_at,
            sent_at: m.sent_at,
            reply: outcome.reply,
            bounce: outcome.bounce,
        }
    }
}

/// One page of messages and the link to the next one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessagePage {
    pub data: Vec<MessageOut>,
    pub next: Option<String>,
}

/// The list's query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this lead's messages.
    #[param(value_type = Option<uuid::Uuid>)]
    lead_id: Option<LeadId>,
    /// Messages per page, 1 to 100 (default 50).
    limit: Option<i64>,
    /// Where the page starts: take it from a `next` link.
    cursor: Option<String>,
}

/// What to send: a template of the organization (or a global one) to one of
/// its leads.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    lead_id: LeadId,
    template_id: TemplateId,
}

#[utoipa::path(get, path = "/api/v1/messages", tag = "messages",
    summary = "List messages",
    description = "Newest first, all or one lead's; `next` is the path of the next page or `null`.",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of messages.", body = MessagePage),
        (status = 404, description = "`lead_id` is not a lead of this organization.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json")))]
async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = page_size(query.limit)?;
    let after: Option<Cursor> = cursor_after(query.cursor.as_deref())?;
    let lead = query.lead_id;
    let (rows, more, mut outcomes) = read(
        &state,
        &caller,
        move |conn, tenant| -> Result<_, AppError> {
            if let Some(lead) = lead {
                // A lead of another organization is a 404, not an empty list.
                leads::find(conn, tenant, lead)?;
            }
            let (rows, more) = messages::list(conn, tenant, lead, after, limit)?;
            let ids: Vec<MessageId> = rows.iter().map(|r| r.message.id).collect();
            let outcomes = conversations::outcomes(conn, tenant, &ids)?;
            Ok((rows, more, outcomes))
        },
    )
    .await?;
    let next = more.then(|| rows.last()).flatten().map(|r| {
        let at = Cursor {
            created_at: r.message.created_at,
            id: r.message.id,
        };
        let lead = lead.map(|l| l.to_string()).unwrap_or_default();
        next_link("/api/v1/messages", &[("lead_id", &lead)], limit, &at)
    });
    let data = rows
        .into_iter()
        .map(|row| {
            let outcome = outcomes.remove(&row.message.id).unwrap_or_default();
            MessageOut::new(row, outcome)
        })
        .collect();
    Ok(HttpResponse::Ok().json(MessagePage { data, next }))
}

#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages",
    summary = "Get a message",
    params(("id" = MessageId, Path, description = "The message's id.")),
    responses((status = 200, description = "The message.", body = MessageOut)))]
async fn show(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<MessageId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (row, outcome) = read(&state, &caller, move |conn, tenant| {
        Ok::<_, diesel::result::Error>((
            messages::find(conn, tenant, id)?,
            conversations::outcome(conn, tenant, id)?,
        ))
    })
    .await?;
    Ok(HttpResponse::Ok().json(MessageOut::new(row, outcome)))
}

/// The tenant the key acts as when it sends (its creator, still allowed to
/// send), or the 403 that says why it may not. Called inside the send's
/// transaction.
pub(crate) fn sender(
    conn: &mut PgConnection,
    caller: &ApiCaller,
) -> Result<Result<Tenant, Problem>, AppError> {
    Ok(api_keys::sender(conn, &caller.key)?.map_err(Problem::forbidden))
}

#[utoipa::path(post, path = "/api/v1/messages", tag = "messages",
    summary = "Send a template to a lead",
    description = "Renders the template for the lead, stores the message, counts it against the plan's messages per day and queues it for delivery, in the name of the member who created the key (who must still be a member allowed to send, with a confirmed email address).",
    request_body = SendBody,
    responses(
        (status = 201, description = "The queued message.", body = MessageOut,
            headers(("Location" = String, description = "The message's path."))),
        (status = 404, description = "The lead or the template is not one of this organization's (or a global template).", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 402, description = "Today's messages are used up; nothing was sent.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The lead or template was deleted while sending; nothing was sent.", body = crate::api::problem::ProblemDoc, content_type = "application/problem+json")))]
async fn send(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    body: web::Json<SendBody>,
) -> ApiResult<HttpResponse> {
    caller.tenant_for(Action::SendMessages)?;
    let body = body.into_inner();
    let canonical = serde_json::to_vec(&body).unwrap_or_default();
    let (who, now) = (caller.clone(), caller.now);
    once(&state, &caller, &req, &canonical, move |conn| {
        let tenant = match sender(conn, &who)? {
            Ok(tenant) => tenant,
            Err(refused) => return Ok(Err(refused)),
        };
        let lead = leads::find(conn, &tenant, body.lead_id)?;
        let template = templates::find(conn, &tenant, body.template_id)?;
        // Over the daily limit is an error: the whole transaction rolls back.
        let message = messages::send(conn, &tenant, &lead, &template, None, now)?;
        let row = messages::find(conn, &tenant, message.id)?;
        let location = format!("/api/v1/messages/{}", message.id);
        Ok(Ok(stored(
            StatusCode::CREATED,
            &MessageOut::new(row, MessageOutcome::default()),
            Some(location),
        )?))
    })
    .await
}
