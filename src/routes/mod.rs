//! HTTP handlers, one module per feature. Each module declares its routes
//! with `route_table!`, and `features!` lists the modules once: the same list
//! registers them and feeds `all_routes()`, which the tenant-isolation sweep
//! walks, so no route can be served without being swept. Feature modules
//! share helpers from here and `respond`, never from each other.

use actix_web::http::header;
use actix_web::{web, HttpRequest};

use crate::auth::{CurrentOrg, CurrentUser};
use crate::db::context::OrgContext;
use crate::db::leads::LeadFilter;
use crate::db::models::Subscription;
use crate::db::pages::ShellData;
use crate::db::sessions::ClientInfo;
use crate::db::Tenant;
use crate::domain::leads::LeadStatus;
use crate::domain::plans::{Limit, LimitKind};
use crate::domain::roles;
use crate::domain::roles::Action;
use crate::domain::subscription::Status;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::layout::{Flash, FlashKind, Shell, ShellOrg};

/// Declares a feature's routes: `GET "/path" => handler, ...`.
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// (method, path) of every route this module registers.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
            $(
                cfg.route(
                    $path,
                    actix_web::web::method(actix_web::http::Method::$method).to($handler),
                );
            )*
        }
    };
}

/// Lists the feature modules once: each is registered by `configure` and
/// walked by `all_routes`, so no module can be served outside the sweep.
/// The modules themselves are declared with plain `mod` items below, so
/// rustfmt formats them; a module missing here is never registered, which
/// `tests/it/structure.rs` catches.
macro_rules! features {
    ($($module:ident),* $(,)?) => {
        /// Registers every feature's routes.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $($module::configure(cfg);)*
        }

        /// Every registered (method, path), for tests and docs.
        pub fn all_routes() -> Vec<(&'static str, &'static str)> {
            [$($module::ROUTES),*].concat()
        }
    };
}

pub mod errors;
mod respond;
/// Handler pieces shared by several features (declares no routes).
pub mod shared;
use respond::FLASH_COOKIE;
pub use respond::{
    fragment, html_response, invalid, page, page_with, redirect, redirect_with_flash, see_other,
    see_other_with_flash, usage_changed, user_page, wants_fragment, Part, Reply,
};

// Registration order matters where paths overlap: `lead_import` serves
// `/leads/import` and `/leads/export` before `leads` matches `/leads/{id}`.
pub mod account;
pub mod account_deletion;
pub mod account_email;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod billing;
pub mod brand;
pub mod dashboard;
pub mod enrollments;
pub mod erasure;
pub mod invitations;
pub mod lead_bulk;
pub mod lead_import;
pub mod leads;
pub mod mailboxes;
pub mod messages;
pub mod notices;
pub mod org_deletion;
pub mod org_export;
pub mod orgs;
pub mod outbox;
pub mod password;
pub mod plans;
pub mod privacy;
pub mod sequences;
pub mod sessions;
pub mod settings;
pub mod suppression;
pub mod system;
pub mod team;
pub mod templates;
pub mod unsubscribe;
pub mod usage;
pub mod webhooks;

features![
    system,
    auth,
    orgs,
    dashboard,
    billing,
    account,
    account_email,
    password,
    sessions,
    account_deletion,
    settings,
    suppression,
    org_deletion,
    org_export,
    api_keys,
    webhooks,
    mailboxes,
    team,
    invitations,
    audit,
    brand,
    usage,
    analytics,
    plans,
    notices,
    bench,
    lead_import,
    lead_bulk,
    erasure,
    leads,
    templates,
    messages,
    enrollments,
    sequences,
    outbox,
    unsubscribe,
    privacy,
];

fn take_flash(req: &HttpRequest) -> Option<Flash> {
    let raw = req.cookie(FLASH_COOKIE)?;
    let text: String = form_urlencoded::parse(format!("m={}", raw.value()).as_bytes())
        .next()
        .map(|(_, v)| v.chars().take(300).collect())?;
    (!text.is_empty()).then_some(Flash {
        kind: FlashKind::Success,
        text,
    })
}

/// What the organization uses of `kind` now, and its effective limit.
pub fn usage_of(
    conn: &mut diesel::PgConnection,
    tenant: &Tenant,
    sub: &Subscription,
    kind: LimitKind,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<(i64, Limit)> {
    let limits = crate::db::usage::effective_limits(conn, tenant, sub, now)?;
    let used = crate::db::usage::used(conn, tenant, kind, now)?;
    Ok((used, limits.limits.get(kind)))
}

/// A list page's rows together with what the organization uses of `kind`
/// and its limit, read on one connection by any member of the organization.
pub async fn list_with_usage<T, F>(
    state: &AppState,
    cur: &CurrentOrg,
    kind: LimitKind,
    list: F,
) -> AppResult<(Vec<T>, i64, Limit)>
where
    F: FnOnce(&mut diesel::PgConnection, &Tenant) -> diesel::QueryResult<Vec<T>> + Send + 'static,
    T: Send + 'static,
{
    let tenant = cur.tenant_for(Action::ReadWorkspace)?;
    let (sub, now) = (cur.ctx.subscription.clone(), cur.now());
    state
        .db
        .run(move |conn| -> AppResult<_> {
            let rows = list(conn, &tenant)?;
            let (used, limit) = usage_of(conn, &tenant, &sub, kind, now)?;
            Ok((rows, used, limit))
        })
        .await
}

/// The outcome of a write that a plan limit may refuse: `Err(message)`
/// when the limit was reached, so the form can be shown again with it;
/// any other error propagates.
pub fn within_limit<T, E: Into<AppError>>(result: Result<T, E>) -> AppResult<Result<T, String>> {
    match result.map_err(Into::into) {
        Ok(value) => Ok(Ok(value)),
        Err(AppError::LimitReached(message)) => Ok(Err(message)),
        Err(e) => Err(e),
    }
}

/// An id named in a form field; a malformed one is as unknown as a missing
/// row: 404. (Path ids are typed extractors; `PathConfig` maps theirs to 404.)
pub fn form_id<T: std::str::FromStr>(value: &str) -> AppResult<T> {
    value.parse().map_err(|_| AppError::NotFound)
}

/// The owner part of a lead filter from the `owner` query parameter: `me`,
/// `none` (unassigned) or a member's id; anything else is a clear 400.
pub fn owner_filter(
    param: &str,
    me: crate::ids::UserId,
) -> AppResult<Option<crate::db::leads::OwnerFilter>> {
    use crate::db::leads::OwnerFilter;
    Ok(match param.trim() {
        "" => None,
        "me" => Some(OwnerFilter::User(me)),
        "none" => Some(OwnerFilter::Unassigned),
        id => Some(OwnerFilter::User(id.parse().map_err(|_| {
            AppError::validation("Unknown owner. Choose one from the list.")
        })?)),
    })
}

/// The list filter of a query string; an unknown status is a clear 400.
pub fn lead_filter(q: &str, status: &str, tag: &str) -> AppResult<LeadFilter> {
    let status = match status.trim() {
        "" => None,
        s => Some(s.parse::<LeadStatus>().map_err(|_| {
            AppError::validation(format!(
                "Unknown status. Use one of: {}.",
                LeadStatus::ALL.map(LeadStatus::as_str).join(", ")
            ))
        })?),
    };
    let tag = Some(tag.trim().to_string()).filter(|t| !t.is_empty());
    Ok(LeadFilter {
        q: q.trim().chars().take(200).collect(),
        status,
        tag,
        owner: None,
    })
}

/// The user agent and address of a request, for the session list.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        ip: client_ip(req),
    }
}

/// The client's address: the TCP peer, or what a `TRUSTED_PROXIES` peer
/// forwarded (`client_addr`).
pub fn client_ip(req: &HttpRequest) -> String {
    crate::client_addr::of(req)
        .ip
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Builds the shell of a signed-in page (organization part when the
/// session has a current organization).
pub async fn shell(state: &AppState, user: &CurrentUser, req: &HttpRequest) -> AppResult<Shell> {
    let user_id = user.id();
    let tenant = user.session.org.as_ref().map(|o| o.tenant);
    let data = state
        .db
        .run(move |conn| crate::db::pages::shell_data(conn, user_id, tenant.as_ref()))
        .await?;
    Ok(shell_from(user, req, data))
}

/// The shell from data a page read along with its own (`db::pages`), which
/// saves the shell's round trip.
pub fn shell_from(user: &CurrentUser, req: &HttpRequest, data: ShellData) -> Shell {
    let ShellData {
        orgs,
        unread_notices: unread,
    } = data;
    Shell {
        user_name: user.session.user.name.clone(),
        csrf: user.csrf.clone(),
        org: user
            .session
            .org
            .as_ref()
            .map(|ctx| shell_org(ctx, user.now)),
        orgs,
        unread_notices: unread,
        unverified_email: user.session.user.email_verified_at.is_none(),
        flash: take_flash(req),
    }
}

/// True when the organization's effective plan includes white label.
pub fn white_label(ctx: &OrgContext, now: chrono::DateTime<chrono::Utc>) -> bool {
    let plan = ctx.subscription.effective_plan(now);
    plan.spec().features.white_label
}

pub(crate) fn shell_org(ctx: &OrgContext, now: chrono::DateTime<chrono::Utc>) -> ShellOrg {
    let sub = &ctx.subscription;
    let status = sub.status;
    let white_label = white_label(ctx, now);
    let role = ctx.member.role;
    ShellOrg {
        id: ctx.org.id,
        name: ctx.org.name.clone(),
        brand_name: ctx.org.brand_name.clone().filter(|_| white_label),
        brand_color: ctx.org.brand_color.clone().filter(|_| white_label),
        has_logo: white_label && ctx.org.logo_content_type.is_some(),
        role_label: role.label(),
        status_label: status.label(),
        trial_days_left: (status == Status::Trial).then(|| sub.trial_days_left(now)),
        past_due: status == Status::PastDue,
        can_manage_billing: roles::allows(role, ctx.member.flags(), Action::ManageBilling),
        deletion_on: ctx
            .org
            .deletion_scheduled_at
            .map(|at| crate::views::format::date(at, ctx.org.tz())),
        is_owner: role == roles::Role::Owner,
    }
}
