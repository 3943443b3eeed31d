//! Charts drawn on the server as inline SVG (no script): bars for one series,
//! a line for a second, nice round gridlines, and an `aria-label` that says the
//! data in words. Colours come from the `.chart-*` classes of app.css.

use std::fmt::Write as _;

use chrono::NaiveDate;
use maud::{html, Markup, Render};

/// One day of a two-series chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayPoint {
    pub date: NaiveDate,
    /// Drawn as bars.
    pub bars: i64,
    /// Drawn as a line.
    pub line: i64,
}

const WIDTH: f64 = 640.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BASE: f64 = 176.0;
const HEIGHT: f64 = 200.0;

/// The smallest "nice" axis top (1, 2, 2.5 or 5 × 10ⁿ per gridline, 4 gridlines) ≥ `max`.
pub fn axis_top(max: i64) -> i64 {
    let raw = (max.max(1) as f64 / 4.0).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    // 2.5 only where it gives whole numbers (gridlines at 25, 250, …).
    let multiples: &[f64] = if magnitude >= 10.0 {
        &[1.0, 2.0, 2.5, 5.0, 10.0]
    } else {
        &[1.0, 2.0, 5.0, 10.0]
    };
    let step = multiples
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    (step as i64).max(1) * 4
}

/// A bar + line chart of `days` (oldest first). `bar_name` / `line_name` are
/// plural nouns ("leads", "messages"); `label` is the full aria-label.
pub fn bars_and_line(days: &[DayPoint], bar_name: &str, line_name: &str, label: &str) -> Markup {
    draw(days, bar_name, Some(line_name), label)
}

/// A bar chart of `days` (oldest first), `bar_name` a plural noun; `line`
/// of the points is not drawn.
pub fn bars(days: &[DayPoint], bar_name: &str, label: &str) -> Markup {
    draw(days, bar_name, None, label)
}

fn draw(days: &[DayPoint], bar_name: &str, line_name: Option<&str>, label: &str) -> Markup {
    let line_of = |d: &DayPoint| if line_name.is_some() { d.line } else { 0 };
    let top = axis_top(
        days.iter()
            .map(|d| d.bars.max(line_of(d)))
            .max()
            .unwrap_or(0),
    );
    let slot = (WIDTH - LEFT - RIGHT) / days.len().max(1) as f64;
    let y = |v: i64| BASE - (BASE - TOP) * v as f64 / top as f64;
    let x_mid = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let mut points = String::with_capacity(days.len() * 12);
    for (i, d) in days.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let _ = write!(points, "{sep}{},{}", fmt(x_mid(i)), fmt(y(d.line)));
    }
    html! {
        svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(label) {
            @for step in 0..=4i64 {
                @let value = top * step / 4;
                line.chart-grid x1=(LEFT) x2=(WIDTH - RIGHT) y1=(fmt(y(value))) y2=(fmt(y(value))) {}
                text.end x=(LEFT - 8.0) y=(fmt(y(value) + 4.0)) { (value) }
            }
            @for (i, d) in days.iter().enumerate() {
                @let height = BASE - y(d.bars);
                rect.chart-bar x=(fmt(x_mid(i) - slot * 0.3)) y=(fmt(y(d.bars))) width=(fmt(slot * 0.6))
                    height=(fmt(height)) rx="2" {
                    title {
                        (ShortDate(d.date)) ": " (d.bars) " " (bar_name)
                        @if let Some(line_name) = line_name { ", " (d.line) " " (line_name) }
                    }
                }
                @if tick(i, days.len()) {
                    text.middle x=(fmt(x_mid(i))) y=(fmt(HEIGHT - 6.0)) { (ShortDate(d.date)) }
                }
            }
            @if line_name.is_some() { polyline.chart-line.alt points=(points) {} }
            line.chart-axis x1=(LEFT) x2=(WIDTH - RIGHT) y1=(BASE) y2=(BASE) {}
        }
    }
}

/// Date labels every 7 days, counted back from the last day (today).
fn tick(i: usize, len: usize) -> bool {
    (len - 1 - i).is_multiple_of(7)
}

/// A coordinate to one decimal. The usage chart has a few hundred of them
/// per page; printed as whole tenths with integer formatting, not float
/// formatting (which was the largest item of the page's own CPU profile,
/// bench/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tenths(i64);

fn fmt(v: f64) -> Tenths {
    Tenths((v * 10.0).round() as i64)
}

impl std::fmt::Display for Tenths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{}", abs / 10, abs % 10)
    }
}

/// "7 Nov": a day as the chart labels it (what chrono's `%-d %b` prints,
/// without parsing a format string for each of the chart's sixty labels).
struct ShortDate(NaiveDate);

impl Render for ShortDate {
    fn render_to(&self, buffer: &mut String) {
        use chrono::Datelike;
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS[self.0.month0() as usize];
        let _ = write!(buffer, "{} {month}", self.0.day());
    }
}

impl Render for Tenths {
    fn render_to(&self, buffer: &mut String) {
        let _ = write!(buffer, "{self}");
    }
}

/// "12 leads in total, most on 20 November (4)" or "no leads".
pub fn describe_series(days: &[DayPoint], noun: &str, pick: fn(&DayPoint) -> i64) -> String {
    let total: i64 = days.iter().map(pick).sum();
    match days.iter().max_by_key(|d| (pick(d), d.date)) {
        Some(peak) if total > 0 => format!(
            "{total} {noun} in total, most on {} ({})",
            peak.date.format("%-d %B"),
            pick(peak)
        ),
        _ => format!("no {noun}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(axis_top(0), 4);
        assert_eq!(axis_top(3), 4);
        assert_eq!(axis_top(5), 8);
        assert_eq!(axis_top(45), 80);
        assert_eq!(axis_top(92), 100);
        assert_eq!(axis_top(1_300), 2_000);
    }

    #[test]
    fn coordinates_print_to_one_decimal() {
        let printed = |v: f64| fmt(v).to_string();
        assert_eq!(printed(176.0), "176.0");
        assert_eq!(printed(40.25), "40.3");
        assert_eq!(printed(0.04), "0.0");
        assert_eq!(printed(-0.5), "-0.5");
        assert_eq!(printed(63.666), "63.7");
        for (y, m, d) in [(2026, 1, 1), (2026, 11, 7), (2026, 12, 31)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let ours = ShortDate(date).render().into_string();
            assert_eq!(ours, date.format("%-d %b").to_string());
        }
    }

    #[test]
    fn series_in_words() {
        let d = |day, bars, line| DayPoint {
            date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            bars,
            line,
        };
        let days = [d(1, 2, 0), d(2, 5, 0), d(3, 5, 0)];
        assert_eq!(
            describe_series(&days, "leads", |p| p.bars),
            "12 leads in total, most on 3 November (5)"
        );
        assert_eq!(
            describe_series(&days, "messages", |p| p.line),
            "no messages"
        );
        let svg = bars_and_line(&days, "leads", "messages", "chart").into_string();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains(r#"role="img""#) && svg.contains("polyline"));
        assert!(!svg.contains("style="));
    }
}
