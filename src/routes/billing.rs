//! Billing: the billing page (OWNER; ADMIN read-only), billing details,
//! payment method (Stripe: the customer portal, or Checkout with `trial_end`
//! during the trial; local: a test card), "Pay now" for a failed payment,
//! printable invoices, and the Stripe webhook — authenticated by its
//! signature, not a session or CSRF token.

use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::billing::stripe_flows::{self, FlowOutcome};
use crate::billing::{self as payments, signature};
use crate::db::billing::{self, Outcome, ProviderEvent};
use crate::db::{audit, invoices, DbResult};
use crate::domain::billing::Interval;
use crate::domain::plans::Plan;
use crate::domain::roles::Action;
use crate::domain::vat::Country;
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::ids::InvoiceId;
use crate::routes::{html_response, redirect, redirect_with_flash, wants_fragment, Part, Reply};
use crate::state::AppState;
use crate::views::billing::{self as view, BillingPage};
use crate::views::layout::Nav;

route_table! {
    GET "/billing" => show,
    GET "/billing/subscription" => subscription_card,
    POST "/billing/details" => save_details,
    POST "/billing/payment-method" => payment_method,
    POST "/billing/checkout" => checkout,
    POST "/billing/pay" => pay_now,
    GET "/billing/invoices/{id}.pdf" => invoice_pdf,
    GET "/billing/invoices/{id}" => invoice,
    POST "/billing/webhook" => webhook,
}

/// Invoices per page of the billing history.
const INVOICES_PER_PAGE: i64 = 25;

/// Which page of the invoice list: the cursor after the last invoice shown.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    after: String,
    before: String,
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ViewBilling)?;
    let position = invoices::Position::from_query(&query.after, &query.before);
    render(&state, &cur, &req, &FieldErrors::new(), None, position).await
}

/// The subscription card alone: what the "waiting for confirmation" banner
/// polls until Stripe's webhook has arrived.
async fn subscription_card(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ViewBilling)?;
    let (link, card, confirm) = state
        .db
        .run(move |conn| -> AppResult<_> {
            Ok((
                billing::stripe_link(conn, &tenant)?,
                billing::card_on_file(conn, &tenant)?,
                invoices::confirmation_url(conn, &tenant)?,
            ))
        })
        .await?;
    let p = BillingPage {
        org: &cur.ctx.org,
        subscription: &cur.ctx.subscription,
        details: billing::Details::default(),
        invoices: &[],
        newer_href: None,
        older_href: None,
        on_first: true,
        can_manage: cur.can(Action::ManageBilling),
        stripe: payments::stripe_provider(&state.config).is_some(),
        pending: link.waiting(cur.now()),
        card_last4: card.as_deref(),
        confirm_url: confirm.as_deref(),
        csrf: &cur.user.csrf,
    };
    Ok(html_response(&req, view::subscription_card(&p)))
}

async fn render(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    errors: &FieldErrors,
    submitted: Option<&DetailsForm>,
    position: invoices::Position,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant();
    let (list, stored, link, card, confirm) = state
        .db
        .run(move |conn| -> AppResult<_> {
            Ok((
                invoices::list(conn, &tenant, position, INVOICES_PER_PAGE)?,
                billing::details(conn, &tenant)?,
                billing::stripe_link(conn, &tenant)?,
                billing::card_on_file(conn, &tenant)?,
                invoices::confirmation_url(conn, &tenant)?,
            ))
        })
        .await?;
    let details = match submitted {
        Some(f) => billing::Details {
            company: f.company.clone(),
            address: f.address.clone(),
            vat_id: f.vat_id.clone(),
            country: f.country.clone(),
        },
        None => stored,
    };
    let (newer, older) = list.link_cursors(|i| invoices::Cursor {
        created_at: i.created_at,
        id: i.id,
    });
    let p = BillingPage {
        org: &cur.ctx.org,
        subscription: &cur.ctx.subscription,
        details,
        invoices: &list.rows,
        newer_href: newer.map(|c| format!("/billing?before={}", c.encode())),
        older_href: older.map(|c| format!("/billing?after={}", c.encode())),
        on_first: position.is_newest(),
        can_manage: cur.can(Action::ManageBilling),
        stripe: payments::stripe_provider(&state.config).is_some(),
        pending: link.waiting(cur.now()),
        card_last4: card.as_deref(),
        confirm_url: confirm.as_deref(),
        csrf: &cur.user.csrf,
    };
    let reply = if errors.is_empty() {
        Reply::Ok
    } else {
        Reply::Invalid
    };
    reply
        .page_or_fragment(
            state,
            cur,
            req,
            (Nav::Billing, "Billing"),
            |part| match part {
                Part::Fragment => view::details_fragment(&p, errors),
                Part::Page => view::body(&p, errors),
            },
        )
        .await
}

#[derive(Debug, Deserialize, Default)]
pub struct DetailsForm {
    #[serde(default)]
    company: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    vat_id: String,
    #[serde(default)]
    country: String,
}

fn validate_details(form: &DetailsForm) -> Result<billing::Details, FieldErrors> {
    let mut errors = FieldErrors::new();
    let company = forms::plain_text(&form.company, "Company name", 0, 120);
    let address = forms::plain_text(&form.address, "Address", 0, 400);
    let vat = forms::plain_text(&form.vat_id, "VAT id", 0, 30).map(|v| v.to_ascii_uppercase());
    for (field, result) in [
        ("company", &company),
        ("address", &address),
        ("vat_id", &vat),
    ] {
        if let Err(e) = result {
            errors.add(field, e.clone());
        }
    }
    let country = validate_country(&form.country, &mut errors);
    if let Some(problem) = vat.as_deref().ok().and_then(|v| vat_id_problem(v, country)) {
        errors.add("vat_id", problem);
    }
    match (company, address, vat) {
        (Ok(company), Ok(address), Ok(vat_id)) if errors.is_empty() => Ok(billing::Details {
            company,
            address,
            vat_id,
            country: country.map(|c| c.as_str().to_string()).unwrap_or_default(),
        }),
        _ => Err(errors),
    }
}

/// The billing country: empty, or an ISO 3166-1 alpha-2 code.
fn validate_country(input: &str, errors: &mut FieldErrors) -> Option<Country> {
    if input.trim().is_empty() {
        return None;
    }
    let country = Country::parse(input);
    if country.is_none() {
        errors.add(
            "country",
            "Enter the country as its two-letter ISO code, like DE or FR.",
        );
    }
    country
}

/// What is wrong with a VAT id: other than letters and digits, or, in an EU
/// country, not starting with that country's prefix (the rule reads the
/// country, so the two must agree).
fn vat_id_problem(vat: &str, country: Option<Country>) -> Option<String> {
    if vat.is_empty() {
        return None;
    }
    if !vat.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Some("A VAT id has only letters and digits, like DE123456789.".into());
    }
    let eu = country.filter(|c| c.eu_rate().is_some())?;
    let prefix = eu.vat_prefix();
    (!vat.starts_with(prefix)).then(|| {
        format!(
            "A VAT id from {} starts with {prefix}, like {prefix}123456789.",
            eu.as_str()
        )
    })
}

async fn save_details(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<DetailsForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageBilling)?;
    let details = match validate_details(&form) {
        Ok(v) => v,
        Err(errors) => {
            return render(
                &state,
                &cur,
                &req,
                &errors,
                Some(&form),
                invoices::Position::Newest,
            )
            .await
        }
    };
    let tenant = cur.tenant();
    let (now, stripe_tax) = (cur.now(), state.config.vat.stripe_tax);
    state
        .db
        .tx(move |conn| -> AppResult<_> {
            let before = billing::details(conn, &tenant)?;
            billing::save_details(conn, &tenant, &details)?;
            if stripe_tax {
                billing::vat_id_changed(conn, &tenant, (&before, &details), now)?;
            }
            audit::record(
                conn,
                &tenant,
                "billing.details_updated",
                "billing details",
                Some(serde_json::json!(before)),
                Some(serde_json::json!(details)),
            )?;
            Ok(())
        })
        .await?;
    if wants_fragment(&req) {
        return render(
            &state,
            &cur,
            &req,
            &FieldErrors::new(),
            None,
            invoices::Position::Newest,
        )
        .await;
    }
    Ok(redirect_with_flash(
        &req,
        "/billing",
        "Billing details saved.",
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct CardForm {
    #[serde(default)]
    card_number: String,
}

/// The last four digits of a well-formed card number (12–19 digits, spaces
/// allowed, Luhn check); an empty field means the test card that pays.
fn card_last4(number: &str) -> Result<String, AppError> {
    let digits: String = number.chars().filter(|c| *c != ' ' && *c != '-').collect();
    if digits.is_empty() {
        return Ok("4242".into());
    }
    let valid = (12..=19).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && luhn(&digits);
    if !valid {
        return Err(AppError::validation(
            "Enter a card number of 12 to 19 digits, like 4242 4242 4242 4242.",
        ));
    }
    Ok(digits[digits.len() - 4..].to_string())
}

/// The Luhn checksum every card number carries.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            match (i % 2 == 1, d * 2) {
                (true, x) if x > 9 => x - 9,
                (true, x) => x,
                (false, _) => d,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Stripe: the customer portal (or, during the trial, Checkout collecting
/// the card with `trial_end`). Local provider: puts a test card on file.
async fn payment_method(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<CardForm>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageBilling)?;
    let now = cur.now();
    if let Some(stripe) = payments::stripe_provider(&state.config) {
        let url = stripe_flows::payment_method(&state.db, tenant, &stripe, now).await?;
        return Ok(redirect(&req, &url));
    }
    let last4 = card_last4(&form.card_number)?;
    state
        .db
        .tx(move |conn| -> AppResult<_> {
            billing::record_payment_method(conn, &tenant, &last4)?;
            let after = serde_json::json!({ "card": format!("ending {last4}") });
            audit::record(
                conn,
                &tenant,
                "billing.payment_method_added",
                "payment method",
                None,
                Some(after),
            )?;
            Ok(())
        })
        .await?;
    Ok(redirect_with_flash(
        &req,
        "/billing",
        "Payment method saved.",
    ))
}

#[derive(Debug, Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    interval: String,
}

/// A paid plan through Stripe: Checkout the first time, the subscription
/// changed in place afterwards (never a second subscription).
async fn checkout(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<CheckoutForm>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageBilling)?;
    let plan: Plan = form
        .plan
        .parse()
        .map_err(|_| AppError::validation("Choose one of the listed plans."))?;
    if !plan.is_paid() {
        return Err(AppError::validation("Checkout is for paid plans."));
    }
    let interval = match form.interval.as_str() {
        "year" | "yearly" => Interval::Yearly,
        "" | "month" | "monthly" => Interval::Monthly,
        _ => return Err(AppError::validation("Choose monthly or yearly billing.")),
    };
    let Some(stripe) = payments::stripe_provider(&state.config) else {
        return Ok(redirect(&req, "/plans"));
    };
    let now = cur.now();
    let outcome =
        stripe_flows::change_plan(&state.db, tenant, &stripe, plan, interval, now).await?;
    match outcome {
        FlowOutcome::Redirect(url) => Ok(redirect(&req, &url)),
        _ => Ok(redirect(&req, "/plans")),
    }
}

/// "Pay now" for a failed payment: Stripe's hosted invoice page, or a new
/// charge of the local provider's card on file.
async fn pay_now(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ManageBilling)?;
    let now = cur.now();
    if payments::stripe_provider(&state.config).is_some() {
        let url = state
            .db
            .run(move |conn| stripe_flows::pay_now(conn, &tenant))
            .await?;
        return Ok(redirect(&req, &url));
    }
    let local = payments::local_provider(&state.config);
    let charged = state
        .db
        .tx(move |conn| -> DbResult<_> { payments::local_pay_now(conn, &tenant, &local, now) })
        .await?;
    match charged {
        Ok(()) => Ok(redirect_with_flash(
            &req,
            "/billing",
            "Paid. Your plan continues.",
        )),
        Err(problem) => Err(AppError::Conflict(format!(
            "{problem} Nothing was charged; try another card or try again."
        ))),
    }
}

/// One invoice of the current organization with its lines (billing viewers only).
async fn load_invoice(
    state: &AppState,
    cur: &CurrentOrg,
    id: InvoiceId,
) -> AppResult<(invoices::Invoice, Vec<invoices::InvoiceLine>)> {
    let tenant = cur.tenant_for(Action::ViewBilling)?;
    state
        .db
        .run(move |conn| -> AppResult<_> {
            Ok((
                invoices::find(conn, &tenant, id)?,
                invoices::lines(conn, &tenant, id)?,
            ))
        })
        .await
}

async fn invoice(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    id: web::Path<InvoiceId>,
) -> AppResult<HttpResponse> {
    let (inv, lines) = load_invoice(&state, &cur, id.into_inner()).await?;
    let seller = inv.seller_or(&state.config.vat.identity.name);
    Ok(html_response(
        &req,
        view::invoice_page(&cur.ctx.org, &inv, &lines, &seller),
    ))
}

/// The invoice as a PDF download, with the same permissions as its page.
async fn invoice_pdf(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    id: web::Path<InvoiceId>,
) -> AppResult<HttpResponse> {
    let (inv, lines) = load_invoice(&state, &cur, id.into_inner()).await?;
    let seller = inv.seller_or(&state.config.vat.identity.name);
    let pdf = crate::views::invoice_pdf::invoice_pdf(&cur.ctx.org, &inv, &lines, &seller);
    let disposition = format!("attachment; filename=\"{}.pdf\"", inv.number);
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header(("Content-Disposition", disposition))
        .body(pdf))
}

/// Stripe → app. Signature first; the body is read as JSON only after.
async fn webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let now = state.clock.now();
    let Some(secret) = state.config.stripe_webhook_secret.clone() else {
        return Err(AppError::NotFound);
    };
    let header = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok());
    let unix_now = now.timestamp();
    if let Err(e) = signature::verify(header, &body, secret.expose_secret(), unix_now) {
        tracing::warn!(error = %e, "webhook refused");
        return Ok(HttpResponse::BadRequest().body(format!("invalid signature: {e}")));
    }
    let Some(event) = ProviderEvent::parse(&body) else {
        return Ok(HttpResponse::BadRequest().body("malformed event"));
    };
    let site = state.config.public_url.trim_end_matches('/').to_string();
    let vat = state.config.vat.clone();
    let stripe = payments::stripe::StripeClient::from_config(&state.config);
    let outcome = state
        .db
        .run(move |conn| {
            let setting = billing::Setting {
                site: &site,
                vat: &vat,
                stripe: stripe.as_ref(),
            };
            billing::process(conn, &event, &setting, now)
        })
        .await?;
    tracing::info!(outcome = ?outcome, "webhook processed");
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "received": true, "duplicate": outcome == Outcome::Duplicate })))
}
