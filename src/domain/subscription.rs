//! Subscription lifecycle (docs/product.md, "Limits"): statuses, trial, grace period, effective plan, and the
//! local "today" / "this month" of an organization's time zone for usage counters.
//! All instants are UTC; local dates only come out of `day_start` / `month_start`.
use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::plans::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Trial,
    Active,
    PastDue,
    Canceled,
    Expired,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Trial,
        Status::Active,
        Status::PastDue,
        Status::Canceled,
        Status::Expired,
    ];

    /// The database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Trial => "TRIAL",
            Status::Active => "ACTIVE",
            Status::PastDue => "PAST_DUE",
            Status::Canceled => "CANCELED",
            Status::Expired => "EXPIRED",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Trial => "Trial",
            Status::Active => "Active",
            Status::PastDue => "Past due",
            Status::Canceled => "Canceled",
            Status::Expired => "Expired",
        }
    }
}

super::canonical_str!(Status, "subscription status");

pub const TRIAL_DAYS: i64 = 14;
pub const GRACE_DAYS: i64 = 7;

/// When a trial started at `start` ends.
pub fn trial_end(start: DateTime<Utc>) -> DateTime<Utc> {
    start + Duration::days(TRIAL_DAYS)
}

/// Whole days left in the trial, rounded **up**: 14 right after signup, 1 during its last 24
/// hours, 0 from the moment it ends (and when there is no trial). Never negative.
pub fn trial_days_left(trial_ends_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    let Some(ends) = trial_ends_at else {
        return 0;
    };
    let secs = (ends - now).num_seconds();
    if secs <= 0 {
        0
    } else {
        (secs + 86_399) / 86_400
    }
}

/// When the grace period of a subscription past due since `since` ends.
pub fn grace_end(since: DateTime<Utc>) -> DateTime<Utc> {
    since + Duration::days(GRACE_DAYS)
}

/// True while a PAST_DUE subscription keeps its plan: less than `GRACE_DAYS` since it fell due.
/// Without a recorded `since` it is taken as having just started (conservative: the customer
/// keeps what they pay for until the date is known).
pub fn in_grace(past_due_since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    past_due_since.is_none_or(|since| now < grace_end(since))
}

/// The plan whose limits and features apply: the subscribed `plan` while TRIAL, ACTIVE or
/// PAST_DUE within grace; FREE otherwise.
pub fn effective_plan(
    plan: Plan,
    status: Status,
    past_due_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Plan {
    let keeps_plan = match status {
        Status::Trial | Status::Active => true,
        Status::PastDue => in_grace(past_due_since, now),
        Status::Canceled | Status::Expired => false,
    };
    if keeps_plan {
        plan
    } else {
        Plan::Free
    }
}

/// Status once the trial is over: FREE needs no payment; a paid plan needs a payment method.
pub fn status_after_trial(plan: Plan, has_payment_method: bool) -> Status {
    if !plan.is_paid() || has_payment_method {
        Status::Active
    } else {
        Status::Expired
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlanChange {
    /// Applies at once.
    Upgrade,
    /// Takes effect at the end of the period, after showing what exceeds the target.
    Downgrade,
    Same,
}

pub fn change_kind(from: Plan, to: Plan) -> PlanChange {
    match to.rank().cmp(&from.rank()) {
        std::cmp::Ordering::Greater => PlanChange::Upgrade,
        std::cmp::Ordering::Less => PlanChange::Downgrade,
        std::cmp::Ordering::Equal => PlanChange::Same,
    }
}

/// The local date at `now` in `tz`: the key of the "today" (messages/day) counter.
pub fn day_start(tz: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// The first day of the local month at `now` in `tz`: the key of the "this month" counter.
pub fn month_start(tz: Tz, now: DateTime<Utc>) -> NaiveDate {
    let today = day_start(tz, now);
    today - Days::new(u64::from(today.day0()))
}

/// The first instant of local `date` in `tz`, as UTC: local midnight, or the first valid local
/// time when a DST jump skips midnight, or the earlier one when midnight occurs twice.
pub fn local_date_start_utc(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    // Zone offsets change by at most a few hours, so a valid time follows within a day.
    (0..=24 * 4)
        .map(|quarter| midnight + Duration::minutes(15 * quarter))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// An IANA time zone name such as "Europe/Berlin" (surrounding spaces ignored, case exact).
pub fn parse_tz(s: &str) -> Option<Tz> {
    s.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    const AUCKLAND: Tz = chrono_tz::Pacific::Auckland;
    const LOS_ANGELES: Tz = chrono_tz::America::Los_Angeles;

    #[test]
    fn status_strings_round_trip_exactly() {
        for s in Status::ALL {
            assert_eq!(Status::from_str(s.as_str()), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(Status::PastDue.as_str(), "PAST_DUE");
        assert_eq!(Status::PastDue.label(), "Past due");
        assert!(Status::from_str("past_due").is_err());
    }

    #[test]
    fn status_serde_uses_database_strings() {
        use serde::de::{value::StrDeserializer, IntoDeserializer};
        let de: StrDeserializer<'_, serde::de::value::Error> = "PAST_DUE".into_deserializer();
        assert_eq!(Status::deserialize(de), Ok(Status::PastDue));
    }

    #[test]
    fn trial_just_created_shows_fourteen_days() {
        let now = utc("2026-03-10T09:30:00Z");
        assert_eq!(trial_days_left(Some(trial_end(now)), now), 14);
        let later = now + Duration::hours(22);
        assert_eq!(trial_days_left(Some(trial_end(now)), later), 14);
        let day_later = now + Duration::days(1) + Duration::seconds(1);
        assert_eq!(trial_days_left(Some(trial_end(now)), day_later), 13);
    }

    #[test]
    fn trial_last_day_and_after_end() {
        let end = utc("2026-03-24T09:30:00Z");
        assert_eq!(trial_days_left(Some(end), end - Duration::seconds(1)), 1);
        assert_eq!(trial_days_left(Some(end), end), 0);
        assert_eq!(trial_days_left(Some(end), end + Duration::days(30)), 0);
        assert_eq!(trial_days_left(None, end), 0);
    }

    #[test]
    fn effective_plan_for_every_status() {
        let now = utc("2026-05-01T12:00:00Z");
        let p = Plan::Professional;
        assert_eq!(effective_plan(p, Status::Trial, None, now), p);
        assert_eq!(effective_plan(p, Status::Active, None, now), p);
        assert_eq!(effective_plan(p, Status::Canceled, None, now), Plan::Free);
        assert_eq!(effective_plan(p, Status::Expired, None, now), Plan::Free);
        assert_eq!(
            effective_plan(Plan::Free, Status::Active, None, now),
            Plan::Free
        );
    }

    #[test]
    fn past_due_keeps_plan_only_during_grace() {
        let now = utc("2026-05-10T12:00:00Z");
        let p = Plan::Starter;
        let ago = |d: i64| Some(now - Duration::days(d));
        assert_eq!(effective_plan(p, Status::PastDue, ago(6), now), p);
        assert_eq!(effective_plan(p, Status::PastDue, ago(8), now), Plan::Free);
        let just_in = Some(now - Duration::days(7) + Duration::seconds(1));
        assert_eq!(effective_plan(p, Status::PastDue, just_in, now), p);
        assert_eq!(effective_plan(p, Status::PastDue, ago(7), now), Plan::Free);
        assert_eq!(effective_plan(p, Status::PastDue, None, now), p);
    }

    #[test]
    fn trial_end_needs_payment_only_for_paid_plans() {
        assert_eq!(status_after_trial(Plan::Free, false), Status::Active);
        assert_eq!(status_after_trial(Plan::Free, true), Status::Active);
        for plan in [Plan::Starter, Plan::Professional, Plan::Enterprise] {
            assert_eq!(status_after_trial(plan, true), Status::Active);
            assert_eq!(status_after_trial(plan, false), Status::Expired);
        }
    }

    #[test]
    fn plan_change_direction() {
        assert_eq!(change_kind(Plan::Free, Plan::Starter), PlanChange::Upgrade);
        assert_eq!(
            change_kind(Plan::Starter, Plan::Enterprise),
            PlanChange::Upgrade
        );
        assert_eq!(
            change_kind(Plan::Enterprise, Plan::Free),
            PlanChange::Downgrade
        );
        assert_eq!(
            change_kind(Plan::Professional, Plan::Starter),
            PlanChange::Downgrade
        );
        assert_eq!(change_kind(Plan::Starter, Plan::Starter), PlanChange::Same);
    }

    #[test]
    fn auckland_summer_new_year() {
        // NZDT is UTC+13: local 2026-01-01 00:00 is 2025-12-31 11:00 UTC.
        let before = utc("2025-12-31T10:59:59Z");
        let after = utc("2025-12-31T11:00:00Z");
        assert_eq!(day_start(AUCKLAND, before), date(2025, 12, 31));
        assert_eq!(month_start(AUCKLAND, before), date(2025, 12, 1));
        assert_eq!(day_start(AUCKLAND, after), date(2026, 1, 1));
        assert_eq!(month_start(AUCKLAND, after), date(2026, 1, 1));
        assert_eq!(local_date_start_utc(AUCKLAND, date(2026, 1, 1)), after);
    }

    #[test]
    fn auckland_winter_month_start() {
        // NZST is UTC+12: local 2026-06-01 00:00 is 2026-05-31 12:00 UTC.
        let before = utc("2026-05-31T11:59:59Z");
        let after = utc("2026-05-31T12:00:00Z");
        assert_eq!(day_start(AUCKLAND, before), date(2026, 5, 31));
        assert_eq!(month_start(AUCKLAND, before), date(2026, 5, 1));
        assert_eq!(day_start(AUCKLAND, after), date(2026, 6, 1));
        assert_eq!(month_start(AUCKLAND, after), date(2026, 6, 1));
        // UTC still says May 31 for both.
        assert_eq!(day_start(Tz::UTC, after), date(2026, 5, 31));
    }

    #[test]
    fn los_angeles_winter_month_start() {
        // PST is UTC-8: local 2026-03-01 00:00 is 2026-03-01 08:00 UTC.
        let before = utc("2026-03-01T07:59:59Z");
        let after = utc("2026-03-01T08:00:00Z");
        assert_eq!(day_start(LOS_ANGELES, before), date(2026, 2, 28));
        assert_eq!(month_start(LOS_ANGELES, before), date(2026, 2, 1));
        assert_eq!(day_start(LOS_ANGELES, after), date(2026, 3, 1));
        assert_eq!(month_start(LOS_ANGELES, after), date(2026, 3, 1));
        assert_eq!(local_date_start_utc(LOS_ANGELES, date(2026, 3, 1)), after);
    }

    #[test]
    fn los_angeles_summer_midnight() {
        // PDT is UTC-7: local 2026-07-15 00:00 is 2026-07-15 07:00 UTC.
        let before = utc("2026-07-15T06:59:59Z");
        let after = utc("2026-07-15T07:00:00Z");
        assert_eq!(day_start(LOS_ANGELES, before), date(2026, 7, 14));
        assert_eq!(day_start(LOS_ANGELES, after), date(2026, 7, 15));
        assert_eq!(month_start(LOS_ANGELES, after), date(2026, 7, 1));
    }

    #[test]
    fn day_start_when_dst_skips_midnight() {
        // Chile springs forward at local 00:00 on 2026-09-06 (-04 → -03): the day starts 01:00.
        let santiago = chrono_tz::America::Santiago;
        let start = local_date_start_utc(santiago, date(2026, 9, 6));
        assert_eq!(start, utc("2026-09-06T04:00:00Z"));
        assert_eq!(day_start(santiago, start), date(2026, 9, 6));
        assert_eq!(
            day_start(santiago, start - Duration::seconds(1)),
            date(2026, 9, 5)
        );
    }

    #[test]
    fn time_zone_names() {
        assert_eq!(parse_tz("Pacific/Auckland"), Some(AUCKLAND));
        assert_eq!(parse_tz(" America/Los_Angeles "), Some(LOS_ANGELES));
        assert_eq!(parse_tz("UTC"), Some(Tz::UTC));
        assert_eq!(parse_tz("Mars/Olympus"), None);
        assert_eq!(parse_tz(""), None);
    }
}
