//! Messages: preview a template for a lead, send it (stored, counted against
//! messages/day and queued for delivery in one transaction), and the history.
//! Sending needs `can_send_messages` and a confirmed email address; the
//! chosen mailbox must be the organization's and one the sender may use.

use actix_web::{web, HttpRequest, HttpResponse};
use diesel::{OptionalExtension, PgConnection};
use maud::Markup;
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::db::leads;
use crate::db::messages::{Cursor, Position};
use crate::db::{mailboxes, messages, templates, Tenant};
use crate::domain::roles::{self, Action, MemberFlags, Role};
use crate::error::{AppError, AppResult};
use crate::ids::{LeadId, MailboxId, MessageId, TemplateId};
use crate::routes::{
    form_id, fragment, page, redirect_with_flash, usage_changed, wants_fragment, Reply,
};
use crate::state::AppState;
use crate::views::layout::Nav;
use crate::views::messages::{self as view, ListPage};
use crate::views::workspace::upgrade_prompt;

route_table! {
    GET "/messages" => index,
    POST "/messages" => send,
    POST "/messages/preview" => preview,
    GET "/messages/{id}" => show,
}

/// Messages per page.
const PAGE_SIZE: i64 = 50;

/// Which page of the history: the cursor after the last row shown.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    after: String,
    before: String,
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ReadWorkspace)?;
    let position = Position::from_query(&query.after, &query.before);
    let (list, has_mailbox) = state
        .db
        .run(move |conn| -> AppResult<_> {
            let list = messages::list_page(conn, &tenant, None, position, PAGE_SIZE)?;
            Ok((list, mailboxes::any(conn, &tenant)?))
        })
        .await?;
    let (newer, older) = list.link_cursors(|r| Cursor {
        created_at: r.message.created_at,
        id: r.message.id,
    });
    let body = view::list_page(&ListPage {
        rows: &list.rows,
        newer_href: newer.map(|c| format!("/messages?before={}", c.encode())),
        older_href: older.map(|c| format!("/messages?after={}", c.encode())),
        on_first: position.is_newest(),
        tz: cur.ctx.org.tz(),
        has_mailbox,
    });
    page(&state, &cur, &req, Nav::Messages, "Messages", body).await
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<MessageId>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ReadWorkspace)?;
    let id = path.into_inner();
    let row = state
        .db
        .run(move |conn| messages::find(conn, &tenant, id))
        .await?;
    let body = view::detail_page(&row, cur.ctx.org.tz());
    page(&state, &cur, &req, Nav::Messages, "Message", body).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SendForm {
    lead_id: String,
    template_id: String,
    /// The mailbox to send from; empty: the sender's own mailbox, else the
    /// platform server.
    mailbox_id: String,
}

/// Why a chosen mailbox was refused (nothing is sent).
pub const FOREIGN_MAILBOX: &str =
    "That mailbox is not one of this organization's mailboxes. Nothing was sent.";
pub const NOT_YOUR_MAILBOX: &str =
    "You may send only from your own mailbox; owners and admins may send from any. Nothing was sent.";

/// The mailbox a send form chose, checked: one of the organization's, and
/// one the acting member may send from (their own, or any for owners and
/// admins). Empty is `None`: the sender's default.
fn checked_mailbox(
    conn: &mut PgConnection,
    tenant: &Tenant,
    who: (Role, MemberFlags),
    raw: &str,
) -> AppResult<Option<MailboxId>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let id: MailboxId = raw
        .parse()
        .map_err(|_| AppError::validation(FOREIGN_MAILBOX))?;
    let mailbox = mailboxes::find(conn, tenant, id)
        .optional()?
        .ok_or_else(|| AppError::validation(FOREIGN_MAILBOX))?;
    let own = mailbox.owner_user_id.is_some() && mailbox.owner_user_id == tenant.user_id();
    if !roles::may_send_from_mailbox(who.0, who.1, own) {
        return Err(AppError::validation(NOT_YOUR_MAILBOX));
    }
    Ok(Some(id))
}

/// The acting member's role and flags, for `checked_mailbox`.
fn member_of(cur: &CurrentOrg) -> (Role, MemberFlags) {
    (cur.role(), cur.ctx.member.flags())
}

/// The lead and template a send form names, for a member who may send
/// messages (403 otherwise); 404 unless both are visible.
async fn lead_and_template(
    state: &AppState,
    cur: &CurrentOrg,
    form: &SendForm,
) -> AppResult<(leads::Lead, templates::Template)> {
    let tenant = cur.tenant_for(Action::SendMessages)?;
    let lead: LeadId = form_id(&form.lead_id)?;
    let template: TemplateId = form_id(&form.template_id)?;
    let (who, chosen) = (member_of(cur), form.mailbox_id.clone());
    state
        .db
        .run(move |conn| -> AppResult<_> {
            let lead = leads::find(conn, &tenant, lead)?;
            let template = templates::find(conn, &tenant, template)?;
            checked_mailbox(conn, &tenant, who, &chosen)?;
            Ok((lead, template))
        })
        .await
}

async fn preview(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<SendForm>,
) -> AppResult<HttpResponse> {
    let (lead, template) = lead_and_template(&state, &cur, &form).await?;
    let rendered = messages::render(
        &template.subject,
        &template.body,
        &lead,
        &cur.user.session.user.name,
        &cur.ctx.org.name,
    )
    .map_err(|e| AppError::validation(e.to_string()))?;
    let markup = view::send_preview(
        &lead,
        &template,
        &rendered,
        form.mailbox_id.trim(),
        &cur.user.csrf,
    );
    if wants_fragment(&req) {
        return Ok(fragment(markup));
    }
    send_page(&state, &cur, &req, &lead, markup, Reply::Ok).await
}

/// The page for sending `lead` a message, around `content`.
async fn send_page(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    lead: &leads::Lead,
    content: Markup,
    reply: Reply,
) -> AppResult<HttpResponse> {
    let body = view::send_page(lead, content);
    let page = (Nav::Leads, "Send a message");
    reply.page(state, &cur.user, req, page, body).await
}

async fn send(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<SendForm>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    // The role is checked before the address, so a member who may not send
    // is told so first.
    cur.require(Action::SendMessages)?;
    cur.require_verified_email()?;
    let (lead, template) = lead_and_template(&state, &cur, &form).await?;
    let tenant = cur.tenant();
    let lead_id = lead.id;
    let (who, chosen) = (member_of(&cur), form.mailbox_id.clone());
    let outcome = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let from = checked_mailbox(conn, &tenant, who, &chosen)?;
            Ok(messages::send(conn, &tenant, &lead, &template, from, now)?)
        })
        .await;
    match outcome {
        Ok(_) => {
            let note = "Message queued for delivery.";
            Ok(usage_changed(if wants_fragment(&req) {
                fragment(view::send_result(Ok(note)))
            } else {
                redirect_with_flash(&req, &format!("/leads/{lead_id}"), note)
            }))
        }
        Err(AppError::LimitReached(message)) => {
            let reply = Reply::OverLimit;
            if wants_fragment(&req) {
                return Ok(reply.fragment(view::send_result(Err(&message))));
            }
            let tenant = cur.tenant();
            let lead = state
                .db
                .run(move |conn| leads::find(conn, &tenant, lead_id))
                .await?;
            send_page(&state, &cur, &req, &lead, upgrade_prompt(&message), reply).await
        }
        Err(e) => Err(e),
    }
}
