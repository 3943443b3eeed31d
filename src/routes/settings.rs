//! Organization settings (owners and admins): name, slug, time zone and, with
//! white label, brand name, colour and logo. Saved inline with HTMX (errors
//! next to the fields) or as a plain form; each save writes one audit event.
//! Only sniffed PNG/JPEG/WebP bytes are stored as a logo.

use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::db::org_export;
use crate::db::settings::{self as db_settings, Logo, OrgSettings, Saved};
use crate::domain::roles::Action;
use crate::domain::settings::{
    check_slug, parse_brand_color, parse_time_zone, sniff_logo, LOGO_MAX_BYTES,
};
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::routes::{
    fragment, page, redirect_with_flash, wants_fragment, white_label, Part, Reply,
};
use crate::state::AppState;
use crate::views::format::date;
use crate::views::layout::Nav;
use crate::views::org_export as export_view;
use crate::views::settings::{self as view, logo_card, SettingsValues, SettingsView};

route_table! {
    GET "/settings" => show,
    POST "/settings" => save,
    POST "/settings/logo" => upload_logo,
    POST "/settings/logo/remove" => remove_logo,
}

fn values_of(s: &OrgSettings) -> SettingsValues {
    SettingsValues {
        name: s.name.clone(),
        slug: s.slug.clone(),
        time_zone: s.time_zone.clone(),
        brand_name: s.brand_name.clone().unwrap_or_default(),
        brand_color: s.brand_color.clone().unwrap_or_default(),
    }
}

fn view<'a>(cur: &'a CurrentOrg, values: SettingsValues, errors: FieldErrors) -> SettingsView<'a> {
    let now = cur.now();
    SettingsView {
        csrf: &cur.user.csrf,
        values,
        errors,
        white_label: white_label(&cur.ctx, cur.now()),
        saved: false,
        plan_name: cur.ctx.subscription.effective_plan(now).name(),
        created: date(cur.ctx.org.created_at, cur.ctx.org.tz()),
        has_logo: cur.ctx.org.logo_content_type.is_some(),
        logo_error: None,
        deletion_card: deletion_card(cur),
        export_card: None,
    }
}

/// The danger zone, for owners.
fn deletion_card(cur: &CurrentOrg) -> Option<maud::Markup> {
    let org = &cur.ctx.org;
    let day = org.deletion_scheduled_at.map(|at| date(at, org.tz()));
    (cur.role() == crate::domain::roles::Role::Owner).then(|| {
        crate::views::org_deletion::card(
            &cur.user.csrf,
            &org.name,
            day.as_deref(),
            &FieldErrors::new(),
        )
    })
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageSettings)?;
    current_page(&state, &cur, &req, None).await
}

/// The settings page with the stored values (and a refused logo's reason).
async fn current_page(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    logo_error: Option<String>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant();
    let owner = cur.can(Action::ManageBilling);
    let (current, export) = state
        .db
        .run(move |conn| {
            let export = match owner {
                true => Some(org_export::latest(conn, &tenant)?),
                false => None,
            };
            Ok::<_, diesel::result::Error>((db_settings::load(conn, &tenant)?, export))
        })
        .await?;
    let mut v = view(cur, values_of(&current), FieldErrors::new());
    v.logo_error = logo_error;
    v.export_card = export.map(|latest| {
        export_view::card(latest.as_ref(), &cur.user.csrf, cur.ctx.org.tz(), cur.now())
    });
    page(state, cur, req, Nav::Settings, "Settings", view::body(&v)).await
}

#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    brand_name: String,
    #[serde(default)]
    brand_color: String,
}

/// Text shown in the product: no markup characters.
fn plain_text(value: &str, label: &str, min: usize, max: usize) -> Result<String, String> {
    let value = forms::text(value, label, min, max)?;
    if value.contains(['<', '>']) {
        return Err(format!("{label} cannot contain < or >."));
    }
    Ok(value)
}

fn optional(value: Result<String, String>) -> Result<Option<String>, String> {
    value.map(|v| Some(v).filter(|v| !v.is_empty()))
}

/// Validates the form; brand fields only count with white label.
fn validate(form: &SettingsForm, white_label: bool) -> Result<OrgSettings, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut take = |field: &str, r: Result<String, String>| {
        r.map_err(|e| errors.add(field, e)).unwrap_or_default()
    };
    let name = take("name", plain_text(&form.name, "Name", 1, 100));
    let slug = form.slug.trim().to_lowercase();
    take("slug", check_slug(&slug).map(|_| String::new()));
    let time_zone = take(
        "time_zone",
        parse_time_zone(form.time_zone.trim()).map(|tz| tz.name().to_string()),
    );
    let (mut brand_name, mut brand_color) = (None, None);
    if white_label {
        match optional(plain_text(&form.brand_name, "Brand name", 0, 60)) {
            Ok(v) => brand_name = v,
            Err(e) => errors.add("brand_name", e),
        }
        let color = form.brand_color.trim();
        if !color.is_empty() {
            match parse_brand_color(color) {
                Ok(c) => brand_color = Some(c),
                Err(e) => errors.add("brand_color", e),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(OrgSettings {
        name,
        slug,
        time_zone,
        brand_name,
        brand_color,
    })
}

fn typed_values(form: &SettingsForm) -> SettingsValues {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    SettingsValues {
        name: cut(&form.name, 200),
        slug: cut(&form.slug, 100),
        time_zone: cut(&form.time_zone, 100),
        brand_name: cut(&form.brand_name, 200),
        brand_color: cut(&form.brand_color, 20),
    }
}

async fn save(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<SettingsForm>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    cur.require(Action::ManageSettings)?;
    let white_label = white_label(&cur.ctx, cur.now());
    let new = match validate(&form, white_label) {
        Ok(new) => new,
        Err(errors) => return rejected(&state, &cur, &req, typed_values(&form), errors).await,
    };
    let tenant = cur.tenant();
    let saving = new.clone();
    let saved = state
        .db
        .tx(move |conn| db_settings::save(conn, &tenant, &saving, white_label, now))
        .await?;
    if saved == Saved::SlugTaken {
        let mut errors = FieldErrors::new();
        errors.add(
            "slug",
            "This slug is taken by another organization. Choose another.",
        );
        return rejected(&state, &cur, &req, typed_values(&form), errors).await;
    }
    let org = &cur.ctx.org;
    let shell_changed = new.name != org.name
        || new.brand_name != org.brand_name
        || new.brand_color != org.brand_color;
    // Name and brand live in the page shell too: then reload the whole page.
    if !wants_fragment(&req) || shell_changed {
        return Ok(redirect_with_flash(&req, "/settings", "Settings saved."));
    }
    let mut v = view(&cur, values_of(&new), FieldErrors::new());
    v.saved = true;
    Ok(fragment(view::form(&v)))
}

/// The form again with its errors: 422, fragment or page.
async fn rejected(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    values: SettingsValues,
    errors: FieldErrors,
) -> AppResult<HttpResponse> {
    let v = view(cur, values, errors);
    Reply::Invalid
        .page_or_fragment(
            state,
            cur,
            req,
            (Nav::Settings, "Settings"),
            |part| match part {
                Part::Fragment => view::form(&v),
                Part::Page => view::body(&v),
            },
        )
        .await
}

/// The bytes of the `logo` file field; an error message when there is none,
/// it is too large, or the body cannot be read.
async fn read_logo(mut payload: Multipart) -> Result<Vec<u8>, String> {
    let unreadable = |_| "The upload could not be read. Choose the file again.".to_string();
    while let Some(mut field) = payload.try_next().await.map_err(unreadable)? {
        if field.name() != Some("logo") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            bytes.extend_from_slice(&chunk.map_err(unreadable)?);
            if bytes.len() > LOGO_MAX_BYTES {
                return Err("The logo must be at most 256 KB.".into());
            }
        }
        return Ok(bytes);
    }
    Err("Choose an image file to upload.".into())
}

/// White label is a plan feature: without it, a 402 with the way to upgrade.
fn require_white_label(cur: &CurrentOrg) -> AppResult<()> {
    if white_label(&cur.ctx, cur.now()) {
        Ok(())
    } else {
        Err(AppError::LimitReached(
            "Brand name, colour and logo come with white label, on the Enterprise plan. Upgrade to use them.".into(),
        ))
    }
}

async fn upload_logo(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    payload: Multipart,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    cur.require(Action::ManageSettings)?;
    require_white_label(&cur)?;
    let checked = read_logo(payload)
        .await
        .and_then(|data| sniff_logo(&data).map(|t| (t, data)));
    let (content_type, data) = match checked {
        Ok(ok) => ok,
        Err(message) => return logo_rejected(&state, &cur, &req, message).await,
    };
    let tenant = cur.tenant();
    let logo = Logo {
        content_type: content_type.to_string(),
        data,
    };
    state
        .db
        .tx(move |conn| db_settings::set_logo(conn, &tenant, Some(&logo), now))
        .await?;
    Ok(reload(&req, "Logo saved."))
}

async fn remove_logo(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    let tenant = cur.tenant_for(Action::ManageSettings)?;
    state
        .db
        .tx(move |conn| db_settings::set_logo(conn, &tenant, None, now))
        .await?;
    Ok(reload(&req, "Logo removed."))
}

/// The logo is in the page shell: after a change the whole settings page
/// loads again (303, or `HX-Redirect` for HTMX).
fn reload(req: &HttpRequest, message: &str) -> HttpResponse {
    redirect_with_flash(req, "/settings", message)
}

/// A refused upload: the logo card (HTMX) or the settings page, with the reason, 422.
async fn logo_rejected(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    message: String,
) -> AppResult<HttpResponse> {
    if wants_fragment(req) {
        let mut v = view(cur, SettingsValues::default(), Default::default());
        v.logo_error = Some(message);
        return Ok(Reply::Invalid.fragment(logo_card(&v)));
    }
    Ok(Reply::Invalid.apply(current_page(state, cur, req, Some(message)).await?))
}
