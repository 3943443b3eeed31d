//! API keys (docs/product.md, "API"): owners create and revoke them, admins see the list.
//! A new key is shown once, in the response to the request that created it
//! (never in a redirect or a cookie). Creating needs a plan with API access;
//! revoking always works, so keys can be cleaned up after a downgrade.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::db::api_keys::{self as db_keys, KeyRow};
use crate::domain::api_keys::KeyScope;
use crate::domain::plans::Feature;
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::ids::ApiKeyId;
use crate::routes::{redirect_with_flash, Reply};
use crate::state::AppState;
use crate::views::api_keys::{self as view, KeysView};
use crate::views::layout::Nav;

route_table! {
    GET "/settings/api-keys" => index,
    POST "/settings/api-keys" => create,
    POST "/settings/api-keys/{id}/revoke" => revoke,
}

const PATH: &str = "/settings/api-keys";
const TITLE: &str = "API keys";

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

fn api_access(cur: &CurrentOrg) -> bool {
    let plan = cur.ctx.subscription.effective_plan(cur.now());
    plan.spec().features.has(Feature::ApiAccess)
}

fn keys_view<'a>(cur: &'a CurrentOrg, keys: &'a [KeyRow]) -> KeysView<'a> {
    KeysView {
        csrf: &cur.user.csrf,
        can_manage: cur.can(Action::ManageBilling),
        api_access: api_access(cur),
        keys,
        created: None,
        name: "",
        scope: KeyScope::Read,
        errors: FieldErrors::new(),
        tz: cur.ctx.org.tz(),
        now: cur.now(),
    }
}

async fn load(state: &AppState, cur: &CurrentOrg) -> AppResult<Vec<KeyRow>> {
    let tenant = cur.tenant_for(Action::ViewBilling)?;
    Ok(state
        .db
        .run(move |conn| db_keys::list(conn, &tenant))
        .await?)
}

/// The page, or for HTMX the card, with `status`.
async fn respond(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    status: Reply,
    v: &KeysView<'_>,
) -> AppResult<HttpResponse> {
    status
        .page_or_fragment(state, cur, req, (Nav::Settings, TITLE), |part| match part {
            crate::routes::Part::Page => view::body(v),
            crate::routes::Part::Fragment => view::card(v),
        })
        .await
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let keys = load(&state, &cur).await?;
    respond(&state, &cur, &req, Reply::Ok, &keys_view(&cur, &keys)).await
}

/// The name and scope of the form, or the fields' errors.
fn validate(form: &KeyForm) -> Result<(String, KeyScope), FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = forms::plain_text(&form.name, "Name", 1, 100)
        .map_err(|e| errors.add("name", e))
        .unwrap_or_default();
    let scope = form
        .scope
        .parse::<KeyScope>()
        .map_err(|_| errors.add("scope", "Choose read only or read and write."))
        .unwrap_or(KeyScope::Read);
    if errors.is_empty() {
        Ok((name, scope))
    } else {
        Err(errors)
    }
}

async fn create(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<KeyForm>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageBilling)?;
    if !api_access(&cur) {
        return Err(AppError::forbidden(
            "API keys come with the Professional and Enterprise plans. Upgrade on the plans page to create one.",
        ));
    }
    let (name, scope) = match validate(&form) {
        Ok(valid) => valid,
        Err(errors) => {
            let keys = load(&state, &cur).await?;
            let mut v = keys_view(&cur, &keys);
            let scope = form.scope.parse().unwrap_or(KeyScope::Read);
            (v.name, v.scope, v.errors) = (&form.name, scope, errors);
            return respond(&state, &cur, &req, Reply::Invalid, &v).await;
        }
    };
    let now = cur.now();
    let created = state
        .db
        .run(move |conn| db_keys::create(conn, &tenant, &name, scope, now))
        .await?;
    let keys = load(&state, &cur).await?;
    let mut v = keys_view(&cur, &keys);
    v.created = Some(&created.key);
    respond(&state, &cur, &req, Reply::Ok, &v).await
}

async fn revoke(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    id: web::Path<ApiKeyId>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageBilling)?;
    let (id, now) = (id.into_inner(), cur.now());
    let revoked = state
        .db
        .run(move |conn| db_keys::revoke(conn, &tenant, id, now))
        .await?;
    let text = format!("The key ld_{}_… is revoked.", revoked.prefix);
    if !crate::routes::wants_fragment(&req) {
        return Ok(redirect_with_flash(&req, PATH, &text));
    }
    let keys = load(&state, &cur).await?;
    let card = view::card(&keys_view(&cur, &keys));
    Ok(crate::routes::fragment(maud::html! {
        (card)
        div #flash aria-live="polite" hx-swap-oob="true" { div.flash.flash-success role="status" { (text) } }
    }))
}
