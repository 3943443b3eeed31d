//! Advanced analytics (docs/product.md, "Analytics"): `/analytics` for every role of an
//! organization whose plan has advanced analytics, and a CSV of each of its
//! tables. The range form is a plain GET; with HTMX only the report swaps.
//! Plans without the feature get a static example and the upgrade link: no
//! query of the organization's numbers runs for them.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::db::pages::ShellData;
use crate::db::{analytics, pages};
use crate::domain::analytics::{build, DateRange, RangeKind, Report, Totals};
use crate::domain::plans::Feature;
use crate::domain::roles::Action;
use crate::error::{AppError, AppResult};
use crate::routes::{wants_fragment, Reply};
use crate::state::AppState;
use crate::views::analytics::{self as view, AnalyticsView, Table};
use crate::views::layout::Nav;

route_table! {
    GET "/analytics" => index,
    GET "/analytics/export" => export,
}

#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    #[serde(default)]
    range: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    table: String,
}

/// The range asked for (30 days when none), or the problem with it.
fn resolve(q: &RangeQuery, today: NaiveDate) -> Result<DateRange, String> {
    let kind = match q.range.trim() {
        "" => RangeKind::Last30,
        s => RangeKind::parse(s).ok_or("Choose a range from the list.")?,
    };
    let date = |s: &str| -> Result<Option<NaiveDate>, String> {
        match s.trim() {
            "" => Ok(None),
            s => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| "Enter dates as YYYY-MM-DD.".to_string()),
        }
    };
    DateRange::resolve(kind, date(&q.from)?, date(&q.to)?, today)
}

fn has_analytics(cur: &CurrentOrg) -> bool {
    let plan = cur.ctx.subscription.effective_plan(cur.now());
    plan.spec().features.has(Feature::AdvancedAnalytics)
}

fn today(cur: &CurrentOrg) -> NaiveDate {
    cur.now().with_timezone(&cur.ctx.org.tz()).date_naive()
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    query: web::Query<RangeQuery>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    let today = today(&cur);
    if !has_analytics(&cur) {
        let body = view::upsell(today, cur.can(Action::ManageBilling));
        return Reply::Ok
            .page_or_fragment(&state, &cur, &req, (Nav::Analytics, "Analytics"), |_| body)
            .await;
    }
    let (range, error, reply) = match resolve(&query, today) {
        Ok(r) => (r, None, Reply::Ok),
        Err(e) => (
            DateRange::resolve(RangeKind::Last30, None, None, today).expect("a preset"),
            Some(e),
            Reply::Invalid,
        ),
    };
    let with_shell = !wants_fragment(&req);
    let (loaded, shell) = load(&state, &cur, range, with_shell).await?;
    let v = AnalyticsView {
        tz: cur.ctx.org.tz(),
        report: &loaded.report,
        previous: &loaded.previous,
        names: &loaded.names,
        error: error.as_deref(),
        from: query.from.trim(),
        to: query.to.trim(),
    };
    Ok(match shell {
        None => reply.fragment(view::report(&v)),
        Some(shell) => {
            let title = (Nav::Analytics, "Analytics");
            reply.page_with(&cur.user, &req, title, view::body(&v), shell)
        }
    })
}

/// What the page shows for a range: its report, the previous period's
/// totals and the names of the templates, sequences and members in it.
struct Loaded {
    report: Report,
    previous: Totals,
    names: analytics::Names,
}

/// The range's counters and names in one checkout, with the shell's data
/// when a whole page is wanted (one pool round trip for the page).
async fn load(
    state: &AppState,
    cur: &CurrentOrg,
    range: DateRange,
    with_shell: bool,
) -> AppResult<(Loaded, Option<ShellData>)> {
    let tenant = cur.tenant();
    let user = cur.user.id();
    state
        .db
        .run(move |conn| -> AppResult<_> {
            let rows = analytics::daily_counts(conn, &tenant, range.previous().from, range.to)?;
            let (report, previous) = build(range, &rows);
            let template_ids: Vec<String> = report.templates.iter().map(|t| t.id.clone()).collect();
            let sequence_ids: Vec<String> = report.sequences.iter().map(|s| s.id.clone()).collect();
            let names = analytics::names(conn, &tenant, &template_ids, &sequence_ids)?;
            let shell = if with_shell {
                Some(pages::shell_data(conn, user, Some(&tenant))?)
            } else {
                None
            };
            Ok((
                Loaded {
                    report,
                    previous,
                    names,
                },
                shell,
            ))
        })
        .await
}

/// One table of the page as CSV, for the same range.
async fn export(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    query: web::Query<RangeQuery>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ReadWorkspace)?;
    if !has_analytics(&cur) {
        return Err(AppError::forbidden(
            "Advanced analytics come with the Starter plan and up.",
        ));
    }
    let table = Table::parse(query.table.trim())
        .ok_or_else(|| AppError::validation("Choose one of the page's tables."))?;
    let range = resolve(&query, today(&cur)).map_err(AppError::validation)?;
    let (loaded, _) = load(&state, &cur, range, false).await?;
    let body = view::csv(table, &loaded.report, &loaded.names).map_err(AppError::unexpected)?;
    let filename = format!(
        "analytics-{}-{}-{}.csv",
        table.as_str(),
        range.from,
        range.to
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body))
}
