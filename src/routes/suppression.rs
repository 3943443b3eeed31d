//! The suppression list (docs/product.md, "Data rights"): `GET /settings/suppression` lists it,
//! `POST` adds an address, `POST …/{id}/delete` removes one with a reason.
//! Organization settings, so OWNER and ADMIN (docs/product.md, "Roles"); every change is
//! audited with the masked address only.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::db::suppression::{self, SuppressionRow};
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::ids::SuppressionId;
use crate::routes::{redirect_with_flash, Reply};
use crate::state::AppState;
use crate::views::layout::Nav;
use crate::views::suppression::{self as view, SuppressionView};

route_table! {
    GET "/settings/suppression" => index,
    POST "/settings/suppression" => add,
    POST "/settings/suppression/{id}/delete" => remove,
}

const PATH: &str = "/settings/suppression";
const TITLE: &str = "Suppression list";
/// Entries the page shows (newest first).
const SHOWN: i64 = 500;

#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    why: String,
}

async fn load(state: &AppState, cur: &CurrentOrg) -> AppResult<(Vec<SuppressionRow>, i64)> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    Ok(state
        .db
        .run(move |conn| suppression::list(conn, &tenant, SHOWN))
        .await?)
}

fn list_view<'a>(
    cur: &'a CurrentOrg,
    rows: &'a [SuppressionRow],
    total: i64,
) -> SuppressionView<'a> {
    SuppressionView {
        csrf: &cur.user.csrf,
        rows,
        total,
        email: "",
        note: "",
        errors: FieldErrors::new(),
        removing: None,
        tz: cur.ctx.org.tz(),
    }
}

async fn respond(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    status: Reply,
    v: &SuppressionView<'_>,
) -> AppResult<HttpResponse> {
    status
        .page_or_fragment(state, cur, req, (Nav::Settings, TITLE), |part| match part {
            crate::routes::Part::Page => view::body(v),
            crate::routes::Part::Fragment => view::card(v),
        })
        .await
}

/// After a change: the card with a flash for HTMX, else a redirect.
async fn changed(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    text: &str,
) -> AppResult<HttpResponse> {
    if !crate::routes::wants_fragment(req) {
        return Ok(redirect_with_flash(req, PATH, text));
    }
    let (rows, total) = load(state, cur).await?;
    let card = view::card(&list_view(cur, &rows, total));
    Ok(crate::routes::fragment(maud::html! {
        (card)
        (crate::views::layout::flash_oob(text))
    }))
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let (rows, total) = load(&state, &cur).await?;
    respond(
        &state,
        &cur,
        &req,
        Reply::Ok,
        &list_view(&cur, &rows, total),
    )
    .await
}

fn validate_add(form: &AddForm) -> Result<(String, String), FieldErrors> {
    let mut errors = FieldErrors::new();
    let email = forms::email(&form.email)
        .map_err(|e| errors.add("email", e))
        .unwrap_or_default();
    let note = forms::plain_text(&form.note, "Note", 0, 500)
        .map_err(|e| errors.add("note", e))
        .unwrap_or_default();
    if errors.is_empty() {
        Ok((email, note))
    } else {
        Err(errors)
    }
}

async fn add(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<AddForm>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    let refused = |errors: FieldErrors| async {
        let (rows, total) = load(&state, &cur).await?;
        let mut v = list_view(&cur, &rows, total);
        (v.email, v.note, v.errors) = (&form.email, &form.note, errors);
        respond(&state, &cur, &req, Reply::Invalid, &v).await
    };
    let (email, note) = match validate_add(&form) {
        Ok(valid) => valid,
        Err(errors) => return refused(errors).await,
    };
    let now = cur.now();
    let added = state
        .db
        .tx(move |conn| suppression::add(conn, &tenant, &email, &note, now))
        .await
        .map_err(AppError::from);
    match added {
        Ok(_) => changed(&state, &cur, &req, "Address added to the suppression list.").await,
        Err(AppError::Conflict(message)) => {
            let mut errors = FieldErrors::new();
            errors.add("email", message);
            refused(errors).await
        }
        Err(e) => Err(e),
    }
}

async fn remove(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    id: web::Path<SuppressionId>,
    form: web::Form<RemoveForm>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    let id = id.into_inner();
    let why = match forms::plain_text(&form.why, "Reason", 1, 500) {
        Ok(why) => why,
        Err(message) => {
            let (rows, total) = load(&state, &cur).await?;
            if !rows.iter().any(|r| r.id == id) {
                return Err(AppError::NotFound);
            }
            let mut v = list_view(&cur, &rows, total);
            v.errors.add("why", message);
            v.removing = Some(id);
            return respond(&state, &cur, &req, Reply::Invalid, &v).await;
        }
    };
    let hint = state
        .db
        .tx(move |conn| suppression::remove(conn, &tenant, id, &why))
        .await?;
    let text = match hint {
        Some(address) => {
            format!("{address} was removed from the suppression list and may be mailed again.")
        }
        None => "The entry was removed from the suppression list.".to_string(),
    };
    changed(&state, &cur, &req, &text).await
}
