//! The analytics page: a range form, headline figures compared with the
//! previous period, and per chart an inline SVG (no script; colour-blind-safe
//! Okabe–Ito colours, direct labels, a `<title>` per mark), the same numbers
//! as a table beneath (the accessible and no-JS form) and a CSV link. The
//! report is its own fragment (`#analytics-report`) so HTMX swaps only it.
//! Plans without advanced analytics get `upsell`: a blurred, made-up example.

use chrono::NaiveDate;
use chrono_tz::Tz;
use maud::{html, Markup, Render};

use crate::db::analytics::Names;
use crate::domain::analytics::{
    change_percent, conversion, RangeKind, Report, Totals, FUNNEL, STOP_REASONS,
};
use crate::domain::leads::{LeadSource, LeadStatus};
use crate::views::charts::axis_top;

pub const REPORT_ID: &str = "analytics-report";

pub struct AnalyticsView<'a> {
    pub tz: Tz,
    pub report: &'a Report,
    pub previous: &'a Totals,
    pub names: &'a Names,
    /// The problem with the asked range (the report then shows 30 days).
    pub error: Option<&'a str>,
    /// The custom dates as typed.
    pub from: &'a str,
    pub to: &'a str,
}

/// The page's tables, each downloadable as CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Leads,
    Funnel,
    Messages,
    Templates,
    Sequences,
    Members,
}

impl Table {
    pub const ALL: [Table; 6] = [
        Table::Leads,
        Table::Funnel,
        Table::Messages,
        Table::Templates,
        Table::Sequences,
        Table::Members,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Table::Leads => "leads",
            Table::Funnel => "funnel",
            Table::Messages => "messages",
            Table::Templates => "templates",
            Table::Sequences => "sequences",
            Table::Members => "members",
        }
    }

    pub fn parse(s: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

pub fn body(v: &AnalyticsView) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { "Analytics" }
                p { "Where leads come from, where they drop out, and which templates and sequences get replies. "
                    "Days are in " (v.tz.name()) "." }
            }
        }
        div.stack {
            (range_form(v.report.range.kind, v.from, v.to))
            (report(v))
        }
    }
}

fn range_form(kind: RangeKind, from: &str, to: &str) -> Markup {
    html! {
        form.toolbar method="get" action="/analytics" hx-get="/analytics"
            hx-target={ "#" (REPORT_ID) } hx-swap="outerHTML" hx-push-url="true" {
            div.field {
                label for="a-range" { "Range" }
                select #a-range name="range" {
                    @for k in RangeKind::ALL {
                        option value=(k.as_str()) selected[k == kind] { (k.label()) }
                    }
                }
            }
            div.field {
                label for="a-from" { "From (custom)" }
                input #a-from type="date" name="from" value=(from);
            }
            div.field {
                label for="a-to" { "To (custom)" }
                input #a-to type="date" name="to" value=(to);
            }
            div.toolbar-end {
                button.btn type="submit" { "Show" }
                span.htmx-indicator aria-hidden="true" { span.spinner {} }
            }
        }
    }
}

/// The whole report for the range: the HTMX fragment.
pub fn report(v: &AnalyticsView) -> Markup {
    let r = v.report;
    let q = query(r);
    html! {
        div.stack #(REPORT_ID) {
            @if let Some(e) = v.error {
                div.flash.flash-error role="alert" { (e) " The last 30 days are shown instead." }
            }
            p.muted {
                (r.range.from.format("%-d %B %Y")) " – " (r.range.to.format("%-d %B %Y"))
                " (" (r.range.days()) " days), compared with the " (r.range.days()) " days before."
            }
            div.stats {
                (stat("Leads created", r.totals.leads, v.previous.leads))
                (stat("Messages sent", r.totals.sent, v.previous.sent))
                (stat("Messages failed", r.totals.failed, v.previous.failed))
                (stat("Leads replied", r.totals.replied, v.previous.replied))
            }
            (section("Leads created per day, by source", Table::Leads, &q, html! {
                (stacked_chart(r))
                (leads_table(r))
            }))
            (section("Status funnel", Table::Funnel, &q, html! {
                (funnel_chart(r))
                (funnel_table(r))
            }))
            (section("Messages sent and failed per day", Table::Messages, &q, html! {
                (messages_chart(r))
                (messages_table(r))
            }))
            (section("Templates", Table::Templates, &q, templates_table(r, v.names)))
            (section("Sequences", Table::Sequences, &q, sequences_table(r, v.names)))
            (section("Team activity", Table::Members, &q, members_table(r, v.names)))
        }
    }
}

/// The range as query parameters (for the CSV links).
fn query(r: &Report) -> String {
    match r.range.kind {
        RangeKind::Custom => format!(
            "range=custom&from={}&to={}",
            r.range.from.format("%Y-%m-%d"),
            r.range.to.format("%Y-%m-%d")
        ),
        k => format!("range={}", k.as_str()),
    }
}

fn section(title: &str, table: Table, q: &str, content: Markup) -> Markup {
    let id = format!("a-{}", table.as_str());
    html! {
        section.card aria-labelledby=(id) {
            div.card-head {
                h2 #(id) { (title) }
                a.btn.btn-ghost href={ "/analytics/export?table=" (table.as_str()) "&" (q) } download {
                    "Download CSV" span.sr-only { ": " (title) }
                }
            }
            (content)
        }
    }
}

fn stat(label: &str, now: i64, before: i64) -> Markup {
    html! {
        div.stat {
            span.stat-label { (label) }
            span.stat-value { (now) }
            span.stat-sub {
                @match change_percent(now, before) {
                    Some(p) if p > 0.0 => { span.up { "▲ " (pct(p)) } " vs " (before) " before" }
                    Some(p) if p < 0.0 => { span.down { "▼ " (pct(-p)) } " vs " (before) " before" }
                    Some(_) => { "no change vs " (before) " before" }
                    None => { (before) " in the period before" }
                }
            }
        }
    }
}

fn pct(p: f64) -> String {
    format!("{p:.0}%")
}

fn pct_opt(p: Option<f64>) -> String {
    p.map_or("–".to_string(), |p| format!("{p:.1}%"))
}

// ── Charts ──────────────────────────────────────────────────────────────

const W: f64 = 640.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 96.0;
const TOP: f64 = 10.0;
const BASE: f64 = 176.0;
const H: f64 = 204.0;

/// Okabe–Ito colours (safe for the common colour-vision deficiencies), as
/// classes `.series-1..3` in app.css.
const SERIES: [&str; 3] = ["series-1", "series-2", "series-3"];

/// Date ticks: at most 6 labels, counted back from the last day, so they
/// never collide even when the chart is 390 px wide.
pub fn tick_every(len: usize) -> usize {
    len.div_ceil(6).max(1)
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

/// Where a day chart puts things: one slot a day across, counts up to
/// `top` (a round number above the largest) upwards.
struct DayScale {
    top: i64,
    slot: f64,
}

impl DayScale {
    fn new(days: usize, max: i64) -> DayScale {
        DayScale {
            top: axis_top(max),
            slot: (W - LEFT - RIGHT) / days.max(1) as f64,
        }
    }

    /// The height of a count.
    fn y(&self, v: i64) -> f64 {
        BASE - (BASE - TOP) * v as f64 / self.top as f64
    }

    /// `offset` slots into day `i`.
    fn x(&self, i: usize, offset: f64) -> f64 {
        LEFT + self.slot * (i as f64 + offset)
    }
}

/// Axis, gridlines and date ticks of a day chart.
fn frame(dates: &[NaiveDate], scale: &DayScale) -> Markup {
    let every = tick_every(dates.len());
    html! {
        @for step in 0..=4i64 {
            @let value = scale.top * step / 4;
            line.chart-grid x1=(LEFT) x2=(W - RIGHT) y1=(f(scale.y(value))) y2=(f(scale.y(value))) {}
            text.end x=(LEFT - 8.0) y=(f(scale.y(value) + 4.0)) { (value) }
        }
        @for (i, d) in dates.iter().enumerate() {
            @if (dates.len() - 1 - i).is_multiple_of(every) {
                text.middle x=(f(scale.x(i, 0.5))) y=(f(H - 6.0)) { (d.format("%-d %b")) }
            }
        }
        line.chart-axis x1=(LEFT) x2=(W - RIGHT) y1=(BASE) y2=(BASE) {}
    }
}

/// A chart, its text alternative (`label`) and its caption.
fn chart(height: impl Render, label: &str, marks: Markup, caption: &str) -> Markup {
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (W) " " (height) } role="img" aria-label=(label) {
                (marks)
            }
            figcaption { (caption) }
        }
    }
}

/// Leads per day as bars stacked by source, each source labelled directly
/// at the right edge with its total.
fn stacked_chart(r: &Report) -> Markup {
    let dates: Vec<NaiveDate> = r.leads.iter().map(|d| d.date).collect();
    let max = r
        .leads
        .iter()
        .map(|d| d.by_source.iter().sum::<i64>())
        .max()
        .unwrap_or(0);
    let scale = DayScale::new(dates.len(), max);
    let totals: Vec<i64> = (0..3)
        .map(|i| r.leads.iter().map(|d| d.by_source[i]).sum())
        .collect();
    let label = format!(
        "Leads created per day by source: {}",
        sources_in_words(&totals)
    );
    let marks = html! {
        (frame(&dates, &scale))
        @for (i, s, below, v) in stacks(r) {
            @let d = r.leads[i].date;
            rect class=(SERIES[s]) x=(f(scale.x(i, 0.15))) y=(f(scale.y(below + v)))
                width=(f(scale.slot * 0.7)) height=(f(scale.y(below) - scale.y(below + v))) {
                title { (d.format("%-d %b")) ": " (v) " from " (LeadSource::ALL[s].label()) }
            }
        }
        @for (s, source) in LeadSource::ALL.iter().enumerate() {
            text class={ "chart-label " (SERIES[s]) "-text" } x=(W - RIGHT + 6.0) y=(f(TOP + 14.0 + 18.0 * s as f64)) {
                (legend_name(*source)) " " (totals[s])
            }
        }
    };
    chart(
        H,
        &label,
        marks,
        "Bars stack by source; each source's total is written at the right.",
    )
}

/// A source's name beside the chart: short enough to fit the right margin
/// at every width (the table beneath uses the full names).
fn legend_name(source: LeadSource) -> &'static str {
    match source {
        LeadSource::Page => "Page",
        LeadSource::Csv => "CSV",
        LeadSource::Api => "API",
    }
}

/// The stacked segments: (day index, source index, count below, count).
fn stacks(r: &Report) -> Vec<(usize, usize, i64, i64)> {
    let mut out = Vec::new();
    for (i, d) in r.leads.iter().enumerate() {
        let mut below = 0;
        for (s, v) in d.by_source.iter().enumerate() {
            if *v > 0 {
                out.push((i, s, below, *v));
            }
            below += v;
        }
    }
    out
}

fn sources_in_words(totals: &[i64]) -> String {
    LeadSource::ALL
        .iter()
        .zip(totals)
        .map(|(s, t)| format!("{} {t}", s.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The funnel as horizontal bars, each labelled with its status and count.
fn funnel_chart(r: &Report) -> Markup {
    let steps: Vec<(LeadStatus, i64)> = FUNNEL
        .iter()
        .chain([LeadStatus::Lost].iter())
        .map(|s| (*s, reached(r, *s)))
        .collect();
    let max = steps.iter().map(|s| s.1).max().unwrap_or(0).max(1);
    let row_h = 34.0;
    let height = row_h * steps.len() as f64 + 8.0;
    let width_of = |v: i64| (W - 260.0) * v as f64 / max as f64;
    let reached_in_words = steps
        .iter()
        .map(|(s, v)| format!("{} {v}", s.label()))
        .collect::<Vec<_>>()
        .join(", ");
    let marks = html! {
        @for (i, (status, v)) in steps.iter().enumerate() {
            @let yy = 4.0 + row_h * i as f64;
            text.chart-label x="0" y=(f(yy + 20.0)) { (status.label()) }
            rect class=(if *status == LeadStatus::Lost { SERIES[1] } else { SERIES[0] })
                x="110" y=(f(yy + 4.0)) width=(f(width_of(*v).max(1.0))) height="22" {
                title { (status.label()) ": " (v) " leads" }
            }
            text.chart-label x=(f(118.0 + width_of(*v))) y=(f(yy + 20.0)) { (v) }
        }
    };
    chart(
        f(height),
        &format!("Leads that reached each status: {reached_in_words}"),
        marks,
        "Leads that reached each status for the first time in the range; Lost stands beside the funnel.",
    )
}

fn reached(r: &Report, s: LeadStatus) -> i64 {
    LeadStatus::ALL
        .iter()
        .position(|x| *x == s)
        .map_or(0, |i| r.reached[i])
}

/// Sent and failed messages per day, side by side; failed bars are hatched.
fn messages_chart(r: &Report) -> Markup {
    let dates: Vec<NaiveDate> = r.messages.iter().map(|d| d.date).collect();
    let max = r
        .messages
        .iter()
        .map(|d| d.sent.max(d.failed))
        .max()
        .unwrap_or(0);
    let scale = DayScale::new(dates.len(), max);
    let sent: i64 = r.messages.iter().map(|d| d.sent).sum();
    let failed: i64 = r.messages.iter().map(|d| d.failed).sum();
    let marks = html! {
        defs {
            pattern #hatch-failed patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)" {
                rect.series-2 width="3" height="6" {}
            }
        }
        (frame(&dates, &scale))
        @for (i, d) in r.messages.iter().enumerate() {
            @if d.sent > 0 {
                rect.series-1 x=(f(scale.x(i, 0.1))) y=(f(scale.y(d.sent)))
                    width=(f(scale.slot * 0.4)) height=(f(BASE - scale.y(d.sent))) {
                    title { (d.date.format("%-d %b")) ": " (d.sent) " sent" }
                }
            }
            @if d.failed > 0 {
                rect.hatched x=(f(scale.x(i, 0.5))) y=(f(scale.y(d.failed)))
                    width=(f(scale.slot * 0.4)) height=(f(BASE - scale.y(d.failed))) fill="url(#hatch-failed)" {
                    title { (d.date.format("%-d %b")) ": " (d.failed) " failed" }
                }
            }
        }
        text class="chart-label series-1-text" x=(W - RIGHT + 6.0) y=(f(TOP + 14.0)) { "Sent " (sent) }
        text class="chart-label series-2-text" x=(W - RIGHT + 6.0) y=(f(TOP + 32.0)) { "Failed " (failed) }
    };
    chart(
        H,
        &format!("Messages per day: {sent} sent, {failed} failed"),
        marks,
        "Solid bars: sent; hatched bars: failed.",
    )
}

// ── Tables ──────────────────────────────────────────────────────────────

/// A column of a table: its heading, which is also the label a cell shows
/// when the table stacks on a narrow screen; counts are set right.
#[derive(Clone, Copy)]
enum Col<'a> {
    Text(&'a str),
    Num(&'a str),
}

/// A row of a table: its title (the first column) and the cells of the
/// other columns, in order.
type Row = (Markup, Vec<Markup>);

/// A table of the report with its caption for screen readers (the card's
/// heading names it for everyone else); `empty` stands in for no rows.
fn data_table(caption: &str, cols: &[Col], rows: Vec<Row>, empty: Option<&str>) -> Markup {
    html! {
        div.table-wrap {
            table.data.stack.compact {
                caption.sr-only { (caption) }
                thead { tr {
                    @for col in cols {
                        @match col {
                            Col::Text(label) => { th scope="col" { (label) } }
                            Col::Num(label) => { th.num scope="col" { (label) } }
                        }
                    }
                } }
                tbody {
                    @if let (true, Some(text)) = (rows.is_empty(), empty) {
                        tr { td colspan=(cols.len()) { (text) } }
                    }
                    @for (title, cells) in rows {
                        tr {
                            td.stack-title { (title) }
                            @for (col, cell) in cols.iter().skip(1).zip(cells) {
                                @match col {
                                    Col::Text(label) => { td data-label=(label) { (cell) } }
                                    Col::Num(label) => { td.num data-label=(label) { (cell) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A cell's content.
fn cell(content: impl Render) -> Markup {
    content.render()
}

fn day(date: NaiveDate) -> Markup {
    html! { (date.format("%a %-d %b %Y")) }
}

fn leads_table(r: &Report) -> Markup {
    let mut cols = vec![Col::Text("Day")];
    cols.extend(LeadSource::ALL.iter().map(|s| Col::Num(s.label())));
    cols.push(Col::Num("Total"));
    let rows = r.leads.iter().rev().map(|d| {
        let mut cells: Vec<Markup> = d.by_source.iter().map(cell).collect();
        cells.push(cell(d.by_source.iter().sum::<i64>()));
        (day(d.date), cells)
    });
    data_table(
        "Leads created per day, by source",
        &cols,
        rows.collect(),
        None,
    )
}

fn funnel_rows(r: &Report) -> Vec<(LeadStatus, i64, Option<f64>)> {
    let mut rows = Vec::new();
    let mut prev: Option<i64> = None;
    for s in FUNNEL {
        let v = reached(r, s);
        rows.push((s, v, prev.and_then(|p| conversion(p, v))));
        prev = Some(v);
    }
    rows.push((LeadStatus::Lost, reached(r, LeadStatus::Lost), None));
    rows
}

fn funnel_table(r: &Report) -> Markup {
    let rows = funnel_rows(r)
        .into_iter()
        .map(|(s, v, c)| (cell(s.label()), vec![cell(v), cell(pct_opt(c))]));
    data_table(
        "Leads that reached each status, and the conversion from the step before",
        &[
            Col::Text("Status"),
            Col::Num("Leads"),
            Col::Num("From the step before"),
        ],
        rows.collect(),
        None,
    )
}

fn messages_table(r: &Report) -> Markup {
    let rows = r
        .messages
        .iter()
        .rev()
        .map(|d| (day(d.date), vec![cell(d.sent), cell(d.failed)]));
    data_table(
        "Messages sent and failed per day",
        &[Col::Text("Day"), Col::Num("Sent"), Col::Num("Failed")],
        rows.collect(),
        None,
    )
}

fn name_of<'a>(
    map: &'a std::collections::HashMap<String, String>,
    id: &str,
    deleted: &'a str,
) -> &'a str {
    map.get(id).map_or(deleted, |s| s.as_str())
}

fn templates_table(r: &Report, names: &Names) -> Markup {
    let rows = r.templates.iter().map(|t| {
        let name = name_of(&names.templates, &t.id, "Deleted template");
        let rate = pct_opt(t.reply_rate());
        (cell(name), vec![cell(t.sent), cell(t.replied), cell(rate)])
    });
    html! {
        p.muted.small { "A reply is a lead moved to Replied within 14 days after a message with the template." }
        (data_table(
            "Messages sent, replies and reply rate per template",
            &[Col::Text("Template"), Col::Num("Sent"), Col::Num("Replied"), Col::Num("Reply rate")],
            rows.collect(),
            Some("No messages with a template in this range."),
        ))
    }
}

fn dropoff_text(s: &crate::domain::analytics::SequenceRow) -> String {
    if s.dropoff.is_empty() {
        return "–".into();
    }
    s.dropoff
        .iter()
        .map(|(step, n)| match step {
            0 => format!("before step 1: {n}"),
            s => format!("after step {s}: {n}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How many stopped, and beneath it how many for each reason that occurred.
fn stopped_cell(s: &crate::domain::analytics::SequenceRow) -> Markup {
    html! {
        (s.stopped_total())
        @for (i, (_, label)) in STOP_REASONS.iter().enumerate() {
            @if s.stopped[i] > 0 { span.cell-sub { (label) ": " (s.stopped[i]) } }
        }
    }
}

fn sequences_table(r: &Report, names: &Names) -> Markup {
    let rows = r.sequences.iter().map(|s| {
        let name = name_of(&names.sequences, &s.id, "Deleted sequence");
        let cells = vec![
            cell(s.enrolled),
            cell(s.completed),
            stopped_cell(s),
            cell(s.replied),
            cell(dropoff_text(s)),
        ];
        (cell(name), cells)
    });
    data_table(
        "Enrolments, completions, stops by reason, replies and drop-off per sequence",
        &[
            Col::Text("Sequence"),
            Col::Num("Enrolled"),
            Col::Num("Completed"),
            Col::Text("Stopped (by reason)"),
            Col::Num("Replied"),
            Col::Text("Drop-off"),
        ],
        rows.collect(),
        Some("No sequence activity in this range."),
    )
}

fn members_table(r: &Report, names: &Names) -> Markup {
    let rows = r.members.iter().map(|m| {
        let name = name_of(&names.members, &m.id, "Former member");
        (
            cell(name),
            vec![cell(m.leads), cell(m.sent), cell(m.replies)],
        )
    });
    data_table(
        "Leads created, messages sent and replies on their enrolments per member",
        &[
            Col::Text("Member"),
            Col::Num("Leads created"),
            Col::Num("Messages sent"),
            Col::Num("Replies on their enrolments"),
        ],
        rows.collect(),
        Some("No member activity in this range."),
    )
}

// ── CSV ────────────────────────────────────────────────────────────────

/// The rows of one table, as the page shows them, as CSV.
pub fn csv(table: Table, r: &Report, names: &Names) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    match table {
        Table::Leads => {
            w.write_record(["day", "page", "csv", "api", "total"])?;
            for d in &r.leads {
                let [a, b, c] = d.by_source;
                w.write_record([
                    d.date.to_string(),
                    a.to_string(),
                    b.to_string(),
                    c.to_string(),
                    (a + b + c).to_string(),
                ])?;
            }
        }
        Table::Funnel => {
            w.write_record(["status", "leads", "conversion_from_previous_percent"])?;
            for (s, v, c) in funnel_rows(r) {
                w.write_record([
                    s.as_str().to_string(),
                    v.to_string(),
                    c.map_or(String::new(), |c| format!("{c:.1}")),
                ])?;
            }
        }
        Table::Messages => {
            w.write_record(["day", "sent", "failed"])?;
            for d in &r.messages {
                w.write_record([d.date.to_string(), d.sent.to_string(), d.failed.to_string()])?;
            }
        }
        Table::Templates => {
            w.write_record([
                "template_id",
                "template",
                "sent",
                "replied",
                "reply_rate_percent",
            ])?;
            for t in &r.templates {
                w.write_record([
                    t.id.clone(),
                    csv_text(name_of(&names.templates, &t.id, "Deleted template")),
                    t.sent.to_string(),
                    t.replied.to_string(),
                    t.reply_rate().map_or(String::new(), |p| format!("{p:.1}")),
                ])?;
            }
        }
        Table::Sequences => {
            let mut head = vec![
                "sequence_id",
                "sequence",
                "enrolled",
                "completed",
                "stopped",
            ];
            let reasons: Vec<String> = STOP_REASONS
                .iter()
                .map(|(k, _)| format!("stopped_{k}"))
                .collect();
            head.extend(reasons.iter().map(|s| s.as_str()));
            head.extend(["replied", "dropoff"]);
            w.write_record(head)?;
            for s in &r.sequences {
                let mut rec = vec![
                    s.id.clone(),
                    csv_text(name_of(&names.sequences, &s.id, "Deleted sequence")),
                    s.enrolled.to_string(),
                    s.completed.to_string(),
                    s.stopped_total().to_string(),
                ];
                rec.extend(s.stopped.iter().map(|n| n.to_string()));
                rec.push(s.replied.to_string());
                rec.push(dropoff_text(s));
                w.write_record(rec)?;
            }
        }
        Table::Members => {
            w.write_record([
                "user_id",
                "member",
                "leads_created",
                "messages_sent",
                "replies",
            ])?;
            for m in &r.members {
                w.write_record([
                    m.id.clone(),
                    csv_text(name_of(&names.members, &m.id, "Former member")),
                    m.leads.to_string(),
                    m.sent.to_string(),
                    m.replies.to_string(),
                ])?;
            }
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 text"))
}

/// A name as a CSV cell: a leading `=`, `+`, `-` or `@` is quoted away so a
/// spreadsheet does not run it as a formula.
fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

// ── Without the feature ─────────────────────────────────────────────────

/// A blurred example made of fixed numbers (none of the organization's are
/// read) and the way to the plans.
pub fn upsell(today: NaiveDate, can_upgrade: bool) -> Markup {
    let example: [i64; 14] = [3, 5, 4, 7, 6, 9, 8, 6, 10, 12, 9, 13, 11, 14];
    let scale = DayScale::new(example.len(), 14);
    let dates: Vec<NaiveDate> = (0..example.len())
        .map(|i| today - chrono::Duration::days((example.len() - 1 - i) as i64))
        .collect();
    html! {
        div.page-head {
            div {
                h1 { "Analytics" }
                p { "Where leads come from, where they drop out, and which templates and sequences get replies." }
            }
        }
        section.card aria-labelledby="analytics-upgrade-title" {
            h2 #analytics-upgrade-title { "Advanced analytics come with the Starter plan and up" }
            p.muted {
                "Leads per day by source, the status funnel, messages sent and failed, reply rates per template "
                "and sequence, and team activity, for any range up to 13 months. The 30-day chart on "
                a href="/usage" { "Usage & plan" } " stays available on every plan."
            }
            figure.chart.analytics-example aria-hidden="true" {
                svg viewBox={ "0 0 " (W) " " (H) } {
                    (frame(&dates, &scale))
                    @for (i, v) in example.iter().enumerate() {
                        rect.series-1 x=(f(scale.x(i, 0.15))) y=(f(scale.y(*v)))
                            width=(f(scale.slot * 0.7)) height=(f(BASE - scale.y(*v))) {}
                    }
                }
            }
            @if can_upgrade {
                p { a.btn.btn-primary href="/plans" { "Compare plans and upgrade" } }
            } @else {
                p.muted { "Ask an owner of this organization to upgrade." }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_six_date_labels() {
        for len in [1usize, 7, 30, 31, 90, 396] {
            let every = tick_every(len);
            let labels = (0..len)
                .filter(|i| (len - 1 - i).is_multiple_of(every))
                .count();
            assert!((1..=6).contains(&labels), "{len} days: {labels} labels");
        }
    }

    #[test]
    fn csv_names_cannot_be_formulas() {
        assert_eq!(csv_text("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_text("Intro"), "Intro");
    }
}
