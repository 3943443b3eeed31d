//! Plans: everyone may compare them; only an OWNER changes plan, cancels,
//! resumes or adds a payment method (`Action::ManageBilling`). A downgrade is
//! shown with its impact and needs a second, confirming POST. Plain forms get
//! a 303 with a flash; HTMX gets `#plans-body` again and `usage-changed`.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::PgConnection;
use maud::Markup;
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::billing::stripe_flows::{self, FlowOutcome};
use crate::billing::{self, CheckoutOutcome};
use crate::db::plans::{self as db_plans, ChangeOutcome};
use crate::db::{billing as db_billing, orgs, DbResult, Tenant};
use crate::domain::billing::{decide_change, is_downgrade, ChangeDecision, Interval};
use crate::domain::plans::Plan;
use crate::domain::roles::Action;
use crate::domain::subscription::Status;
use crate::error::AppResult;
use crate::routes::{
    fragment, page, redirect, redirect_with_flash, usage_changed, wants_fragment, Reply,
};
use crate::state::AppState;
use crate::views::format::local_date;
use crate::views::layout::Nav;
use crate::views::plans::{self as view, DowngradeView, PlansView};

route_table! {
    GET "/plans" => index,
    POST "/plans/change" => change,
    POST "/plans/cancel" => cancel,
    POST "/plans/resume" => resume,
    POST "/plans/payment-method" => payment_method,
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let body = plans_body(&state, &cur, None, None).await?;
    page(&state, &cur, &req, Nav::Usage, "Plans", body).await
}

/// `#plans-body` from fresh rows, with an optional flash or error on top.
async fn plans_body(
    state: &AppState,
    cur: &CurrentOrg,
    flash: Option<String>,
    error: Option<String>,
) -> AppResult<Markup> {
    let tenant = cur.tenant();
    let (org, sub, link) = state
        .db
        .run(move |conn| -> DbResult<_> {
            let (org, sub) = orgs::load(conn, &tenant)?;
            Ok((org, sub, db_billing::stripe_link(conn, &tenant)?))
        })
        .await?;
    let now = cur.now();
    let provider = billing::provider(&state.config);
    let view = PlansView {
        state: db_plans::state_of(&sub),
        effective: sub.effective_plan(now),
        trial_days_left: sub.trial_days_left(now),
        period_end: sub.current_period_end,
        now,
        tz: org.tz(),
        role_label: cur.role().label(),
        can_manage: cur.can(Action::ManageBilling),
        can_view_billing: cur.can(Action::ViewBilling),
        portal_url: provider.portal_url(&tenant),
        pending: link.waiting(cur.now()).map(str::to_string),
        scheduled_interval: link.scheduled_interval,
        csrf: &cur.user.csrf,
        flash,
        error,
    };
    Ok(view::body(&view))
}

/// After a change: plain forms go back to `/plans` with a flash; HTMX gets
/// the new `#plans-body` and the meters hear `usage-changed`.
async fn done(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    message: String,
) -> AppResult<HttpResponse> {
    if !wants_fragment(req) {
        return Ok(redirect_with_flash(req, "/plans", &message));
    }
    let body = plans_body(state, cur, Some(message), None).await?;
    Ok(usage_changed(fragment(body)))
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    interval: String,
    #[serde(default)]
    confirm: String,
}

async fn change(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<ChangeForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageBilling)?;
    let sub = &cur.ctx.subscription;
    let current = db_plans::state_of(sub);
    let target = form.plan.parse::<Plan>().ok();
    let interval = match form.interval.as_str() {
        "" => Some(current.interval),
        v => Interval::from_form(v),
    };
    let (Some(target), Some(interval)) = (target, interval) else {
        let error = "Choose one of the four plans, billed monthly or yearly.".to_string();
        let body = plans_body(&state, &cur, None, Some(error)).await?;
        return Reply::Invalid
            .page_or_fragment(&state, &cur, &req, (Nav::Usage, "Plans"), |_| body)
            .await;
    };
    let now = cur.now();
    let effective = sub.effective_plan(now);
    let decision = decide_change(&current, target, interval, now);
    let needs_confirmation = is_downgrade(effective, target)
        && decision != ChangeDecision::Unchanged
        && form.confirm != "yes";
    if needs_confirmation {
        let body = confirmation(&state, &cur, target, interval).await?;
        return Reply::Ok
            .page_or_fragment(&state, &cur, &req, (Nav::Usage, "Plans"), |_| body)
            .await;
    }
    let in_trial = current.status == Status::Trial;
    let tenant = cur.tenant();
    if let Some(stripe) = billing::stripe_provider(&state.config) {
        let outcome =
            stripe_flows::change_plan(&state.db, tenant, &stripe, target, interval, now).await?;
        return flow_done(&state, &cur, &req, outcome, (target, interval, in_trial)).await;
    }
    let provider = billing::provider(&state.config);
    let outcome = state
        .db
        .tx(move |conn| {
            db_plans::change_plan(conn, &tenant, provider.as_ref(), target, interval, now)
        })
        .await?;
    let outcome = match outcome {
        ChangeOutcome::Redirect(url) => FlowOutcome::Redirect(url),
        other => FlowOutcome::Local(other),
    };
    flow_done(&state, &cur, &req, outcome, (target, interval, in_trial)).await
}

/// The answer to a plan action: a redirect to the provider's page, or
/// `/plans` again with what happened.
async fn flow_done(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    outcome: FlowOutcome,
    asked: (Plan, Interval, bool),
) -> AppResult<HttpResponse> {
    let tz = cur.ctx.org.tz();
    let (target, interval, in_trial) = asked;
    let message = match outcome {
        FlowOutcome::Redirect(url) => return Ok(redirect(req, &url)),
        FlowOutcome::Pending(what) => {
            format!("{what} sent to Stripe: waiting for its confirmation.")
        }
        FlowOutcome::PaymentDeclined { to } => format!(
            "The payment for {} was declined, so your plan stays {} as paid. \
             Update your payment method on the billing page, then try again.",
            to.name(),
            cur.ctx.subscription.plan.name()
        ),
        FlowOutcome::Scheduled { to, interval, at } => format!(
            "Your plan changes to {} ({}) on {}.",
            to.name(),
            interval.label().to_lowercase(),
            local_date(at, tz)
        ),
        FlowOutcome::EndsAt(at) => format!(
            "Your subscription ends on {}. You can resume it until then.",
            local_date(at, tz)
        ),
        FlowOutcome::Resumed(true) => {
            format!(
                "Your {} subscription continues.",
                cur.ctx.subscription.plan.name()
            )
        }
        FlowOutcome::Resumed(false) => "There was no pending change to withdraw.".to_string(),
        FlowOutcome::Local(ChangeOutcome::Redirect(url)) => return Ok(redirect(req, &url)),
        FlowOutcome::Local(ChangeOutcome::Applied { to, .. }) if in_trial && to.is_paid() => {
            format!(
                "You are now trying {} — free until your trial ends.",
                to.name()
            )
        }
        FlowOutcome::Local(ChangeOutcome::Applied { to, .. }) => {
            format!("You are now on {}.", to.name())
        }
        FlowOutcome::Local(ChangeOutcome::Scheduled { to, at }) => format!(
            "Downgrade to {} scheduled for {}.",
            to.name(),
            local_date(at, tz)
        ),
        FlowOutcome::Local(ChangeOutcome::Unchanged) => format!(
            "You are already on {}, billed {}.",
            target.name(),
            interval.label().to_lowercase()
        ),
    };
    done(state, cur, req, message).await
}

async fn confirmation(
    state: &AppState,
    cur: &CurrentOrg,
    target: Plan,
    interval: Interval,
) -> AppResult<Markup> {
    let tenant: Tenant = cur.tenant();
    let now = cur.now();
    let impact = state
        .db
        .run(move |conn| db_plans::downgrade_impact_of(conn, &tenant, target, now))
        .await?;
    let sub = &cur.ctx.subscription;
    Ok(view::confirm_downgrade(&DowngradeView {
        from: sub.effective_plan(now),
        to: target,
        interval,
        in_trial: sub.status == Status::Trial,
        effective_at: sub.current_period_end,
        tz: cur.ctx.org.tz(),
        impact: &impact,
        csrf: &cur.user.csrf,
    }))
}

/// Runs a change of the subscription (billing managers only) in one
/// transaction at the request's instant.
async fn change_subscription<T, F>(state: &AppState, cur: &CurrentOrg, change: F) -> AppResult<T>
where
    F: FnOnce(&mut PgConnection, &Tenant, DateTime<Utc>) -> DbResult<T> + Send + 'static,
    T: Send + 'static,
{
    let (tenant, now) = (cur.tenant_for(Action::ManageBilling)?, cur.now());
    Ok(state.db.tx(move |conn| change(conn, &tenant, now)).await?)
}

/// Ending a subscription at its period end, or withdrawing that.
enum EndOrResume {
    Cancel,
    Resume,
}

async fn cancel(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    end_or_resume(&state, &cur, &req, EndOrResume::Cancel).await
}

async fn resume(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    end_or_resume(&state, &cur, &req, EndOrResume::Resume).await
}

/// Cancel or resume through Stripe when it is configured, locally otherwise.
async fn end_or_resume(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    action: EndOrResume,
) -> AppResult<HttpResponse> {
    let outcome = match billing::stripe_provider(&state.config) {
        // Stripe is asked with no transaction open (`stripe_flows`).
        Some(stripe) => {
            let (tenant, now) = (cur.tenant_for(Action::ManageBilling)?, cur.now());
            match action {
                EndOrResume::Cancel => {
                    stripe_flows::cancel(&state.db, tenant, &stripe, now).await?
                }
                EndOrResume::Resume => {
                    stripe_flows::resume(&state.db, tenant, &stripe, now).await?
                }
            }
        }
        None => {
            change_subscription(state, cur, move |conn, tenant, now| match action {
                EndOrResume::Cancel => {
                    Ok(FlowOutcome::EndsAt(db_plans::cancel(conn, tenant, now)?))
                }
                EndOrResume::Resume => {
                    Ok(FlowOutcome::Resumed(db_plans::resume(conn, tenant, now)?))
                }
            })
            .await?
        }
    };
    let sub = &cur.ctx.subscription;
    flow_done(
        state,
        cur,
        req,
        outcome,
        (sub.plan, sub.billing_interval, false),
    )
    .await
}

async fn payment_method(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    if let Some(stripe) = billing::stripe_provider(&state.config) {
        let (tenant, now) = (cur.tenant_for(Action::ManageBilling)?, cur.now());
        let url = stripe_flows::payment_method(&state.db, tenant, &stripe, now).await?;
        return Ok(redirect(&req, &url));
    }
    let provider = billing::provider(&state.config);
    let outcome = change_subscription(&state, &cur, move |conn, tenant, now| {
        db_plans::add_payment_method(conn, tenant, provider.as_ref(), now)
    })
    .await?;
    match outcome {
        CheckoutOutcome::Redirect(url) => Ok(redirect(&req, &url)),
        CheckoutOutcome::Completed => {
            let message =
                "Payment method added. You will be charged when the current trial or period ends.";
            done(&state, &cur, &req, message.to_string()).await
        }
    }
}
