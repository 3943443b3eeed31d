//! Sender mailboxes (docs/mailboxes.md): everyone in the organization sees
//! the list with each mailbox's health and today's sends; OWNER and ADMIN
//! connect and remove any mailbox, a MEMBER who may send only their own,
//! a VIEWER nothing (403). Connecting checks the SMTP and IMAP logins
//! outside any transaction, then seals both passwords and stores the
//! mailbox under the organization's row lock, so the plan's seat count
//! (one mailbox per user seat) cannot be passed by concurrent saves.
//! Passwords are never shown back; editing is done by removing and
//! connecting again.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use uuid::Uuid;

use crate::auth::CurrentOrg;
use crate::db::mailboxes::{self as db_mailboxes, password_context, NewMailbox};
use crate::db::{audit, DbError, Tenant};
use crate::domain::roles::{self, Action};
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::ids::MailboxId;
use crate::mailboxes::net::{Protocol, Security, Server, ServerError};
use crate::mailboxes::secrets::MailboxKey;
use crate::mailboxes::{imap, smtp};
use crate::routes::{redirect_with_flash, Reply};
use crate::state::AppState;
use crate::views::layout::Nav;
use crate::views::mailboxes::{self as view, FormValues, ListView, Row};

route_table! {
    GET "/settings/mailboxes" => index,
    POST "/settings/mailboxes" => create,
    POST "/settings/mailboxes/{id}/delete" => delete,
}

const PATH: &str = "/settings/mailboxes";
const TITLE: &str = "Mailboxes";
/// Bounds of a mailbox's daily cap.
const MAX_DAILY_CAP: i32 = 2000;

/// The form, checked: what is stored and the two servers to log in to.
struct Connect {
    display_name: String,
    email: String,
    smtp: Server,
    imap: Server,
    folder: String,
    daily_cap: i32,
}

fn may_connect(cur: &CurrentOrg) -> bool {
    cur.can(Action::ManageAllMailboxes) || cur.can(Action::ConnectOwnMailbox)
}

fn may_remove(cur: &CurrentOrg, owner: Option<crate::ids::UserId>) -> bool {
    let own = owner.is_some() && owner == cur.tenant().user_id();
    roles::may_manage_mailbox(cur.role(), cur.ctx.member.flags(), own)
}

/// How many mailboxes the plan allows: one per user seat (`None` = no limit).
fn seat_limit(cur: &CurrentOrg) -> Option<i64> {
    let plan = cur.ctx.subscription.effective_plan(cur.now());
    plan.spec().limits.users
}

/// The tenant's mailboxes with their state and today's sends.
async fn load_rows(state: &AppState, cur: &CurrentOrg) -> AppResult<Vec<Row>> {
    let tenant = cur.tenant();
    let today = cur.now().with_timezone(&cur.ctx.org.tz()).date_naive();
    Ok(state
        .db
        .run(move |conn| -> Result<_, DbError> {
            let mut rows = Vec::new();
            for mailbox in db_mailboxes::list(conn, &tenant)? {
                let state = db_mailboxes::state(conn, &tenant, mailbox.id)?;
                let (day, count) = db_mailboxes::booked_day(conn, &tenant, mailbox.id)?;
                let sent_today = if day == Some(today) { count } else { 0 };
                rows.push(Row {
                    mailbox,
                    state,
                    sent_today,
                });
            }
            Ok(rows)
        })
        .await?)
}

fn list_view<'a>(cur: &'a CurrentOrg, rows: &'a [Row]) -> ListView<'a> {
    let me = cur.tenant().user_id();
    ListView {
        csrf: &cur.user.csrf,
        may_connect: may_connect(cur),
        removable: rows
            .iter()
            .map(|r| may_remove(cur, r.mailbox.owner_user_id))
            .collect(),
        rows,
        me,
        form: FormValues::new_mailbox(),
        errors: FieldErrors::new(),
        over_limit: false,
        tz: cur.ctx.org.tz(),
    }
}

async fn list_page(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    status: Reply,
    v: &ListView<'_>,
) -> AppResult<HttpResponse> {
    status
        .page(state, &cur.user, req, (Nav::Settings, TITLE), view::list(v))
        .await
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let rows = load_rows(&state, &cur).await?;
    list_page(&state, &cur, &req, Reply::Ok, &list_view(&cur, &rows)).await
}

/// The form shown again with its errors; nothing was saved.
async fn refused(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    status: Reply,
    form: FormValues,
    errors: FieldErrors,
) -> AppResult<HttpResponse> {
    let rows = load_rows(state, cur).await?;
    let mut v = list_view(cur, &rows);
    v.over_limit = matches!(status, Reply::OverLimit);
    (v.form, v.errors) = (form, errors);
    list_page(state, cur, req, status, &v).await
}

async fn create(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    web::Form(form): web::Form<FormValues>,
) -> AppResult<HttpResponse> {
    if !may_connect(&cur) {
        return Err(AppError::forbidden(roles::denial_message(
            Action::ConnectOwnMailbox,
        )));
    }
    let allow_private = state.config.mailbox_allow_private_hosts;
    let input = match validate(&form, allow_private) {
        Ok(input) => input,
        Err(errors) => return refused(&state, &cur, &req, Reply::Invalid, form, errors).await,
    };
    if let Err(errors) = check_logins(&input, allow_private).await? {
        return refused(&state, &cur, &req, Reply::Invalid, form, errors).await;
    }
    let new = sealed(&cur, &state, &input);
    let (tenant, limit, cap) = (cur.tenant(), seat_limit(&cur), input.daily_cap);
    let stored = state
        .db
        .tx(move |conn| store(conn, &tenant, new, cap, limit))
        .await;
    match stored {
        Ok(email) => Ok(redirect_with_flash(
            &req,
            PATH,
            &format!("The mailbox {email} is connected."),
        )),
        Err(DbError::LimitReached(message)) => {
            let mut errors = FieldErrors::new();
            errors.add("_form", message);
            refused(&state, &cur, &req, Reply::OverLimit, form, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Logs in to both servers (SMTP, then IMAP) on the blocking pool: a
/// refusal is an error on that server's host field.
async fn check_logins(input: &Connect, allow_private: bool) -> AppResult<Result<(), FieldErrors>> {
    let (smtp_server, imap_server) = (input.smtp.clone(), input.imap.clone());
    let folder = input.folder.clone();
    let checked = web::block(move || -> Result<(), ServerError> {
        smtp::check_login(&smtp_server, allow_private)?;
        imap::check_login(&imap_server, &folder, allow_private)
    })
    .await
    .map_err(AppError::unexpected)?;
    Ok(checked.map_err(|e| {
        let field = match e.protocol {
            Protocol::Smtp => "smtp_host",
            Protocol::Imap => "imap_host",
        };
        let mut errors = FieldErrors::new();
        errors.add(field, e.to_string());
        errors
    }))
}

/// The row to store, both passwords sealed to the new mailbox's id.
fn sealed(cur: &CurrentOrg, state: &AppState, input: &Connect) -> NewMailbox {
    let key = MailboxKey::from_config(&state.config);
    let id = MailboxId::new();
    let seal = |server: &Server, which: &str| {
        use secrecy::ExposeSecret;
        key.seal(
            server.password.expose_secret(),
            &password_context(id, which),
        )
    };
    let now = cur.now();
    NewMailbox {
        organization_id: cur.org_id(),
        id,
        owner_user_id: cur.tenant().user_id(),
        display_name: input.display_name.clone(),
        email: input.email.clone(),
        smtp_host: input.smtp.host.clone(),
        smtp_port: i32::from(input.smtp.port),
        smtp_security: input.smtp.security.as_str().into(),
        smtp_username: input.smtp.username.clone(),
        smtp_password: seal(&input.smtp, "smtp"),
        imap_host: input.imap.host.clone(),
        imap_port: i32::from(input.imap.port),
        imap_security: input.imap.security.as_str().into(),
        imap_username: input.imap.username.clone(),
        imap_password: seal(&input.imap, "imap"),
        imap_folder: input.folder.clone(),
        created_at: now,
        updated_at: now,
    }
}

/// Stores the mailbox unless the organization already has as many as its
/// seats; the organization row stays locked until commit.
fn store(
    conn: &mut diesel::PgConnection,
    tenant: &Tenant,
    new: NewMailbox,
    daily_cap: i32,
    limit: Option<i64>,
) -> Result<String, DbError> {
    db_mailboxes::lock_organization(conn, tenant)?;
    if let Some(limit) = limit {
        if db_mailboxes::count(conn, tenant)? >= limit {
            return Err(DbError::LimitReached(format!(
                "Your plan allows {limit} mailbox{} (one per user seat). Remove one, or upgrade on the plans page for more seats.",
                if limit == 1 { "" } else { "es" }
            )));
        }
    }
    let mailbox = db_mailboxes::insert(conn, tenant, new)?;
    db_mailboxes::set_daily_cap(conn, tenant, mailbox.id, daily_cap)?;
    let after = json!({ "email": mailbox.email, "display_name": mailbox.display_name });
    audit::record(
        conn,
        tenant,
        "mailbox.connected",
        &mailbox.id.to_string(),
        None,
        Some(after),
    )?;
    Ok(mailbox.email)
}

async fn delete(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let id = MailboxId::from(path.into_inner());
    let tenant = cur.tenant();
    let mailbox = state
        .db
        .run(move |conn| db_mailboxes::find(conn, &tenant, id))
        .await?;
    if !may_remove(&cur, mailbox.owner_user_id) {
        return Err(AppError::forbidden(roles::denial_message(
            Action::ManageAllMailboxes,
        )));
    }
    let before = json!({ "email": mailbox.email, "display_name": mailbox.display_name });
    state
        .db
        .tx(move |conn| -> Result<(), DbError> {
            db_mailboxes::delete(conn, &tenant, id)?;
            audit::record(
                conn,
                &tenant,
                "mailbox.removed",
                &id.to_string(),
                Some(before),
                None,
            )?;
            Ok(())
        })
        .await?;
    Ok(redirect_with_flash(
        &req,
        PATH,
        &format!("The mailbox {} is removed.", mailbox.email),
    ))
}

/// The checked input, or each bad field's message.
fn validate(f: &FormValues, allow_private: bool) -> Result<Connect, FieldErrors> {
    let mut errors = FieldErrors::new();
    let display_name = forms::plain_text(&f.display_name, "Display name", 1, 100)
        .map_err(|e| errors.add("display_name", e))
        .unwrap_or_default();
    let email = forms::email(&f.email)
        .map_err(|e| errors.add("email", e))
        .unwrap_or_default();
    let smtp_fields = ServerFields {
        prefix: "smtp",
        host: &f.smtp_host,
        port: &f.smtp_port,
        security: &f.smtp_security,
        username: &f.smtp_username,
        password: &f.smtp_password,
    };
    let imap_fields = ServerFields {
        prefix: "imap",
        host: &f.imap_host,
        port: &f.imap_port,
        security: &f.imap_security,
        username: &f.imap_username,
        password: &f.imap_password,
    };
    let smtp = server(&mut errors, Protocol::Smtp, &smtp_fields, allow_private);
    let imap = server(&mut errors, Protocol::Imap, &imap_fields, allow_private);
    let folder = f.imap_folder.trim();
    let folder = if folder.is_empty() { "INBOX" } else { folder };
    if folder.len() > 200 || folder.chars().any(char::is_control) {
        errors.add("imap_folder", "Enter the folder name, such as INBOX.");
    }
    let daily_cap = match f.daily_cap.trim().parse::<i32>() {
        Ok(n) if (1..=MAX_DAILY_CAP).contains(&n) => n,
        _ => {
            errors.add(
                "daily_cap",
                format!("Enter a whole number from 1 to {MAX_DAILY_CAP}."),
            );
            0
        }
    };
    match (smtp, imap) {
        (Some(smtp), Some(imap)) if errors.is_empty() => Ok(Connect {
            display_name,
            email,
            smtp,
            imap,
            folder: folder.to_string(),
            daily_cap,
        }),
        _ => Err(errors),
    }
}

/// One server's fields as typed: host, port, security, username, password,
/// and the field-name prefix (`smtp` / `imap`).
struct ServerFields<'a> {
    prefix: &'static str,
    host: &'a str,
    port: &'a str,
    security: &'a str,
    username: &'a str,
    password: &'a str,
}

fn server(
    errors: &mut FieldErrors,
    protocol: Protocol,
    f: &ServerFields,
    allow_private: bool,
) -> Option<Server> {
    let name = |field: &str| format!("{}_{field}", f.prefix);
    let before = errors.iter().count();
    let host = f.host.trim();
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !host_ok {
        errors.add(
            &name("host"),
            "Enter the server's host name, such as mail.example.com.",
        );
    }
    let port = match f.port.trim().parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => {
            errors.add(&name("port"), "Enter a port from 1 to 65535.");
            0
        }
    };
    let security = match Security::parse(f.security) {
        Some(Security::None) if !allow_private => {
            errors.add(
                &name("security"),
                "Choose TLS or STARTTLS: passwords are never sent unencrypted.",
            );
            None
        }
        Some(s) => Some(s),
        None => {
            errors.add(&name("security"), "Choose TLS, STARTTLS or none.");
            None
        }
    };
    let username = f.username.trim();
    if username.is_empty() || username.len() > 320 {
        errors.add(&name("username"), "Enter the login user name.");
    }
    if f.password.is_empty() || f.password.len() > 1000 {
        errors.add(&name("password"), "Enter the login password.");
    }
    if errors.iter().count() > before {
        return None;
    }
    Some(Server {
        protocol,
        host: host.to_string(),
        port,
        security: security?,
        username: username.to_string(),
        password: f.password.to_string().into(),
    })
}
