//! Pacing of a sender mailbox, so outreach goes out like a person writes:
//! at most `daily_cap` sends per local day, at least `min_gap` between two
//! (lengthened by a random jitter, never shortened, so the minimum always
//! holds), only on the mailbox's sending days and inside its daily window,
//! all in one time zone (the lead's when it has one, else the
//! organization's). Pure: the caller supplies `now`, what is already booked
//! and the random jitter, and stores the result under a row lock.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The pacing settings of one mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    pub daily_cap: u32,
    pub min_gap_seconds: u32,
    /// Up to this percentage of `min_gap_seconds` is added at random.
    pub jitter_percent: u32,
    /// Bit 0 = Monday … bit 6 = Sunday.
    pub send_days: u8,
    /// Minutes after local midnight; the window is `[start, end)`.
    pub window_start_minute: u32,
    pub window_end_minute: u32,
}

impl Pacing {
    /// The defaults of a new mailbox: 50 a day, 90 s ± 30 %, Monday to
    /// Friday, 09:00–17:00.
    pub const DEFAULT: Pacing = Pacing {
        daily_cap: 50,
        min_gap_seconds: 90,
        jitter_percent: 30,
        send_days: 0b001_1111,
        window_start_minute: 9 * 60,
        window_end_minute: 17 * 60,
    };

    fn sends_on(&self, day: NaiveDate) -> bool {
        let bit = day.weekday().num_days_from_monday();
        self.send_days & (1 << bit) != 0
    }
}

/// What a mailbox has already booked: the earliest moment its next send may
/// go, and how many sends are booked on the local day of its latest one.
/// Slots are booked in time order, so no later day has any booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Booked {
    pub next_free: Option<DateTime<Utc>>,
    pub last_day: Option<NaiveDate>,
    pub count_on_last_day: u32,
}

/// Why a bad pacing setting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacingError {
    NoSendingDay,
    EmptyWindow,
    ZeroCap,
}

impl std::fmt::Display for PacingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PacingError::NoSendingDay => "Choose at least one sending day.",
            PacingError::EmptyWindow => "The sending window must end after it starts.",
            PacingError::ZeroCap => "The daily cap must be at least 1.",
        })
    }
}

/// Checks settings before they are stored (the table checks them again).
pub fn validate(p: &Pacing) -> Result<(), PacingError> {
    if p.send_days & 0x7f == 0 {
        return Err(PacingError::NoSendingDay);
    }
    if p.window_start_minute >= p.window_end_minute || p.window_end_minute > 24 * 60 {
        return Err(PacingError::EmptyWindow);
    }
    if p.daily_cap == 0 {
        return Err(PacingError::ZeroCap);
    }
    Ok(())
}

/// The earliest moment at or after `now` a send may go: after the booked
/// gap, on a sending day, inside the window, on a day with room under the cap.
pub fn next_slot(p: &Pacing, zone: Tz, booked: &Booked, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut candidate = booked.next_free.map_or(now, |free| free.max(now));
    // A year of days is more than any valid setting needs; validate() makes
    // sure at least one day of every week qualifies.
    for _ in 0..400 {
        let local = candidate.with_timezone(&zone);
        let day = local.date_naive();
        let minute = local.hour_minute();
        let full = booked.last_day == Some(day) && booked.count_on_last_day >= p.daily_cap;
        if !p.sends_on(day) || full || minute >= p.window_end_minute {
            candidate = local_moment(zone, day + Duration::days(1), p.window_start_minute);
            continue;
        }
        if minute < p.window_start_minute {
            candidate = local_moment(zone, day, p.window_start_minute);
        }
        return candidate;
    }
    candidate
}

/// What is booked once `slot` is taken; `jitter` in `[0, 1]` (random, from
/// the caller) picks how much of the jitter percentage is added to the gap.
pub fn book(p: &Pacing, zone: Tz, booked: &Booked, slot: DateTime<Utc>, jitter: f64) -> Booked {
    let day = slot.with_timezone(&zone).date_naive();
    let count = if booked.last_day == Some(day) {
        booked.count_on_last_day + 1
    } else {
        1
    };
    Booked {
        next_free: Some(slot + gap(p, jitter)),
        last_day: Some(day),
        count_on_last_day: count,
    }
}

/// The gap after a send: the minimum plus `jitter` × the jitter percentage.
pub fn gap(p: &Pacing, jitter: f64) -> Duration {
    let base = f64::from(p.min_gap_seconds);
    let extra = base * f64::from(p.jitter_percent) / 100.0 * jitter.clamp(0.0, 1.0);
    Duration::milliseconds(((base + extra) * 1000.0).round() as i64)
}

/// A validated IANA time zone name (`Europe/Berlin`), or why not.
pub fn parse_time_zone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!("\"{name}\" is not a known time zone (use a name like Europe/Berlin).")
    })
}

trait MinuteOfDay {
    fn hour_minute(&self) -> u32;
}

impl<T: chrono::Timelike> MinuteOfDay for T {
    fn hour_minute(&self) -> u32 {
        self.hour() * 60 + self.minute()
    }
}

/// `minute` after local midnight of `day` in `zone`; a moment skipped by a
/// clock change moves to the first valid minute after it.
fn local_moment(zone: Tz, day: NaiveDate, minute: u32) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    let mut naive = midnight + Duration::minutes(i64::from(minute));
    for _ in 0..180 {
        if let Some(moment) = zone.from_local_datetime(&naive).earliest() {
            return moment.with_timezone(&Utc);
        }
        naive += Duration::minutes(1);
    }
    Utc.from_utc_datetime(&naive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn inside_the_window_a_send_goes_now() {
        // Monday 2026-12-07 10:00 in Berlin = 09:00 UTC.
        let now = utc("2026-12-07T09:00:00Z");
        let slot = next_slot(&Pacing::DEFAULT, Berlin, &Booked::default(), now);
        assert_eq!(slot, now);
    }

    #[test]
    fn before_the_window_it_waits_for_the_start_in_the_zone() {
        let now = utc("2026-12-07T05:00:00Z"); // 06:00 Berlin
        let slot = next_slot(&Pacing::DEFAULT, Berlin, &Booked::default(), now);
        assert_eq!(slot, utc("2026-12-07T08:00:00Z")); // 09:00 Berlin
    }

    #[test]
    fn after_the_window_on_friday_it_waits_for_monday() {
        let now = utc("2026-12-11T17:30:00Z"); // Friday 18:30 Berlin
        let slot = next_slot(&Pacing::DEFAULT, Berlin, &Booked::default(), now);
        assert_eq!(slot, utc("2026-12-14T08:00:00Z")); // Monday 09:00 Berlin
    }

    #[test]
    fn the_gap_holds_and_jitter_only_lengthens_it() {
        let now = utc("2026-12-07T09:00:00Z");
        let p = Pacing::DEFAULT;
        let first = next_slot(&p, Berlin, &Booked::default(), now);
        let none = book(&p, Berlin, &Booked::default(), first, 0.0);
        assert_eq!(
            next_slot(&p, Berlin, &none, now),
            now + Duration::seconds(90)
        );
        let full = book(&p, Berlin, &Booked::default(), first, 1.0);
        assert_eq!(
            next_slot(&p, Berlin, &full, now),
            now + Duration::seconds(117)
        );
        let clamped = book(&p, Berlin, &Booked::default(), first, 7.0);
        assert_eq!(clamped, full);
    }

    #[test]
    fn the_daily_cap_moves_the_next_send_to_the_next_sending_day() {
        let p = Pacing {
            daily_cap: 2,
            min_gap_seconds: 0,
            ..Pacing::DEFAULT
        };
        let now = utc("2026-12-07T09:00:00Z");
        let mut booked = Booked::default();
        for _ in 0..2 {
            let slot = next_slot(&p, Berlin, &booked, now);
            assert_eq!(slot, now);
            booked = book(&p, Berlin, &booked, slot, 0.5);
        }
        assert_eq!(
            next_slot(&p, Berlin, &booked, now),
            utc("2026-12-08T08:00:00Z")
        );
    }

    #[test]
    fn days_are_counted_in_the_zone_not_in_utc() {
        // 23:30 UTC Monday is already Tuesday 00:30 in Berlin.
        let p = Pacing {
            window_start_minute: 0,
            window_end_minute: 1440,
            send_days: 0x7f,
            ..Pacing::DEFAULT
        };
        let slot = utc("2026-12-07T23:30:00Z");
        let booked = book(&p, Berlin, &Booked::default(), slot, 0.0);
        assert_eq!(booked.last_day, NaiveDate::from_ymd_opt(2026, 12, 8));
    }

    #[test]
    fn a_window_start_skipped_by_a_clock_change_moves_to_the_first_valid_minute() {
        // Berlin skips 02:00-03:00 on 2027-03-28 (a Sunday).
        let p = Pacing {
            send_days: 0x7f,
            window_start_minute: 2 * 60 + 30,
            ..Pacing::DEFAULT
        };
        let now = utc("2027-03-28T00:00:00Z"); // 01:00 Berlin
        assert_eq!(
            next_slot(&p, Berlin, &Booked::default(), now),
            utc("2027-03-28T01:00:00Z") // 03:00 CEST
        );
    }

    #[test]
    fn settings_without_a_day_or_window_are_refused() {
        let mut p = Pacing::DEFAULT;
        assert_eq!(validate(&p), Ok(()));
        p.send_days = 0;
        assert_eq!(validate(&p), Err(PacingError::NoSendingDay));
        p = Pacing {
            window_end_minute: 9 * 60,
            ..Pacing::DEFAULT
        };
        assert_eq!(validate(&p), Err(PacingError::EmptyWindow));
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(parse_time_zone("Europe/Berlin"), Ok(Berlin));
        assert!(parse_time_zone("Mars/Olympus")
            .unwrap_err()
            .contains("not a known time zone"));
    }
}
