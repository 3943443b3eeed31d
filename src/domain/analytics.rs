//! Advanced analytics (docs/product.md, "Analytics", docs/analytics.md): the date ranges a page
//! may ask for, and the report built from per-day counts. Pure: the counts
//! come from `db::analytics` (rows of `analytics_daily`), so the cost of a
//! report depends on the range and the number of templates, sequences and
//! members, never on how many leads or messages exist.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, Months, NaiveDate};

use crate::domain::leads::{LeadSource, LeadStatus};

/// The longest custom range: 13 months.
pub const MAX_MONTHS: u32 = 13;

/// A preset or custom range, as chosen in the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeKind {
    Last7,
    Last30,
    Last90,
    ThisMonth,
    LastMonth,
    Custom,
}

impl RangeKind {
    pub const ALL: [RangeKind; 6] = [
        RangeKind::Last7,
        RangeKind::Last30,
        RangeKind::Last90,
        RangeKind::ThisMonth,
        RangeKind::LastMonth,
        RangeKind::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RangeKind::Last7 => "7d",
            RangeKind::Last30 => "30d",
            RangeKind::Last90 => "90d",
            RangeKind::ThisMonth => "this-month",
            RangeKind::LastMonth => "last-month",
            RangeKind::Custom => "custom",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RangeKind::Last7 => "Last 7 days",
            RangeKind::Last30 => "Last 30 days",
            RangeKind::Last90 => "Last 90 days",
            RangeKind::ThisMonth => "This month",
            RangeKind::LastMonth => "Last month",
            RangeKind::Custom => "Custom range",
        }
    }

    pub fn parse(s: &str) -> Option<RangeKind> {
        RangeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Inclusive local days `[from, to]` in the organization's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub kind: RangeKind,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// Resolves the form's choice against `today` (local). A custom range
    /// needs both dates, `from <= to`, and at most 13 months.
    pub fn resolve(
        kind: RangeKind,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Result<DateRange, String> {
        let last = |n: i64| DateRange {
            kind,
            from: today - Duration::days(n - 1),
            to: today,
        };
        let month_start = today.with_day(1).expect("day 1 exists");
        Ok(match kind {
            RangeKind::Last7 => last(7),
            RangeKind::Last30 => last(30),
            RangeKind::Last90 => last(90),
            RangeKind::ThisMonth => DateRange {
                kind,
                from: month_start,
                to: today,
            },
            RangeKind::LastMonth => DateRange {
                kind,
                from: month_start - Months::new(1),
                to: month_start - Duration::days(1),
            },
            RangeKind::Custom => {
                let (Some(from), Some(to)) = (from, to) else {
                    return Err("Enter both dates of the custom range.".into());
                };
                if from > to {
                    return Err("The start date must not be after the end date.".into());
                }
                if to >= from + Months::new(MAX_MONTHS) {
                    return Err(format!(
                        "A custom range can cover at most {MAX_MONTHS} months."
                    ));
                }
                DateRange { kind, from, to }
            }
        })
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of the same length just before this one.
    pub fn previous(&self) -> DateRange {
        let n = self.days();
        DateRange {
            kind: self.kind,
            from: self.from - Duration::days(n),
            to: self.from - Duration::days(1),
        }
    }

    pub fn each_day(&self) -> impl Iterator<Item = NaiveDate> {
        let from = self.from;
        (0..self.days()).map(move |i| from + Duration::days(i))
    }
}

/// One `analytics_daily` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCount {
    pub day: NaiveDate,
    pub metric: String,
    pub dim: String,
    pub count: i64,
}

/// Metric names as stored by the triggers of migration `760000_analytics`.
pub mod metric {
    pub const LEAD_CREATED: &str = "lead_created";
    pub const STATUS_REACHED: &str = "status_reached";
    pub const MESSAGE_SENT: &str = "message_sent";
    pub const MESSAGE_FAILED: &str = "message_failed";
    pub const TEMPLATE_SENT: &str = "template_sent";
    pub const TEMPLATE_REPLIED: &str = "template_replied";
    pub const SEQUENCE_ENROLLED: &str = "sequence_enrolled";
    pub const SEQUENCE_COMPLETED: &str = "sequence_completed";
    pub const SEQUENCE_STOPPED: &str = "sequence_stopped";
    pub const SEQUENCE_REPLIED: &str = "sequence_replied";
    pub const SEQUENCE_DROPOFF: &str = "sequence_dropoff";
    pub const MEMBER_LEADS: &str = "member_leads";
    pub const MEMBER_SENT: &str = "member_sent";
    pub const MEMBER_REPLIES: &str = "member_replies";
}

/// Why enrolments stop (the `sequence_stopped` dimension's suffix).
pub const STOP_REASONS: [(&str, &str); 6] = [
    ("replied", "Replied"),
    ("lost", "Marked lost"),
    ("unsubscribed", "Unsubscribed"),
    ("suppressed", "Suppressed"),
    ("bounced", "Bounced"),
    ("member", "By a member"),
];

/// The funnel's steps in order; Lost stands beside it.
pub const FUNNEL: [LeadStatus; 4] = [
    LeadStatus::New,
    LeadStatus::Contacted,
    LeadStatus::Replied,
    LeadStatus::Qualified,
];

/// Leads created on one day, by source (in `LeadSource::ALL` order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDay {
    pub date: NaiveDate,
    pub by_source: [i64; 3],
}

/// Messages of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageDay {
    pub date: NaiveDate,
    pub sent: i64,
    pub failed: i64,
}

/// Per template (id as text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateRow {
    pub id: String,
    pub sent: i64,
    pub replied: i64,
}

impl TemplateRow {
    /// Replies per sent message, in percent; `None` with nothing sent.
    pub fn reply_rate(&self) -> Option<f64> {
        (self.sent > 0).then(|| 100.0 * self.replied as f64 / self.sent as f64)
    }
}

/// Per sequence (id as text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SequenceRow {
    pub id: String,
    pub enrolled: i64,
    pub completed: i64,
    /// By reason, in `STOP_REASONS` order.
    pub stopped: [i64; STOP_REASONS.len()],
    pub replied: i64,
    /// Stopped enrolments by the last step they had been sent (0 = none).
    pub dropoff: BTreeMap<i32, i64>,
}

impl SequenceRow {
    pub fn stopped_total(&self) -> i64 {
        self.stopped.iter().sum()
    }
}

/// Per member (user id as text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberRow {
    pub id: String,
    pub leads: i64,
    pub sent: i64,
    pub replies: i64,
}

/// Everything `/analytics` shows for one range.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub range: DateRange,
    pub leads: Vec<SourceDay>,
    /// Leads that reached each status in the range (`LeadStatus::ALL` order).
    pub reached: [i64; 5],
    pub messages: Vec<MessageDay>,
    pub templates: Vec<TemplateRow>,
    pub sequences: Vec<SequenceRow>,
    pub members: Vec<MemberRow>,
    pub totals: Totals,
}

/// Headline figures, compared with the previous period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub leads: i64,
    pub sent: i64,
    pub failed: i64,
    pub replied: i64,
}

impl Totals {
    fn of(rows: &[DailyCount], range: &DateRange) -> Totals {
        let mut t = Totals::default();
        for r in rows
            .iter()
            .filter(|r| r.day >= range.from && r.day <= range.to)
        {
            match r.metric.as_str() {
                metric::LEAD_CREATED => t.leads += r.count,
                metric::MESSAGE_SENT => t.sent += r.count,
                metric::MESSAGE_FAILED => t.failed += r.count,
                metric::STATUS_REACHED if r.dim == LeadStatus::Replied.as_str() => {
                    t.replied += r.count
                }
                _ => {}
            }
        }
        t
    }
}

/// Change from `before` to `now` in percent; `None` when `before` is 0.
pub fn change_percent(now: i64, before: i64) -> Option<f64> {
    (before != 0).then(|| 100.0 * (now - before) as f64 / before as f64)
}

/// Conversion from one funnel step to the next, in percent.
pub fn conversion(from: i64, to: i64) -> Option<f64> {
    (from > 0).then(|| 100.0 * to as f64 / from as f64)
}

/// Builds the report of `range` from `rows` (which may extend beyond it);
/// `previous` holds the totals of the period before.
pub fn build(range: DateRange, rows: &[DailyCount]) -> (Report, Totals) {
    let previous = Totals::of(rows, &range.previous());
    let inside: Vec<&DailyCount> = rows
        .iter()
        .filter(|r| r.day >= range.from && r.day <= range.to)
        .collect();
    let mut leads: BTreeMap<NaiveDate, [i64; 3]> = range.each_day().map(|d| (d, [0; 3])).collect();
    let mut messages: BTreeMap<NaiveDate, (i64, i64)> =
        range.each_day().map(|d| (d, (0, 0))).collect();
    let mut reached = [0i64; 5];
    let mut templates: BTreeMap<String, TemplateRow> = BTreeMap::new();
    let mut sequences: BTreeMap<String, SequenceRow> = BTreeMap::new();
    let mut members: BTreeMap<String, MemberRow> = BTreeMap::new();
    for r in inside {
        let c = r.count;
        match r.metric.as_str() {
            metric::LEAD_CREATED => {
                if let Some(i) = LeadSource::ALL.iter().position(|s| s.as_str() == r.dim) {
                    leads.entry(r.day).or_default()[i] += c;
                }
            }
            metric::STATUS_REACHED => {
                if let Some(i) = LeadStatus::ALL.iter().position(|s| s.as_str() == r.dim) {
                    reached[i] += c;
                }
            }
            metric::MESSAGE_SENT => messages.entry(r.day).or_default().0 += c,
            metric::MESSAGE_FAILED => messages.entry(r.day).or_default().1 += c,
            metric::TEMPLATE_SENT => template(&mut templates, &r.dim).sent += c,
            metric::TEMPLATE_REPLIED => template(&mut templates, &r.dim).replied += c,
            metric::SEQUENCE_ENROLLED => sequence(&mut sequences, &r.dim).enrolled += c,
            metric::SEQUENCE_COMPLETED => sequence(&mut sequences, &r.dim).completed += c,
            metric::SEQUENCE_REPLIED => sequence(&mut sequences, &r.dim).replied += c,
            metric::SEQUENCE_STOPPED => {
                if let Some((id, reason)) = r.dim.split_once(':') {
                    let i = STOP_REASONS
                        .iter()
                        .position(|(k, _)| *k == reason)
                        .unwrap_or(STOP_REASONS.len() - 1);
                    sequence(&mut sequences, id).stopped[i] += c;
                }
            }
            metric::SEQUENCE_DROPOFF => {
                if let Some((id, step)) = r.dim.split_once(':') {
                    let step = step.parse().unwrap_or(0);
                    *sequence(&mut sequences, id)
                        .dropoff
                        .entry(step)
                        .or_default() += c;
                }
            }
            metric::MEMBER_LEADS => member(&mut members, &r.dim).leads += c,
            metric::MEMBER_SENT => member(&mut members, &r.dim).sent += c,
            metric::MEMBER_REPLIES => member(&mut members, &r.dim).replies += c,
            _ => {}
        }
    }
    let report = Report {
        range,
        leads: leads
            .into_iter()
            .map(|(date, by_source)| SourceDay { date, by_source })
            .collect(),
        reached,
        messages: messages
            .into_iter()
            .map(|(date, (sent, failed))| MessageDay { date, sent, failed })
            .collect(),
        templates: templates.into_values().collect(),
        sequences: sequences.into_values().collect(),
        members: members.into_values().collect(),
        totals: Totals::of(rows, &range),
    };
    (report, previous)
}

fn template<'a>(map: &'a mut BTreeMap<String, TemplateRow>, id: &str) -> &'a mut TemplateRow {
    map.entry(id.to_string()).or_insert_with(|| TemplateRow {
        id: id.to_string(),
        ..TemplateRow::default()
    })
}

fn sequence<'a>(map: &'a mut BTreeMap<String, SequenceRow>, id: &str) -> &'a mut SequenceRow {
    map.entry(id.to_string()).or_insert_with(|| SequenceRow {
        id: id.to_string(),
        ..SequenceRow::default()
    })
}

fn member<'a>(map: &'a mut BTreeMap<String, MemberRow>, id: &str) -> &'a mut MemberRow {
    map.entry(id.to_string()).or_insert_with(|| MemberRow {
        id: id.to_string(),
        ..MemberRow::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn presets_end_today_and_months_are_whole() {
        let today = d(2026, 3, 15);
        let r = DateRange::resolve(RangeKind::Last7, None, None, today).unwrap();
        assert_eq!((r.from, r.to, r.days()), (d(2026, 3, 9), today, 7));
        let prev = r.previous();
        assert_eq!((prev.from, prev.to), (d(2026, 3, 2), d(2026, 3, 8)));
        let r = DateRange::resolve(RangeKind::LastMonth, None, None, today).unwrap();
        assert_eq!((r.from, r.to), (d(2026, 2, 1), d(2026, 2, 28)));
        let r = DateRange::resolve(RangeKind::ThisMonth, None, None, today).unwrap();
        assert_eq!((r.from, r.to), (d(2026, 3, 1), today));
    }

    #[test]
    fn custom_ranges_are_checked() {
        let today = d(2026, 3, 15);
        let custom = |a, b| DateRange::resolve(RangeKind::Custom, a, b, today);
        assert!(custom(None, Some(today)).is_err());
        assert!(custom(Some(today), Some(d(2026, 3, 1))).is_err());
        assert!(custom(Some(d(2025, 2, 15)), Some(d(2026, 3, 14))).is_ok());
        assert!(custom(Some(d(2025, 2, 15)), Some(d(2026, 3, 15))).is_err());
    }

    #[test]
    fn report_sums_inside_the_range_and_compares() {
        let row = |day, metric: &str, dim: &str, count| DailyCount {
            day,
            metric: metric.into(),
            dim: dim.into(),
            count,
        };
        let range = DateRange::resolve(RangeKind::Last7, None, None, d(2026, 3, 15)).unwrap();
        let rows = vec![
            row(d(2026, 3, 2), metric::LEAD_CREATED, "page", 4),
            row(d(2026, 3, 1), metric::LEAD_CREATED, "page", 100),
            row(d(2026, 3, 9), metric::LEAD_CREATED, "api", 2),
            row(d(2026, 3, 15), metric::LEAD_CREATED, "csv", 3),
            row(d(2026, 3, 10), metric::STATUS_REACHED, "new", 5),
            row(d(2026, 3, 11), metric::STATUS_REACHED, "contacted", 2),
            row(d(2026, 3, 10), metric::TEMPLATE_SENT, "t", 4),
            row(d(2026, 3, 12), metric::TEMPLATE_REPLIED, "t", 1),
            row(d(2026, 3, 12), metric::SEQUENCE_STOPPED, "s:lost", 1),
            row(d(2026, 3, 12), metric::SEQUENCE_DROPOFF, "s:2", 1),
        ];
        let (report, previous) = build(range, &rows);
        assert_eq!(report.totals.leads, 5);
        assert_eq!(previous.leads, 4);
        assert_eq!(report.leads[0].by_source, [0, 0, 2]);
        assert_eq!(report.leads[6].by_source, [0, 3, 0]);
        assert_eq!(report.reached, [5, 2, 0, 0, 0]);
        assert_eq!(report.templates[0].reply_rate(), Some(25.0));
        assert_eq!(report.sequences[0].stopped, [0, 1, 0, 0, 0, 0]);
        assert_eq!(report.sequences[0].dropoff.get(&2), Some(&1));
        assert_eq!(change_percent(5, 4), Some(25.0));
        assert_eq!(change_percent(5, 0), None);
    }
}
