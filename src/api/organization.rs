//! `GET /api/v1/organization` (name, plan, status, trial end, effective
//! limits, features) and `GET /api/v1/usage` (every meter with its period
//! and when it resets, plus today's API calls), read like the usage page.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Months, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::api::auth::ApiCaller;
use crate::api::problem::{ApiResult, Problem};
use crate::api::resource;
use crate::db::meters::{self, UsageSnapshot};
use crate::domain::plans::{Feature, LimitKind};
use crate::domain::roles::Action;
use crate::domain::subscription::{day_start, local_date_start_utc, month_start};
use crate::error::AppError;
use crate::ids::OrgId;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/organization").route(web::get().to(organization)))
        .service(resource("/usage").route(web::get().to(usage)));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrganizationOut {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub time_zone: String,
    /// The plan whose limits and features apply now.
    pub plan: String,
    pub status: String,
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// Limit name → limit; `null` is unlimited.
    pub limits: BTreeMap<&'static str, Option<i64>>,
    pub features: Vec<&'static str>,
    pub rate_limit_per_minute: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeterOut {
    pub name: &'static str,
    pub used: i64,
    pub limit: Option<i64>,
    /// `day`, `month`, or `null` for counts that do not reset.
    pub period: Option<&'static str>,
    pub resets_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageOut {
    pub meters: Vec<MeterOut>,
}

async fn snapshot(state: &AppState, caller: &ApiCaller) -> ApiResult<(UsageSnapshot, i64)> {
    let tenant = caller.tenant_for(Action::ReadWorkspace)?;
    let now = caller.now;
    let read = state.db.run(move |conn| -> Result<_, AppError> {
        let snap = meters::snapshot(conn, &tenant, now)?;
        let calls = meters::api_calls_today(conn, &tenant, snap.organization.tz(), now)?;
        Ok((snap, calls))
    });
    read.await.map_err(Problem::from)
}

/// The feature's name in the API: snake_case of its variant.
pub fn feature_name(f: Feature) -> &'static str {
    match f {
        Feature::ApiAccess => "api_access",
        Feature::WhiteLabel => "white_label",
        Feature::PrioritySupport => "priority_support",
        Feature::CustomIntegrations => "custom_integrations",
        Feature::AdvancedAnalytics => "advanced_analytics",
        Feature::DedicatedAccountManager => "dedicated_account_manager",
    }
}

#[utoipa::path(get, path = "/api/v1/organization", tag = "organization",
    summary = "The organization",
    description = "Name, effective plan, status, trial end, limits (`null` is unlimited), features and the API rate limit.",
    responses((status = 200, description = "The key's organization.", body = OrganizationOut)))]
async fn organization(state: web::Data<AppState>, caller: ApiCaller) -> ApiResult<HttpResponse> {
    let (snap, _) = snapshot(&state, &caller).await?;
    let plan = snap.effective.plan;
    let out = OrganizationOut {
        id: snap.organization.id,
        name: snap.organization.name.clone(),
        slug: snap.organization.slug.clone(),
        time_zone: snap.organization.time_zone.to_string(),
        plan: plan.as_str().to_string(),
        status: snap.subscription.status.as_str().to_string(),
        trial_ends_at: snap.subscription.trial_ends_at,
        limits: LimitKind::ALL
            .into_iter()
            .map(|k| (k.as_str(), snap.effective.limits.get(k)))
            .collect(),
        features: Feature::ALL
            .into_iter()
            .filter(|f| plan.spec().features.has(*f))
            .map(feature_name)
            .collect(),
        rate_limit_per_minute: crate::api::rate_limit_per_minute(plan),
    };
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(get, path = "/api/v1/usage", tag = "organization",
    summary = "Usage",
    description = "Every meter with its limit, period and next reset, and today's API calls.",
    responses((status = 200, description = "The meters.", body = UsageOut)))]
async fn usage(state: web::Data<AppState>, caller: ApiCaller) -> ApiResult<HttpResponse> {
    let (snap, calls) = snapshot(&state, &caller).await?;
    let (tz, now) = (snap.organization.tz(), caller.now);
    let mut meters: Vec<MeterOut> = snap
        .meters
        .iter()
        .map(|m| {
            let period = period_of(m.kind);
            MeterOut {
                name: m.kind.as_str(),
                used: m.used,
                limit: m.limit,
                period,
                resets_at: period.map(|p| resets_at(p, tz, now)),
            }
        })
        .collect();
    meters.push(MeterOut {
        name: "api_calls_per_day",
        used: calls,
        limit: None,
        period: Some("day"),
        resets_at: Some(resets_at("day", tz, now)),
    });
    Ok(HttpResponse::Ok().json(UsageOut { meters }))
}

fn period_of(kind: LimitKind) -> Option<&'static str> {
    match kind {
        LimitKind::LeadsPerMonth => Some("month"),
        LimitKind::MessagesPerDay => Some("day"),
        LimitKind::Users | LimitKind::Templates | LimitKind::Sequences => None,
    }
}

/// The start of the next local day or month, in UTC.
fn resets_at(period: &str, tz: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let next = if period == "month" {
        month_start(tz, now) + Months::new(1)
    } else {
        day_start(tz, now) + chrono::Days::new(1)
    };
    local_date_start_utc(tz, next)
}
