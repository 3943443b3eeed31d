//! Webhook endpoints (docs/product.md, "Webhooks"): OWNER and ADMIN list, add, change, rotate
//! the secret of, test and delete endpoints, read each one's delivery log
//! and redeliver failed events; other roles get 403. A new or rotated
//! secret is shown once, in the response to the request that made it.
//! Adding an endpoint and sending a test need a plan with custom
//! integrations; changing, deleting and reading the log always work, so
//! endpoints can be cleaned up after a downgrade.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, TimeZone};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::CurrentOrg;
use crate::db::webhooks::{self as db_hooks, Endpoint, EndpointInput};
use crate::domain::plans::Feature;
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::routes::{redirect_with_flash, Reply};
use crate::state::AppState;
use crate::views::layout::Nav;
use crate::views::webhooks::{self as view, DetailView, FormValues, ListView};
use crate::webhooks::events::EventType;
use crate::webhooks::target;

route_table! {
    GET "/settings/webhooks" => index,
    POST "/settings/webhooks" => create,
    GET "/settings/webhooks/{id}" => show,
    POST "/settings/webhooks/{id}" => update,
    POST "/settings/webhooks/{id}/rotate" => rotate,
    POST "/settings/webhooks/{id}/test" => send_test,
    POST "/settings/webhooks/{id}/delete" => delete,
    POST "/settings/webhooks/{id}/redeliver" => redeliver,
}

const PATH: &str = "/settings/webhooks";
const TITLE: &str = "Webhooks";
/// Longest description accepted.
const MAX_DESCRIPTION: usize = 500;

fn integrations(cur: &CurrentOrg) -> bool {
    let plan = cur.ctx.subscription.effective_plan(cur.now());
    plan.spec().features.has(Feature::CustomIntegrations)
}

fn require_integrations(cur: &CurrentOrg) -> AppResult<()> {
    if integrations(cur) {
        return Ok(());
    }
    Err(AppError::forbidden(
        "Webhooks come with the Professional and Enterprise plans. Upgrade on the plans page to add an endpoint.",
    ))
}

/// The endpoint form's fields, read from the body (event types repeat).
fn read_form(body: &[u8]) -> FormValues {
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let one = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    FormValues {
        url: one("url").unwrap_or_default(),
        description: one("description").unwrap_or_default(),
        all_events: one("all_events").is_some(),
        events: fields
            .iter()
            .filter(|(k, _)| k == "events")
            .map(|(_, v)| v.clone())
            .collect(),
        enabled: one("enabled").is_some(),
    }
}

/// The validated input, or the fields' errors. The host is resolved as a
/// delivery would resolve it (off the async threads), so a target that
/// every delivery would refuse is refused now.
async fn validate(f: &FormValues, allow_private: bool) -> Result<EndpointInput, FieldErrors> {
    let input = validate_fields(f, allow_private)?;
    let url =
        url::Url::parse(&input.url).map_err(|_| FieldErrors::one("url", "Enter a full URL."))?;
    let host = web::block(move || target::check_host(&url, allow_private)).await;
    match host {
        Ok(Ok(())) => Ok(input),
        Ok(Err(e)) => Err(FieldErrors::one("url", e)),
        Err(_) => Err(FieldErrors::one(
            "url",
            "The URL could not be checked; try again.",
        )),
    }
}

/// The form's fields checked on their own.
fn validate_fields(f: &FormValues, allow_private: bool) -> Result<EndpointInput, FieldErrors> {
    let mut errors = FieldErrors::new();
    let url = target::check_url(&f.url, allow_private)
        .map(|u| u.to_string())
        .map_err(|e| errors.add("url", e))
        .unwrap_or_default();
    let description = forms::plain_text(&f.description, "Description", 0, MAX_DESCRIPTION)
        .map_err(|e| errors.add("description", e))
        .unwrap_or_default();
    let unknown: Vec<&str> = f
        .events
        .iter()
        .map(String::as_str)
        .filter(|e| EventType::parse(e).is_none())
        .collect();
    if !unknown.is_empty() {
        let shown: String = unknown.join(", ").chars().take(200).collect();
        errors.add("events", format!("Unknown event type: {shown}."));
    } else if !f.all_events && f.events.is_empty() {
        errors.add("events", "Choose the event types to send, or all events.");
    }
    let mut event_types: Vec<String> = if f.all_events {
        Vec::new()
    } else {
        f.events.clone()
    };
    event_types.sort();
    event_types.dedup();
    if errors.is_empty() {
        Ok(EndpointInput {
            url,
            description,
            event_types,
            enabled: f.enabled,
        })
    } else {
        Err(errors)
    }
}

async fn load_list(state: &AppState, cur: &CurrentOrg) -> AppResult<Vec<Endpoint>> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    Ok(state
        .db
        .run(move |conn| db_hooks::list(conn, &tenant))
        .await?)
}

fn list_view<'a>(cur: &'a CurrentOrg, endpoints: &'a [Endpoint]) -> ListView<'a> {
    ListView {
        csrf: &cur.user.csrf,
        integrations: integrations(cur),
        endpoints,
        created: None,
        form: FormValues::new_endpoint(),
        errors: FieldErrors::new(),
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
    let endpoints = load_list(&state, &cur).await?;
    list_page(&state, &cur, &req, Reply::Ok, &list_view(&cur, &endpoints)).await
}

async fn create(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    require_integrations(&cur)?;
    let form = read_form(&body);
    let input = match validate(&form, state.config.webhook_allow_private_targets).await {
        Ok(input) => input,
        Err(errors) => {
            let endpoints = load_list(&state, &cur).await?;
            let mut v = list_view(&cur, &endpoints);
            (v.form, v.errors) = (form, errors);
            return list_page(&state, &cur, &req, Reply::Invalid, &v).await;
        }
    };
    let now = cur.now();
    let (endpoint, secret) = state
        .db
        .tx(move |conn| db_hooks::create(conn, &tenant, &input, now))
        .await?;
    let endpoints = load_list(&state, &cur).await?;
    let mut v = list_view(&cur, &endpoints);
    v.created = Some((endpoint.id, &secret));
    list_page(&state, &cur, &req, Reply::Ok, &v).await
}

#[derive(Debug, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    failed: Option<String>,
}

/// The endpoint page: its form, actions and delivery log.
async fn detail(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    id: Uuid,
    failed_only: bool,
    shown: (Reply, Option<FormValues>, FieldErrors, Option<String>),
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    let (endpoint, attempts) = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let endpoint = db_hooks::find(conn, &tenant, id)?;
            let attempts = db_hooks::attempts(conn, &tenant, id, failed_only)?;
            Ok((endpoint, attempts))
        })
        .await?;
    let (status, form, errors, secret) = shown;
    let v = DetailView {
        csrf: &cur.user.csrf,
        integrations: integrations(cur),
        form: form.unwrap_or_else(|| FormValues::of(&endpoint)),
        endpoint: &endpoint,
        attempts: &attempts,
        failed_only,
        errors,
        secret: secret.as_deref(),
        tz: cur.ctx.org.tz(),
        now: cur.now(),
    };
    status
        .page(
            state,
            &cur.user,
            req,
            (Nav::Settings, TITLE),
            view::detail(&v),
        )
        .await
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
    query: web::Query<LogQuery>,
) -> AppResult<HttpResponse> {
    let failed = query.failed.as_deref().is_some_and(|f| !f.is_empty());
    let shown = (Reply::Ok, None, FieldErrors::new(), None);
    detail(&state, &cur, &req, path.into_inner(), failed, shown).await
}

async fn update(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    let id = path.into_inner();
    let form = read_form(&body);
    let input = match validate(&form, state.config.webhook_allow_private_targets).await {
        Ok(input) => input,
        Err(errors) => {
            let shown = (Reply::Invalid, Some(form), errors, None);
            return detail(&state, &cur, &req, id, false, shown).await;
        }
    };
    let now = cur.now();
    state
        .db
        .tx(move |conn| db_hooks::update(conn, &tenant, id, &input, now))
        .await?;
    Ok(redirect_with_flash(
        &req,
        &endpoint_path(id),
        "The endpoint is saved.",
    ))
}

fn endpoint_path(id: Uuid) -> String {
    format!("{PATH}/{id}")
}

async fn rotate(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    let (id, now) = (path.into_inner(), cur.now());
    let secret = state
        .db
        .tx(move |conn| db_hooks::rotate(conn, &tenant, id, now))
        .await?;
    let shown = (Reply::Ok, None, FieldErrors::new(), Some(secret));
    detail(&state, &cur, &req, id, false, shown).await
}

async fn send_test(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    require_integrations(&cur)?;
    let (id, now) = (path.into_inner(), cur.now());
    let queued = state
        .db
        .tx(move |conn| db_hooks::send_test(conn, &tenant, id, now))
        .await?;
    let text = if queued == 0 {
        "The endpoint is disabled: enable it to send a test event."
    } else {
        "A test event is on its way; it appears in the log below within a few seconds."
    };
    Ok(redirect_with_flash(&req, &endpoint_path(id), text))
}

async fn delete(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    let id = path.into_inner();
    let url = state
        .db
        .tx(move |conn| db_hooks::delete(conn, &tenant, id))
        .await?;
    Ok(redirect_with_flash(
        &req,
        PATH,
        &format!("The endpoint {url} is deleted."),
    ))
}

#[derive(Debug, Deserialize)]
pub struct RedeliverForm {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    since: Option<String>,
}

/// Redelivers one event (`event`) or every failed one since `since` (a
/// local date and time in the organization's time zone).
async fn redeliver(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<RedeliverForm>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    let (id, now) = (path.into_inner(), cur.now());
    let text = match (form.event.as_deref(), form.since.as_deref()) {
        (Some(event), _) if !event.is_empty() => {
            let event: Uuid = event
                .parse()
                .map_err(|_| AppError::validation("That is not an event of this endpoint."))?;
            state
                .db
                .tx(move |conn| db_hooks::redeliver(conn, &tenant, id, event, now))
                .await?;
            "The event is queued for delivery again.".to_string()
        }
        (_, Some(since)) => {
            let since = local_time(since, cur.ctx.org.tz())?;
            let n = state
                .db
                .tx(move |conn| db_hooks::redeliver_failed_since(conn, &tenant, id, since, now))
                .await?;
            format!(
                "{n} failed event{} queued for delivery again.",
                if n == 1 { " is" } else { "s are" }
            )
        }
        _ => {
            return Err(AppError::validation(
                "Choose an event, or a time since which to redeliver failed events.",
            ))
        }
    };
    Ok(redirect_with_flash(&req, &endpoint_path(id), &text))
}

/// `2026-12-01T09:30` in the organization's time zone, as UTC.
fn local_time(raw: &str, tz: chrono_tz::Tz) -> AppResult<chrono::DateTime<chrono::Utc>> {
    let bad = || AppError::validation("Enter the date and time as YYYY-MM-DDTHH:MM.");
    let naive = NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M").map_err(|_| bad())?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(bad)
}
