//! Sender mailboxes (docs/mailboxes.md): everyone in the organization sees
//! the list with each mailbox's health (today's sends against its cap, its
//! next free slot, last inbox read and error, bounce rate, replies of the
//! last 7 days); OWNER and ADMIN connect, edit, resume and remove any
//! mailbox, a MEMBER who may send only their own, a VIEWER nothing (403).
//! Connecting checks the SMTP and IMAP logins outside any transaction, then
//! seals both passwords and stores the mailbox under the organization's row
//! lock, so the plan's seat count (one mailbox per user seat) cannot be
//! passed by concurrent saves. Editing checks the logins again when a
//! connection setting changed (an empty password keeps the stored one) and
//! saves everything in one transaction; resuming a mailbox that needs
//! attention checks its stored logins first. Passwords are never shown back.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use uuid::Uuid;

use crate::auth::CurrentOrg;
use crate::db::conversations::{self, ACTIVE, NEEDS_ATTENTION};
use crate::db::mailboxes::{self as db_mailboxes, password_context, Mailbox, NewMailbox, Settings};
use crate::db::{audit, inbound, DbError, Tenant};
use crate::domain::pacing::{self, Booked, Pacing};
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
use crate::views::mailboxes::{self as view, EditView, FormValues, ListView, Row};

route_table! {
    GET "/settings/mailboxes" => index,
    POST "/settings/mailboxes" => create,
    GET "/settings/mailboxes/{id}/edit" => edit,
    POST "/settings/mailboxes/{id}/edit" => update,
    POST "/settings/mailboxes/{id}/resume" => resume,
    POST "/settings/mailboxes/{id}/delete" => delete,
}

const PATH: &str = "/settings/mailboxes";
const TITLE: &str = "Mailboxes";
/// Bounds of a mailbox's daily cap.
const MAX_DAILY_CAP: i32 = 2000;
/// The longest minimum gap between two sends (a day).
const MAX_GAP_SECONDS: i32 = 86_400;
/// How far back the list counts replies.
const REPLY_DAYS: i64 = 7;

/// The form, checked: what is stored and the two servers to log in to.
struct Connect {
    display_name: String,
    email: String,
    smtp: Server,
    imap: Server,
    folder: String,
    daily_cap: i32,
    /// Editing only: the rest of the pacing (`None` when connecting).
    pacing: Option<Pacing>,
}

fn may_connect(cur: &CurrentOrg) -> bool {
    cur.can(Action::ManageAllMailboxes) || cur.can(Action::ConnectOwnMailbox)
}

/// May the viewer edit, resume and remove a mailbox owned by `owner`?
fn may_manage(cur: &CurrentOrg, owner: Option<crate::ids::UserId>) -> bool {
    let own = owner.is_some() && owner == cur.tenant().user_id();
    roles::may_manage_mailbox(cur.role(), cur.ctx.member.flags(), own)
}

/// How many mailboxes the plan allows: one per user seat (`None` = no limit).
fn seat_limit(cur: &CurrentOrg) -> Option<i64> {
    let plan = cur.ctx.subscription.effective_plan(cur.now());
    plan.spec().limits.users
}

/// The tenant's mailboxes with their state and health.
async fn load_rows(state: &AppState, cur: &CurrentOrg) -> AppResult<Vec<Row>> {
    let tenant = cur.tenant();
    let (now, tz) = (cur.now(), cur.ctx.org.tz());
    let today = now.with_timezone(&tz).date_naive();
    Ok(state
        .db
        .run(move |conn| -> Result<_, DbError> {
            let mut rows = Vec::new();
            for mailbox in db_mailboxes::list(conn, &tenant)? {
                let state = db_mailboxes::state(conn, &tenant, mailbox.id)?;
                let (day, count) = db_mailboxes::booked_day(conn, &tenant, mailbox.id)?;
                let booked = Booked {
                    next_free: state.next_send_at,
                    last_day: day,
                    count_on_last_day: u32::try_from(count).unwrap_or(0),
                };
                let next_slot = (state.status == ACTIVE)
                    .then(|| pacing::next_slot(&mailbox.pacing(), tz, &booked, now));
                let since = now - chrono::Duration::days(REPLY_DAYS);
                rows.push(Row {
                    bounce_rate: conversations::bounce_rate(conn, &tenant, mailbox.id)?,
                    replies_7_days: inbound::replies_since(conn, &tenant, mailbox.id, since)?,
                    sent_today: if day == Some(today) { count } else { 0 },
                    next_slot,
                    mailbox,
                    state,
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
        manageable: rows
            .iter()
            .map(|r| may_manage(cur, r.mailbox.owner_user_id))
            .collect(),
        rows,
        me,
        form: FormValues::new_mailbox(),
        errors: FieldErrors::new(),
        over_limit: false,
        tz: cur.ctx.org.tz(),
        now: cur.now(),
        refusal: None,
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
    let input = match validate(&form, allow_private, false) {
        Ok(input) => input,
        Err(errors) => return refused(&state, &cur, &req, Reply::Invalid, form, errors).await,
    };
    let servers = (input.smtp.clone(), input.imap.clone());
    if let Err(errors) = check_logins(servers, &input.folder, allow_private).await? {
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

/// Logs in to both servers (SMTP, then IMAP) on the blocking pool, outside
/// any transaction: a refusal is an error on that server's host field.
async fn check_logins(
    (smtp_server, imap_server): (Server, Server),
    folder: &str,
    allow_private: bool,
) -> AppResult<Result<(), FieldErrors>> {
    let folder = folder.to_string();
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
    if !may_manage(&cur, mailbox.owner_user_id) {
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

/// The checked input, or each bad field's message. When `editing`, the
/// address is not read (it cannot change), empty passwords are allowed
/// (they keep the stored ones) and the whole pacing is read.
fn validate(f: &FormValues, allow_private: bool, editing: bool) -> Result<Connect, FieldErrors> {
    let mut errors = FieldErrors::new();
    let display_name = forms::plain_text(&f.display_name, "Display name", 1, 100)
        .map_err(|e| errors.add("display_name", e))
        .unwrap_or_default();
    let email = if editing {
        String::new()
    } else {
        forms::email(&f.email)
            .map_err(|e| errors.add("email", e))
            .unwrap_or_default()
    };
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
    let smtp = server(
        &mut errors,
        Protocol::Smtp,
        &smtp_fields,
        allow_private,
        editing,
    );
    let imap = server(
        &mut errors,
        Protocol::Imap,
        &imap_fields,
        allow_private,
        editing,
    );
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
    let pacing = editing.then(|| pacing_of(f, daily_cap, &mut errors));
    match (smtp, imap) {
        (Some(smtp), Some(imap)) if errors.is_empty() => Ok(Connect {
            display_name,
            email,
            smtp,
            imap,
            folder: folder.to_string(),
            daily_cap,
            pacing,
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

/// One server, checked; with `password_optional` an empty password is
/// allowed (the caller puts the stored one in).
fn server(
    errors: &mut FieldErrors,
    protocol: Protocol,
    f: &ServerFields,
    allow_private: bool,
    password_optional: bool,
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
    if (f.password.is_empty() && !password_optional) || f.password.len() > 1000 {
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

/// The pacing of the edit form (the daily cap already read); a bad value
/// is an error on its field and the defaults stand in.
fn pacing_of(f: &FormValues, daily_cap: i32, errors: &mut FieldErrors) -> Pacing {
    let min_gap_seconds = match f.min_gap_seconds.trim().parse::<i32>() {
        Ok(n) if (0..=MAX_GAP_SECONDS).contains(&n) => n.unsigned_abs(),
        _ => {
            errors.add(
                "min_gap_seconds",
                format!("Enter a whole number of seconds from 0 to {MAX_GAP_SECONDS}."),
            );
            Pacing::DEFAULT.min_gap_seconds
        }
    };
    let start = minute_of(&f.window_start, false);
    let end = minute_of(&f.window_end, true);
    if start.is_none() {
        errors.add("window_start", "Enter a time such as 09:00.");
    }
    if end.is_none() {
        errors.add("window_end", "Enter a time such as 17:00.");
    }
    let p = Pacing {
        daily_cap: daily_cap.unsigned_abs().max(1),
        min_gap_seconds,
        jitter_percent: Pacing::DEFAULT.jitter_percent,
        send_days: f.send_days(),
        window_start_minute: start.unwrap_or(Pacing::DEFAULT.window_start_minute),
        window_end_minute: end.unwrap_or(Pacing::DEFAULT.window_end_minute),
    };
    match pacing::validate(&p) {
        Err(e @ pacing::PacingError::NoSendingDay) => errors.add("send_days", e.to_string()),
        Err(e @ pacing::PacingError::EmptyWindow) if start.is_some() && end.is_some() => {
            errors.add("window_end", e.to_string())
        }
        _ => {}
    }
    p
}

/// `HH:MM` as minutes after midnight; as the end of a window, 00:00 is the
/// end of the day (24:00).
fn minute_of(text: &str, is_end: bool) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.get(..2)?.parse::<u32>().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    let minute = h * 60 + m;
    Some(if is_end && minute == 0 {
        24 * 60
    } else {
        minute
    })
}

/// One of the tenant's mailboxes that the viewer may manage: 404 for
/// another organization's id, 403 for someone else's mailbox or a role
/// that may not.
async fn managed(state: &AppState, cur: &CurrentOrg, id: MailboxId) -> AppResult<Mailbox> {
    let tenant = cur.tenant();
    let mailbox = state
        .db
        .run(move |conn| db_mailboxes::find(conn, &tenant, id))
        .await?;
    if !may_manage(cur, mailbox.owner_user_id) {
        return Err(AppError::forbidden(roles::denial_message(
            Action::ManageAllMailboxes,
        )));
    }
    Ok(mailbox)
}

async fn edit(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let mailbox = managed(&state, &cur, MailboxId::from(path.into_inner())).await?;
    let form = FormValues::of(&mailbox);
    edit_page(
        &state,
        &cur,
        &req,
        Reply::Ok,
        &mailbox,
        form,
        FieldErrors::new(),
    )
    .await
}

async fn edit_page(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    status: Reply,
    mailbox: &Mailbox,
    form: FormValues,
    errors: FieldErrors,
) -> AppResult<HttpResponse> {
    let v = EditView {
        csrf: &cur.user.csrf,
        mailbox,
        form,
        errors,
    };
    status
        .page(
            state,
            &cur.user,
            req,
            (Nav::Settings, TITLE),
            view::edit(&v),
        )
        .await
}

/// Which connection settings an edit changes.
struct Changes {
    /// Anything the logins depend on (servers, users, passwords, folder).
    connection: bool,
    /// The inbox to read is another one (IMAP server, user or folder).
    inbox: bool,
}

fn changes(m: &Mailbox, input: &Connect) -> Changes {
    use secrecy::ExposeSecret;
    let differs = |s: &Server, host: &str, port: i32, security: &str, user: &str| {
        s.host != host
            || i32::from(s.port) != port
            || s.security.as_str() != security
            || s.username != user
            || !s.password.expose_secret().is_empty()
    };
    let (smtp, imap) = (&input.smtp, &input.imap);
    let inbox = imap.host != m.imap_host
        || imap.username != m.imap_username
        || input.folder != m.imap_folder;
    Changes {
        connection: inbox
            || differs(
                smtp,
                &m.smtp_host,
                m.smtp_port,
                &m.smtp_security,
                &m.smtp_username,
            )
            || differs(
                imap,
                &m.imap_host,
                m.imap_port,
                &m.imap_security,
                &m.imap_username,
            ),
        inbox,
    }
}

/// The servers to log in to: a password left empty is the stored one,
/// opened; one that does not open (the key changed) must be typed again.
fn with_stored_passwords(
    m: &Mailbox,
    input: &Connect,
    key: &MailboxKey,
) -> Result<(Server, Server), FieldErrors> {
    use secrecy::ExposeSecret;
    let mut errors = FieldErrors::new();
    let mut fill = |server: &Server, sealed: &[u8], which: &str| {
        let mut server = server.clone();
        if server.password.expose_secret().is_empty() {
            match key.open(sealed, &password_context(m.id, which)) {
                Ok(stored) => server.password = stored,
                Err(e) => errors.add(
                    &format!("{which}_password"),
                    format!("{e}: enter it again."),
                ),
            }
        }
        server
    };
    let smtp = fill(&input.smtp, &m.smtp_password, "smtp");
    let imap = fill(&input.imap, &m.imap_password, "imap");
    if errors.is_empty() {
        Ok((smtp, imap))
    } else {
        Err(errors)
    }
}

/// The settings to store: new passwords sealed to the mailbox, empty ones
/// left out (kept).
fn settings_of(
    m: &Mailbox,
    input: &Connect,
    key: &MailboxKey,
    now: chrono::DateTime<chrono::Utc>,
) -> Settings {
    use secrecy::ExposeSecret;
    let seal = |server: &Server, which: &str| {
        let plain = server.password.expose_secret();
        (!plain.is_empty()).then(|| key.seal(plain, &password_context(m.id, which)))
    };
    let pacing = input.pacing.unwrap_or_else(|| m.pacing());
    let signed = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    Settings {
        display_name: input.display_name.clone(),
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
        daily_cap: input.daily_cap,
        min_gap_seconds: signed(pacing.min_gap_seconds),
        send_days: i32::from(pacing.send_days),
        window_start_minute: signed(pacing.window_start_minute),
        window_end_minute: signed(pacing.window_end_minute),
        updated_at: now,
    }
}

/// What the audit log keeps of a mailbox's settings (never a password).
fn audited(m: &Mailbox) -> serde_json::Value {
    json!({
        "email": m.email,
        "display_name": m.display_name,
        "smtp": format!("{}:{} ({}) as {}", m.smtp_host, m.smtp_port, m.smtp_security, m.smtp_username),
        "imap": format!("{}:{} ({}) as {}, {}", m.imap_host, m.imap_port, m.imap_security, m.imap_username, m.imap_folder),
        "daily_cap": m.daily_cap,
        "min_gap_seconds": m.min_gap_seconds,
        "send_days": m.send_days,
        "window": format!("{}-{}", view::clock(m.window_start_minute), view::clock(m.window_end_minute)),
    })
}

async fn update(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
    web::Form(form): web::Form<FormValues>,
) -> AppResult<HttpResponse> {
    let mailbox = managed(&state, &cur, MailboxId::from(path.into_inner())).await?;
    let allow_private = state.config.mailbox_allow_private_hosts;
    let input = match validate(&form, allow_private, true) {
        Ok(input) => input,
        Err(errors) => {
            return edit_page(&state, &cur, &req, Reply::Invalid, &mailbox, form, errors).await
        }
    };
    let key = MailboxKey::from_config(&state.config);
    let changed = changes(&mailbox, &input);
    if changed.connection {
        let checked = match with_stored_passwords(&mailbox, &input, &key) {
            Ok(servers) => check_logins(servers, &input.folder, allow_private).await?,
            Err(errors) => Err(errors),
        };
        if let Err(errors) = checked {
            return edit_page(&state, &cur, &req, Reply::Invalid, &mailbox, form, errors).await;
        }
    }
    let (now, tenant, id) = (cur.now(), cur.tenant(), mailbox.id);
    let settings = settings_of(&mailbox, &input, &key, now);
    let before = audited(&mailbox);
    let email = state
        .db
        .tx(move |conn| -> Result<String, DbError> {
            let after = db_mailboxes::update_settings(conn, &tenant, id, &settings)?;
            if changed.inbox {
                db_mailboxes::restart_inbox(conn, &tenant, id, now)?;
            }
            if changed.connection {
                // Both logins just worked: a mailbox that could not log in can again.
                conversations::mark_healthy(conn, &tenant, id, now)?;
            }
            let mut after_json = audited(&after);
            after_json["passwords_changed"] =
                json!(settings.smtp_password.is_some() || settings.imap_password.is_some());
            audit::record(
                conn,
                &tenant,
                "mailbox.updated",
                &id.to_string(),
                Some(before),
                Some(after_json),
            )?;
            Ok(after.email)
        })
        .await?;
    Ok(redirect_with_flash(
        &req,
        PATH,
        &format!("The mailbox {email} is saved."),
    ))
}

/// The list again with why a resume was refused; nothing changed.
async fn resume_refused(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    why: String,
) -> AppResult<HttpResponse> {
    let rows = load_rows(state, cur).await?;
    let mut v = list_view(cur, &rows);
    v.refusal = Some(why);
    list_page(state, cur, req, Reply::Invalid, &v).await
}

async fn resume(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let mailbox = managed(&state, &cur, MailboxId::from(path.into_inner())).await?;
    let (tenant, id) = (cur.tenant(), mailbox.id);
    let current = state
        .db
        .run(move |conn| db_mailboxes::state(conn, &tenant, id))
        .await?;
    if current.status == ACTIVE {
        let message = format!("The mailbox {} is already active.", mailbox.email);
        return Ok(redirect_with_flash(&req, PATH, &message));
    }
    if mailbox.has_no_server() {
        let why = format!(
            "{} is the demo's mailbox: it has no server, so it stays paused. Connect a mailbox of your own to send and read replies.",
            mailbox.email
        );
        return resume_refused(&state, &cur, &req, why).await;
    }
    if current.status == NEEDS_ATTENTION {
        if let Err(why) = check_stored_logins(&state, &mailbox).await? {
            return resume_refused(&state, &cur, &req, why).await;
        }
    }
    let before = json!({ "status": current.status, "reason": current.status_reason });
    state
        .db
        .tx(move |conn| -> Result<(), DbError> {
            if conversations::resume(conn, &tenant, id)? {
                let after = json!({ "status": ACTIVE });
                audit::record(
                    conn,
                    &tenant,
                    "mailbox.resumed",
                    &id.to_string(),
                    Some(before),
                    Some(after),
                )?;
            }
            Ok(())
        })
        .await?;
    Ok(redirect_with_flash(
        &req,
        PATH,
        &format!("The mailbox {} is active again.", mailbox.email),
    ))
}

/// Logs in to a mailbox's servers with its stored settings and passwords,
/// outside any transaction; the problem, to show, when it fails.
async fn check_stored_logins(state: &AppState, m: &Mailbox) -> AppResult<Result<(), String>> {
    let key = MailboxKey::from_config(&state.config);
    let stored = FormValues::of(m);
    let input = validate(&stored, true, true).map_err(|_| {
        AppError::unexpected(format!("mailbox {} has settings the form refuses", m.id))
    })?;
    let servers = match with_stored_passwords(m, &input, &key) {
        Ok(servers) => servers,
        Err(errors) => return Ok(Err(first_error(&errors))),
    };
    let allow_private = state.config.mailbox_allow_private_hosts;
    Ok(check_logins(servers, &m.imap_folder, allow_private)
        .await?
        .map_err(|errors| {
            format!(
                "The logins still fail, so the mailbox stays as it was: {}",
                first_error(&errors)
            )
        }))
}

fn first_error(errors: &FieldErrors) -> String {
    errors
        .iter()
        .map(|(_, message)| message.clone())
        .next()
        .unwrap_or_default()
}
