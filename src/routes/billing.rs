//! Billing: the billing page (OWNER; ADMIN read-only), billing details,
//! payment method, printable invoices, Stripe Checkout, and the Stripe
//! webhook — authenticated by its signature, not a session or CSRF token.

use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::state::AppState;
use crate::auth::CurrentOrg;
use crate::billing::signature;
use crate::billing::stripe::{CheckoutRequest, StripeClient};
use crate::db::billing::{self, Outcome, ProviderEvent};
use crate::db::{audit, invoices};
use crate::domain::plans::Plan;
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::ids::InvoiceId;
use crate::routes::{html_response, redirect, redirect_with_flash, wants_fragment, Part, Reply};
use crate::views::billing::{self as view, BillingPage};
use crate::views::layout::Nav;

route_table! {
    GET "/billing" => show,
    POST "/billing/details" => save_details,
    POST "/billing/payment-method" => payment_method,
    POST "/billing/checkout" => checkout,
    GET "/billing/invoices/{id}" => invoice,
    POST "/billing/webhook" => webhook,
}

async fn show(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    cur.require(Action::ViewBilling)?;
    render(&state, &cur, &req, &FieldErrors::new(), None).await
}

async fn render(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    errors: &FieldErrors,
    submitted: Option<&DetailsForm>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant();
    let (list, stored) = state
        .db
        .run(move |conn| -> AppResult<_> {
            Ok((
                invoices::list(conn, &tenant)?,
                billing::details(conn, &tenant)?,
            ))
        })
        .await?;
    let details = match submitted {
        Some(f) => (f.company.as_str(), f.address.as_str(), f.vat_id.as_str()),
        None => (stored.0.as_str(), stored.1.as_str(), stored.2.as_str()),
    };
    let p = BillingPage {
        org: &cur.ctx.org,
        subscription: &cur.ctx.subscription,
        details,
        invoices: &list,
        can_manage: cur.can(Action::ManageBilling),
        stripe: StripeClient::from_config(&state.config).is_some(),
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
}

fn validate_details(form: &DetailsForm) -> Result<(String, String, String), FieldErrors> {
    let mut errors = FieldErrors::new();
    let company = forms::plain_text(&form.company, "Company name", 0, 120);
    let address = forms::plain_text(&form.address, "Address", 0, 400);
    let vat = forms::plain_text(&form.vat_id, "VAT id", 0, 30);
    let vat_ok = vat
        .as_ref()
        .map(|v| v.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or(true);
    for (field, result) in [
        ("company", &company),
        ("address", &address),
        ("vat_id", &vat),
    ] {
        if let Err(e) = result {
            errors.add(field, e.clone());
        }
    }
    if !vat_ok {
        errors.add(
            "vat_id",
            "A VAT id has only letters and digits, like DE123456789.",
        );
    }
    match (company, address, vat) {
        (Ok(c), Ok(a), Ok(v)) if errors.is_empty() => Ok((c, a, v)),
        _ => Err(errors),
    }
}

async fn save_details(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<DetailsForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageBilling)?;
    let (company, address, vat) = match validate_details(&form) {
        Ok(v) => v,
        Err(errors) => return render(&state, &cur, &req, &errors, Some(&form)).await,
    };
    let tenant = cur.tenant();
    state
        .db
        .tx(move |conn| -> AppResult<_> {
            let before = billing::details(conn, &tenant)?;
            billing::save_details(conn, &tenant, &company, &address, &vat)?;
            audit::record(conn, &tenant, "billing.details_updated", "billing details",
                Some(serde_json::json!({ "company": before.0, "address": before.1, "vat_id": before.2 })),
                Some(serde_json::json!({ "company": company, "address": address, "vat_id": vat })))?;
            Ok(())
        })
        .await?;
    if wants_fragment(&req) {
        return render(&state, &cur, &req, &FieldErrors::new(), None).await;
    }
    Ok(redirect_with_flash(
        &req,
        "/billing",
        "Billing details saved.",
    ))
}

/// Local provider: records a payment method. Stripe: opens the customer portal.
async fn payment_method(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageBilling)?;
    if let Some(stripe) = StripeClient::from_config(&state.config) {
        let customer = cur
            .ctx
            .subscription
            .provider_customer_id
            .clone()
            .ok_or_else(|| {
                AppError::Conflict(
                    "Choose a paid plan first; the payment method is added at checkout.".into(),
                )
            })?;
        let return_url = format!("{}/billing", state.config.public_url);
        let url = web::block(move || stripe.create_portal_session(&customer, &return_url))
            .await?
            .map_err(AppError::unexpected)?;
        return Ok(redirect(&req, &url));
    }
    let tenant = cur.tenant();
    state
        .db
        .tx(move |conn| -> AppResult<_> {
            billing::record_payment_method(conn, &tenant)?;
            audit::record(
                conn,
                &tenant,
                "billing.payment_method_added",
                "payment method",
                None,
                None,
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

/// Sends the owner to Stripe Checkout for a paid plan.
async fn checkout(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<CheckoutForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageBilling)?;
    let plan: Plan = form
        .plan
        .parse()
        .map_err(|_| AppError::validation("Choose one of the listed plans."))?;
    if !plan.is_paid() {
        return Err(AppError::validation("Checkout is for paid plans."));
    }
    let interval = match form.interval.as_str() {
        "year" | "yearly" => "year",
        "" | "month" | "monthly" => "month",
        _ => return Err(AppError::validation("Choose monthly or yearly billing.")),
    };
    let Some(stripe) = StripeClient::from_config(&state.config) else {
        return Ok(redirect(&req, "/plans"));
    };
    let request = CheckoutRequest {
        org: cur.org_id(),
        plan,
        interval: interval.into(),
        customer: cur.ctx.subscription.provider_customer_id.clone(),
        customer_email: cur.user.session.user.email.clone(),
        success_url: format!("{}/billing?checkout=success", state.config.public_url),
        cancel_url: format!("{}/plans?checkout=canceled", state.config.public_url),
    };
    let url = web::block(move || stripe.create_checkout_session(&request))
        .await?
        .map_err(AppError::unexpected)?;
    Ok(redirect(&req, &url))
}

async fn invoice(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    id: web::Path<InvoiceId>,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::ViewBilling)?;
    let id = id.into_inner();
    let (inv, lines) = state
        .db
        .run(move |conn| -> AppResult<_> {
            Ok((
                invoices::find(conn, &tenant, id)?,
                invoices::lines(conn, &tenant, id)?,
            ))
        })
        .await?;
    Ok(html_response(
        &req,
        view::invoice_page(&cur.ctx.org, &inv, &lines),
    ))
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
    let outcome = state
        .db
        .run(move |conn| billing::process(conn, &event, now))
        .await?;
    tracing::info!(outcome = ?outcome, "webhook processed");
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "received": true, "duplicate": outcome == Outcome::Duplicate })))
}
