//! Plan changes and the subscription lifecycle as pure decisions (docs/product.md, "Limits"): what a requested
//! plan change does, which transition a subscription is due for at a given instant, how periods
//! roll over, and what a downgrade would leave over its target's limits. No I/O here.
use chrono::{DateTime, Months, Utc};

use super::plans::{LimitKind, Limits, Plan};
use super::subscription::{grace_end, Status};

/// How often a subscription is billed. Stored as `month` / `year`; forms say `monthly` / `yearly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interval {
    Monthly,
    Yearly,
}

impl Interval {
    pub const ALL: [Interval; 2] = [Interval::Monthly, Interval::Yearly];

    /// The database value (`subscriptions.billing_interval`).
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Monthly => "month",
            Interval::Yearly => "year",
        }
    }

    /// The form value (the billing toggle's radios).
    pub fn form_value(self) -> &'static str {
        match self {
            Interval::Monthly => "monthly",
            Interval::Yearly => "yearly",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Interval::Monthly => "Monthly",
            Interval::Yearly => "Yearly",
        }
    }

    /// Parses the form value exactly.
    pub fn from_form(s: &str) -> Option<Interval> {
        Interval::ALL.into_iter().find(|i| i.form_value() == s)
    }

    /// The price of `plan` for one period of this interval, in euro cents.
    pub fn price_cents(self, plan: Plan) -> i64 {
        match self {
            Interval::Monthly => plan.spec().monthly_cents,
            Interval::Yearly => plan.spec().yearly_cents,
        }
    }

    /// The end of a period of this interval starting at `start` (month ends are clamped:
    /// 31 January + 1 month = 28/29 February).
    pub fn period_end(self, start: DateTime<Utc>) -> DateTime<Utc> {
        let months = match self {
            Interval::Monthly => Months::new(1),
            Interval::Yearly => Months::new(12),
        };
        start.checked_add_months(months).unwrap_or(start)
    }
}

super::canonical_str!(Interval, "billing interval");

/// What a requested plan change does (the owner's request on `/plans`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeDecision {
    /// Applies at once; `payment` says whether checkout must collect a payment first.
    ApplyNow { payment: bool },
    /// A downgrade: shown with its impact, then applied at the end of the current period.
    ScheduleAtPeriodEnd,
    /// Already the plan and interval in force.
    Unchanged,
}

/// The subscription as far as plan-change and lifecycle rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionState {
    pub plan: Plan,
    pub status: Status,
    pub interval: Interval,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub current_period_end: DateTime<Utc>,
    pub past_due_since: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub scheduled_plan: Option<Plan>,
    pub has_payment_method: bool,
}

impl SubscriptionState {
    /// True while the subscribed plan is the one in force (TRIAL, ACTIVE, PAST_DUE in grace).
    pub fn keeps_plan(&self, now: DateTime<Utc>) -> bool {
        match self.status {
            Status::Trial | Status::Active => true,
            Status::PastDue => super::subscription::in_grace(self.past_due_since, now),
            Status::Canceled | Status::Expired => false,
        }
    }
}

/// docs/product.md, "Limits": during the trial every change applies at once and costs nothing (the team tries what
/// it would buy; a downgrade is still confirmed first by the caller). A running subscription
/// upgrades at once with a payment and downgrades at the end of the period. A subscription that
/// no longer keeps its plan (canceled, expired, past grace) starts afresh at once.
pub fn decide_change(
    sub: &SubscriptionState,
    target: Plan,
    interval: Interval,
    now: DateTime<Utc>,
) -> ChangeDecision {
    if sub.status == Status::Trial {
        return if target == sub.plan && interval == sub.interval {
            ChangeDecision::Unchanged
        } else {
            ChangeDecision::ApplyNow { payment: false }
        };
    }
    if !sub.keeps_plan(now) {
        return ChangeDecision::ApplyNow {
            payment: target.is_paid(),
        };
    }
    match target.rank().cmp(&sub.plan.rank()) {
        std::cmp::Ordering::Greater => ChangeDecision::ApplyNow { payment: true },
        std::cmp::Ordering::Less => ChangeDecision::ScheduleAtPeriodEnd,
        std::cmp::Ordering::Equal if interval == sub.interval || !target.is_paid() => {
            ChangeDecision::Unchanged
        }
        // Same paid plan, other interval: a new period on the new interval starts now.
        std::cmp::Ordering::Equal => ChangeDecision::ApplyNow { payment: true },
    }
}

/// True when a change to `target` reduces what the organization may use (so its impact is shown
/// and confirmed first). During the trial this is the only thing that separates a downgrade.
pub fn is_downgrade(from: Plan, target: Plan) -> bool {
    target.rank() < from.rank()
}

/// The one step a subscription is due for at `now`, if any. The lifecycle job applies it, and
/// applies steps again until none is due (a long-missed period rolls over one period at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Trial over: ACTIVE (a first period starts at the trial end) or EXPIRED (paid plan, no
    /// payment method).
    TrialEnded { to: Status },
    /// PAST_DUE for the whole grace period: the subscription ends as EXPIRED (unpaid), like a
    /// trial that ended without payment. CANCELED is kept for the owner's own choice.
    GraceExpired,
    /// The owner canceled; the period is over.
    CanceledAtPeriodEnd,
    /// A scheduled downgrade takes effect and a new period starts on `to`.
    Downgraded { to: Plan },
    /// A new period starts on the same plan.
    Renewed,
}

impl Transition {
    /// The audit action written for this transition (actor "system").
    pub fn audit_action(self) -> &'static str {
        match self {
            Transition::TrialEnded { .. } => "subscription.trial_ended",
            Transition::GraceExpired => "subscription.grace_expired",
            Transition::CanceledAtPeriodEnd => "subscription.canceled",
            Transition::Downgraded { .. } => "subscription.downgraded",
            Transition::Renewed => "subscription.renewed",
        }
    }
}

/// Which transition is due at `now` (see `Transition`).
pub fn due_transition(sub: &SubscriptionState, now: DateTime<Utc>) -> Option<Transition> {
    match sub.status {
        Status::Trial => {
            let ends = sub.trial_ends_at?;
            (ends <= now).then(|| Transition::TrialEnded {
                to: super::subscription::status_after_trial(sub.plan, sub.has_payment_method),
            })
        }
        Status::PastDue => {
            let since = sub.past_due_since?;
            (grace_end(since) <= now).then_some(Transition::GraceExpired)
        }
        Status::Active if sub.current_period_end <= now => Some(if sub.cancel_at_period_end {
            Transition::CanceledAtPeriodEnd
        } else if let Some(to) = sub.scheduled_plan.filter(|p| *p != sub.plan) {
            Transition::Downgraded { to }
        } else {
            Transition::Renewed
        }),
        Status::Active | Status::Canceled | Status::Expired => None,
    }
}

/// One limit a downgrade would leave exceeded: `used` is above the target's `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Excess {
    pub kind: LimitKind,
    pub used: i64,
    pub limit: i64,
}

/// The limits that docs/product.md, "Limits" shows before a downgrade (members, templates, sequences, leads this
/// month — messages/day resets daily and is left out).
pub const DOWNGRADE_CHECKS: [LimitKind; 4] = [
    LimitKind::Users,
    LimitKind::Templates,
    LimitKind::Sequences,
    LimitKind::LeadsPerMonth,
];

/// What exceeds the `target` limits: exactly the checked kinds whose use is strictly above the
/// limit (being exactly at a limit exceeds nothing; unlimited never is exceeded).
pub fn downgrade_impact(used: &[(LimitKind, i64)], target: &Limits) -> Vec<Excess> {
    DOWNGRADE_CHECKS
        .iter()
        .filter_map(|kind| {
            let used = used.iter().find(|(k, _)| k == kind)?.1;
            let limit = target.get(*kind)?;
            (used > limit).then_some(Excess {
                kind: *kind,
                used,
                limit,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sub(plan: Plan, status: Status) -> SubscriptionState {
        SubscriptionState {
            plan,
            status,
            interval: Interval::Monthly,
            trial_ends_at: None,
            current_period_end: utc("2026-12-01T00:00:00Z"),
            past_due_since: None,
            cancel_at_period_end: false,
            scheduled_plan: None,
            has_payment_method: false,
        }
    }

    const NOW: &str = "2026-11-20T12:00:00Z";

    #[test]
    fn intervals() {
        assert_eq!(Interval::from_form("yearly"), Some(Interval::Yearly));
        assert_eq!(Interval::from_form("year"), None);
        assert_eq!("month".parse::<Interval>(), Ok(Interval::Monthly));
        assert_eq!(Interval::Yearly.price_cents(Plan::Starter), 49_000);
        assert_eq!(Interval::Monthly.price_cents(Plan::Professional), 14_900);
        let jan31 = utc("2026-01-31T10:00:00Z");
        assert_eq!(
            Interval::Monthly.period_end(jan31),
            utc("2026-02-28T10:00:00Z")
        );
        assert_eq!(
            Interval::Yearly.period_end(jan31),
            utc("2027-01-31T10:00:00Z")
        );
    }

    #[test]
    fn trial_changes_apply_at_once_without_payment() {
        let now = utc(NOW);
        let s = sub(Plan::Free, Status::Trial);
        let free = ChangeDecision::ApplyNow { payment: false };
        assert_eq!(
            decide_change(&s, Plan::Enterprise, Interval::Monthly, now),
            free
        );
        let pro = sub(Plan::Professional, Status::Trial);
        assert_eq!(
            decide_change(&pro, Plan::Starter, Interval::Monthly, now),
            free
        );
        assert_eq!(
            decide_change(&s, Plan::Free, Interval::Monthly, now),
            ChangeDecision::Unchanged
        );
    }

    #[test]
    fn active_upgrades_pay_and_downgrades_wait() {
        let now = utc(NOW);
        let s = sub(Plan::Starter, Status::Active);
        assert_eq!(
            decide_change(&s, Plan::Professional, Interval::Monthly, now),
            ChangeDecision::ApplyNow { payment: true }
        );
        assert_eq!(
            decide_change(&s, Plan::Free, Interval::Monthly, now),
            ChangeDecision::ScheduleAtPeriodEnd
        );
        assert_eq!(
            decide_change(&s, Plan::Starter, Interval::Monthly, now),
            ChangeDecision::Unchanged
        );
        assert_eq!(
            decide_change(&s, Plan::Starter, Interval::Yearly, now),
            ChangeDecision::ApplyNow { payment: true }
        );
        let free = sub(Plan::Free, Status::Active);
        assert_eq!(
            decide_change(&free, Plan::Free, Interval::Yearly, now),
            ChangeDecision::Unchanged
        );
    }

    #[test]
    fn ended_subscriptions_start_afresh() {
        let now = utc(NOW);
        for status in [Status::Canceled, Status::Expired] {
            let s = sub(Plan::Professional, status);
            assert_eq!(
                decide_change(&s, Plan::Starter, Interval::Monthly, now),
                ChangeDecision::ApplyNow { payment: true }
            );
            assert_eq!(
                decide_change(&s, Plan::Free, Interval::Monthly, now),
                ChangeDecision::ApplyNow { payment: false }
            );
        }
        let mut late = sub(Plan::Professional, Status::PastDue);
        late.past_due_since = Some(now - Duration::days(8));
        assert_eq!(
            decide_change(&late, Plan::Professional, Interval::Monthly, now),
            ChangeDecision::ApplyNow { payment: true }
        );
        late.past_due_since = Some(now - Duration::days(2));
        assert_eq!(
            decide_change(&late, Plan::Starter, Interval::Monthly, now),
            ChangeDecision::ScheduleAtPeriodEnd
        );
    }

    #[test]
    fn trial_end_transitions() {
        let now = utc(NOW);
        let mut s = sub(Plan::Starter, Status::Trial);
        s.trial_ends_at = Some(now + Duration::seconds(1));
        assert_eq!(due_transition(&s, now), None);
        s.trial_ends_at = Some(now);
        assert_eq!(
            due_transition(&s, now),
            Some(Transition::TrialEnded {
                to: Status::Expired
            })
        );
        s.has_payment_method = true;
        assert_eq!(
            due_transition(&s, now),
            Some(Transition::TrialEnded { to: Status::Active })
        );
        let mut free = sub(Plan::Free, Status::Trial);
        free.trial_ends_at = Some(now - Duration::days(1));
        assert_eq!(
            due_transition(&free, now),
            Some(Transition::TrialEnded { to: Status::Active })
        );
    }

    #[test]
    fn period_end_transitions() {
        let now = utc("2026-12-01T00:00:00Z");
        let mut s = sub(Plan::Professional, Status::Active);
        assert_eq!(
            due_transition(&s, now - Duration::seconds(1)),
            None,
            "not before the end"
        );
        assert_eq!(due_transition(&s, now), Some(Transition::Renewed));
        s.scheduled_plan = Some(Plan::Starter);
        assert_eq!(
            due_transition(&s, now),
            Some(Transition::Downgraded { to: Plan::Starter })
        );
        s.cancel_at_period_end = true;
        assert_eq!(
            due_transition(&s, now),
            Some(Transition::CanceledAtPeriodEnd)
        );
        for status in [Status::Canceled, Status::Expired] {
            assert_eq!(due_transition(&sub(Plan::Starter, status), now), None);
        }
    }

    #[test]
    fn grace_expiry() {
        let now = utc(NOW);
        let mut s = sub(Plan::Starter, Status::PastDue);
        s.past_due_since = Some(now - Duration::days(7) + Duration::seconds(1));
        assert_eq!(due_transition(&s, now), None);
        s.past_due_since = Some(now - Duration::days(7));
        assert_eq!(due_transition(&s, now), Some(Transition::GraceExpired));
        assert_eq!(
            Transition::GraceExpired.audit_action(),
            "subscription.grace_expired"
        );
    }

    #[test]
    fn impact_lists_exactly_what_exceeds() {
        let used = [
            (LimitKind::Users, 3),
            (LimitKind::Templates, 3),
            (LimitKind::Sequences, 2),
            (LimitKind::LeadsPerMonth, 51),
            (LimitKind::MessagesPerDay, 99),
        ];
        let free = Plan::Free.spec().limits;
        let got = downgrade_impact(&used, &free);
        let kinds: Vec<_> = got.iter().map(|e| (e.kind, e.used, e.limit)).collect();
        assert_eq!(
            kinds,
            [
                (LimitKind::Users, 3, 1),
                (LimitKind::Sequences, 2, 1),
                (LimitKind::LeadsPerMonth, 51, 50)
            ]
        );
        assert!(downgrade_impact(&used, &Plan::Starter.spec().limits).is_empty());
        assert!(downgrade_impact(&used, &Plan::Enterprise.spec().limits).is_empty());
    }
}
