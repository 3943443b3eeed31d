//! Charts drawn on the server as inline SVG (no script): bars for one series,
//! a line for a second, nice round gridlines, and an `aria-label` that says the
//! data in words. Colours come from the `.chart-*` classes of app.css.

use chrono::NaiveDate;
use maud::{html, Markup};

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
    let points: Vec<String> = days
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{:.1},{:.1}", x_mid(i), y(d.line)))
        .collect();
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
                        (d.date.format("%-d %b")) ": " (d.bars) " " (bar_name)
                        @if let Some(line_name) = line_name { ", " (d.line) " " (line_name) }
                    }
                }
                @if tick(i, days.len()) {
                    text.middle x=(fmt(x_mid(i))) y=(fmt(HEIGHT - 6.0)) { (d.date.format("%-d %b")) }
                }
            }
            @if line_name.is_some() { polyline.chart-line.alt points=(points.join(" ")) {} }
            line.chart-axis x1=(LEFT) x2=(WIDTH - RIGHT) y1=(BASE) y2=(BASE) {}
        }
    }
}

/// Date labels every 7 days, counted back from the last day (today).
fn tick(i: usize, len: usize) -> bool {
    (len - 1 - i).is_multiple_of(7)
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
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
