//! The plan catalogue (docs/product.md, "Plans") and how usage compares to a limit.
//! `CATALOGUE` is the one place holding prices, limits and features; a limit of `None` means
//! unlimited. Per-organization overrides are applied on top with `Limits::set`.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Plan {
    Free,
    Starter,
    Professional,
    Enterprise,
}

impl Plan {
    /// API calls a minute the plan's keys may make (docs/product.md, "API"); `None` for
    /// plans without API access.
    pub fn api_calls_per_minute(self) -> Option<i64> {
        match self {
            Plan::Professional => Some(120),
            Plan::Enterprise => Some(1_200),
            Plan::Free | Plan::Starter => None,
        }
    }

    /// In rank order, cheapest first.
    pub const ALL: [Plan; 4] = [
        Plan::Free,
        Plan::Starter,
        Plan::Professional,
        Plan::Enterprise,
    ];

    /// The database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "FREE",
            Plan::Starter => "STARTER",
            Plan::Professional => "PROFESSIONAL",
            Plan::Enterprise => "ENTERPRISE",
        }
    }

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Plan::Free => "Free",
            Plan::Starter => "Starter",
            Plan::Professional => "Professional",
            Plan::Enterprise => "Enterprise",
        }
    }

    /// 0 (Free) ..= 3 (Enterprise); a higher rank is an upgrade.
    pub fn rank(self) -> u8 {
        match self {
            Plan::Free => 0,
            Plan::Starter => 1,
            Plan::Professional => 2,
            Plan::Enterprise => 3,
        }
    }

    pub fn is_paid(self) -> bool {
        self != Plan::Free
    }

    pub fn spec(self) -> &'static PlanSpec {
        &CATALOGUE[usize::from(self.rank())]
    }

    /// The catalogue limit, without any per-organization override.
    pub fn limit(self, kind: LimitKind) -> Limit {
        self.spec().limits.get(kind)
    }
}

super::canonical_str!(Plan, "plan");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    LeadsPerMonth,
    Users,
    MessagesPerDay,
    Templates,
    Sequences,
}

impl LimitKind {
    pub const ALL: [LimitKind; 5] = [
        LimitKind::LeadsPerMonth,
        LimitKind::Users,
        LimitKind::MessagesPerDay,
        LimitKind::Templates,
        LimitKind::Sequences,
    ];

    /// The value used by the CLI and the overrides table.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::LeadsPerMonth => "leads_per_month",
            LimitKind::Users => "users",
            LimitKind::MessagesPerDay => "messages_per_day",
            LimitKind::Templates => "templates",
            LimitKind::Sequences => "sequences",
        }
    }

    /// Meter label.
    pub fn label(self) -> &'static str {
        match self {
            LimitKind::LeadsPerMonth => "Leads this month",
            LimitKind::Users => "Members",
            LimitKind::MessagesPerDay => "Messages today",
            LimitKind::Templates => "Templates",
            LimitKind::Sequences => "Sequences",
        }
    }
}

super::canonical_str!(LimitKind, "limit");

/// `None` = unlimited.
pub type Limit = Option<i64>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub leads_per_month: Limit,
    pub users: Limit,
    pub messages_per_day: Limit,
    pub templates: Limit,
    pub sequences: Limit,
}

impl Limits {
    pub fn get(&self, kind: LimitKind) -> Limit {
        *self.slot(kind)
    }

    /// Replaces one limit, e.g. to apply a negotiated override.
    pub fn set(&mut self, kind: LimitKind, limit: Limit) {
        *self.slot_mut(kind) = limit;
    }

    fn slot(&self, kind: LimitKind) -> &Limit {
        match kind {
            LimitKind::LeadsPerMonth => &self.leads_per_month,
            LimitKind::Users => &self.users,
            LimitKind::MessagesPerDay => &self.messages_per_day,
            LimitKind::Templates => &self.templates,
            LimitKind::Sequences => &self.sequences,
        }
    }

    fn slot_mut(&mut self, kind: LimitKind) -> &mut Limit {
        match kind {
            LimitKind::LeadsPerMonth => &mut self.leads_per_month,
            LimitKind::Users => &mut self.users,
            LimitKind::MessagesPerDay => &mut self.messages_per_day,
            LimitKind::Templates => &mut self.templates,
            LimitKind::Sequences => &mut self.sequences,
        }
    }
}

/// A plan feature, for `Features::has` checks in handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    ApiAccess,
    WhiteLabel,
    PrioritySupport,
    CustomIntegrations,
    AdvancedAnalytics,
    DedicatedAccountManager,
}

impl Feature {
    pub const ALL: [Feature; 6] = [
        Feature::ApiAccess,
        Feature::WhiteLabel,
        Feature::PrioritySupport,
        Feature::CustomIntegrations,
        Feature::AdvancedAnalytics,
        Feature::DedicatedAccountManager,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Feature::ApiAccess => "API access",
            Feature::WhiteLabel => "White label",
            Feature::PrioritySupport => "Priority support",
            Feature::CustomIntegrations => "Custom integrations (webhooks)",
            Feature::AdvancedAnalytics => "Advanced analytics",
            Feature::DedicatedAccountManager => "Dedicated account manager",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    pub api_access: bool,
    pub white_label: bool,
    pub priority_support: bool,
    pub custom_integrations: bool,
    pub advanced_analytics: bool,
    pub dedicated_account_manager: bool,
}

impl Features {
    pub fn has(&self, feature: Feature) -> bool {
        match feature {
            Feature::ApiAccess => self.api_access,
            Feature::WhiteLabel => self.white_label,
            Feature::PrioritySupport => self.priority_support,
            Feature::CustomIntegrations => self.custom_integrations,
            Feature::AdvancedAnalytics => self.advanced_analytics,
            Feature::DedicatedAccountManager => self.dedicated_account_manager,
        }
    }

    /// (label, included) in `Feature::ALL` order, for plan comparison tables.
    pub fn list(&self) -> [(&'static str, bool); 6] {
        Feature::ALL.map(|f| (f.label(), self.has(f)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanSpec {
    pub plan: Plan,
    /// Euro cents per month.
    pub monthly_cents: i64,
    /// Euro cents for a year paid at once.
    pub yearly_cents: i64,
    pub limits: Limits,
    pub features: Features,
}

const NO_FEATURES: Features = Features {
    api_access: false,
    white_label: false,
    priority_support: false,
    custom_integrations: false,
    advanced_analytics: false,
    dedicated_account_manager: false,
};

/// docs/product.md, "Plans", indexed by `Plan::rank`.
static CATALOGUE: [PlanSpec; 4] = [
    PlanSpec {
        plan: Plan::Free,
        monthly_cents: 0,
        yearly_cents: 0,
        limits: Limits {
            leads_per_month: Some(50),
            users: Some(1),
            messages_per_day: Some(10),
            templates: Some(3),
            sequences: Some(1),
        },
        features: NO_FEATURES,
    },
    PlanSpec {
        plan: Plan::Starter,
        monthly_cents: 4_900,
        yearly_cents: 49_000,
        limits: Limits {
            leads_per_month: Some(500),
            users: Some(3),
            messages_per_day: Some(100),
            templates: Some(10),
            sequences: Some(5),
        },
        features: Features {
            priority_support: true,
            advanced_analytics: true,
            ..NO_FEATURES
        },
    },
    PlanSpec {
        plan: Plan::Professional,
        monthly_cents: 14_900,
        yearly_cents: 149_000,
        limits: Limits {
            leads_per_month: Some(5_000),
            users: Some(10),
            messages_per_day: Some(500),
            templates: Some(50),
            sequences: Some(20),
        },
        features: Features {
            api_access: true,
            priority_support: true,
            custom_integrations: true,
            advanced_analytics: true,
            ..NO_FEATURES
        },
    },
    PlanSpec {
        plan: Plan::Enterprise,
        monthly_cents: 49_900,
        yearly_cents: 499_000,
        limits: Limits {
            leads_per_month: None,
            users: None,
            messages_per_day: None,
            templates: None,
            sequences: None,
        },
        features: Features {
            api_access: true,
            white_label: true,
            priority_support: true,
            custom_integrations: true,
            advanced_analytics: true,
            dedicated_account_manager: true,
        },
    },
];

/// Meter colour: amber from 80%, red from 100%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UsageLevel {
    Ok,
    Warning,
    Full,
}

impl UsageLevel {
    /// Lower-case name, usable as a CSS class.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageLevel::Ok => "ok",
            UsageLevel::Warning => "warning",
            UsageLevel::Full => "full",
        }
    }
}

/// Unlimited is always `Ok`. A limit of 0 (or below) is `Full` at once.
pub fn usage_level(used: i64, limit: Limit) -> UsageLevel {
    let Some(limit) = limit else {
        return UsageLevel::Ok;
    };
    // i128 so that huge counts cannot overflow the multiplication.
    let (used, limit) = (i128::from(used), i128::from(limit));
    if used >= limit {
        UsageLevel::Full
    } else if used * 100 >= limit * 80 {
        UsageLevel::Warning
    } else {
        UsageLevel::Ok
    }
}

/// Whole percent used, rounded down, within 0..=100; `None` when unlimited.
pub fn percent(used: i64, limit: Limit) -> Option<u8> {
    let limit = i128::from(limit?);
    if limit <= 0 {
        return Some(100);
    }
    let pct = (i128::from(used.max(0)) * 100 / limit).min(100);
    u8::try_from(pct).ok()
}

/// True when one more item fits: `used < limit`, or unlimited.
pub fn allows_one_more(used: i64, limit: Limit) -> bool {
    limit.is_none_or(|l| used < l)
}

/// The level newly reached by going from `before` to `after` uses (`Warning` or `Full`), for the
/// one-off 80% / 100% notices; `None` when the level did not rise.
pub fn threshold_crossed(before: i64, after: i64, limit: Limit) -> Option<UsageLevel> {
    let (old, new) = (usage_level(before, limit), usage_level(after, limit));
    (new > old).then_some(new)
}

/// "Unlimited" or the number with thousands separators ("5,000").
pub fn format_limit(limit: Limit) -> String {
    match limit {
        None => "Unlimited".to_owned(),
        Some(n) => group_thousands(n),
    }
}

/// Euro amount from cents: "€49", "€1,490", "€12.50".
pub fn format_euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let (euros, rest) = (cents.unsigned_abs() / 100, cents.unsigned_abs() % 100);
    let euros = group_thousands_u(euros);
    if rest == 0 {
        format!("{sign}€{euros}")
    } else {
        format!("{sign}€{euros}.{rest:02}")
    }
}

fn group_thousands(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_thousands_u(n.unsigned_abs()))
}

fn group_thousands_u(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn limits(spec: &PlanSpec) -> [Limit; 5] {
        LimitKind::ALL.map(|k| spec.limits.get(k))
    }

    #[test]
    fn free_figures() {
        let s = Plan::Free.spec();
        assert_eq!(
            (s.plan, s.monthly_cents, s.yearly_cents),
            (Plan::Free, 0, 0)
        );
        assert_eq!(limits(s), [Some(50), Some(1), Some(10), Some(3), Some(1)]);
        assert_eq!(s.features, NO_FEATURES);
    }

    #[test]
    fn starter_figures() {
        let s = Plan::Starter.spec();
        assert_eq!(
            (s.plan, s.monthly_cents, s.yearly_cents),
            (Plan::Starter, 4900, 49000)
        );
        assert_eq!(
            limits(s),
            [Some(500), Some(3), Some(100), Some(10), Some(5)]
        );
        let expected = [false, false, true, false, true, false];
        assert_eq!(s.features.list().map(|(_, on)| on), expected);
    }

    #[test]
    fn professional_figures() {
        let s = Plan::Professional.spec();
        assert_eq!(
            (s.plan, s.monthly_cents, s.yearly_cents),
            (Plan::Professional, 14900, 149000)
        );
        assert_eq!(
            limits(s),
            [Some(5000), Some(10), Some(500), Some(50), Some(20)]
        );
        let expected = [true, false, true, true, true, false];
        assert_eq!(s.features.list().map(|(_, on)| on), expected);
    }

    #[test]
    fn enterprise_figures() {
        let s = Plan::Enterprise.spec();
        assert_eq!(
            (s.plan, s.monthly_cents, s.yearly_cents),
            (Plan::Enterprise, 49900, 499000)
        );
        assert_eq!(limits(s), [None; 5]);
        assert!(Feature::ALL.iter().all(|f| s.features.has(*f)));
    }

    #[test]
    fn catalogue_is_indexed_by_rank() {
        for (i, plan) in Plan::ALL.iter().enumerate() {
            assert_eq!(usize::from(plan.rank()), i);
            assert_eq!(plan.spec().plan, *plan);
        }
        assert!(!Plan::Free.is_paid());
        assert!(Plan::Starter.is_paid());
    }

    #[test]
    fn plan_strings_round_trip_exactly() {
        for plan in Plan::ALL {
            assert_eq!(Plan::from_str(plan.as_str()), Ok(plan));
            assert_eq!(plan.to_string(), plan.as_str());
        }
        assert_eq!(Plan::Professional.as_str(), "PROFESSIONAL");
        assert_eq!(Plan::Professional.name(), "Professional");
        assert!(Plan::from_str("free").is_err());
        assert!(Plan::from_str(" FREE").is_err());
        assert_eq!(Plan::from_str("GOLD").unwrap_err().kind, "plan");
    }

    #[test]
    fn plan_serde_uses_database_strings() {
        use serde::de::{value::StrDeserializer, IntoDeserializer};
        let de: StrDeserializer<'_, serde::de::value::Error> = "ENTERPRISE".into_deserializer();
        assert_eq!(Plan::deserialize(de), Ok(Plan::Enterprise));
    }

    #[test]
    fn limit_kind_strings_round_trip_exactly() {
        for kind in LimitKind::ALL {
            assert_eq!(LimitKind::from_str(kind.as_str()), Ok(kind));
        }
        assert_eq!(LimitKind::MessagesPerDay.as_str(), "messages_per_day");
        assert_eq!(LimitKind::Users.label(), "Members");
        assert!(LimitKind::from_str("USERS").is_err());
    }

    #[test]
    fn override_replaces_one_limit() {
        let mut l = Plan::Starter.spec().limits;
        l.set(LimitKind::Users, Some(7));
        l.set(LimitKind::Templates, None);
        assert_eq!(l.get(LimitKind::Users), Some(7));
        assert_eq!(l.get(LimitKind::Templates), None);
        assert_eq!(l.get(LimitKind::Sequences), Some(5));
        assert_eq!(Plan::Starter.limit(LimitKind::Users), Some(3));
    }

    #[test]
    fn feature_labels() {
        let labels = NO_FEATURES.list().map(|(label, _)| label);
        assert_eq!(
            labels,
            [
                "API access",
                "White label",
                "Priority support",
                "Custom integrations (webhooks)",
                "Advanced analytics",
                "Dedicated account manager"
            ]
        );
    }

    #[test]
    fn usage_levels_at_thresholds() {
        let l = Some(100);
        assert_eq!(usage_level(79, l), UsageLevel::Ok);
        assert_eq!(usage_level(80, l), UsageLevel::Warning);
        assert_eq!(usage_level(99, l), UsageLevel::Warning);
        assert_eq!(usage_level(100, l), UsageLevel::Full);
        assert_eq!(usage_level(150, l), UsageLevel::Full);
        // 7/9 = 77.8%, 8/10 = 80%: no rounding up into amber.
        assert_eq!(usage_level(7, Some(9)), UsageLevel::Ok);
        assert_eq!(usage_level(8, Some(10)), UsageLevel::Warning);
        assert_eq!(usage_level(0, Some(0)), UsageLevel::Full);
        assert_eq!(usage_level(i64::MAX, None), UsageLevel::Ok);
        assert_eq!(
            usage_level(i64::MAX - 1, Some(i64::MAX)),
            UsageLevel::Warning
        );
    }

    #[test]
    fn percent_is_floored_and_capped() {
        assert_eq!(percent(79, Some(100)), Some(79));
        assert_eq!(percent(80, Some(100)), Some(80));
        assert_eq!(percent(99, Some(100)), Some(99));
        assert_eq!(percent(100, Some(100)), Some(100));
        assert_eq!(percent(250, Some(100)), Some(100));
        assert_eq!(percent(1, Some(3)), Some(33));
        assert_eq!(percent(-5, Some(10)), Some(0));
        assert_eq!(percent(0, Some(0)), Some(100));
        assert_eq!(percent(10, None), None);
    }

    #[test]
    fn one_more_fits_below_the_limit() {
        assert!(allows_one_more(49, Some(50)));
        assert!(!allows_one_more(50, Some(50)));
        assert!(!allows_one_more(60, Some(50)));
        assert!(!allows_one_more(0, Some(0)));
        assert!(allows_one_more(1_000_000, None));
    }

    #[test]
    fn thresholds_are_reported_once() {
        let l = Some(10);
        assert_eq!(threshold_crossed(7, 8, l), Some(UsageLevel::Warning));
        assert_eq!(threshold_crossed(8, 9, l), None);
        assert_eq!(threshold_crossed(9, 10, l), Some(UsageLevel::Full));
        assert_eq!(threshold_crossed(5, 12, l), Some(UsageLevel::Full));
        assert_eq!(threshold_crossed(10, 11, l), None);
        assert_eq!(threshold_crossed(0, 100, None), None);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_limit(None), "Unlimited");
        assert_eq!(format_limit(Some(5000)), "5,000");
        assert_eq!(format_limit(Some(50)), "50");
        assert_eq!(format_limit(Some(-1234567)), "-1,234,567");
        assert_eq!(format_euros(4900), "€49");
        assert_eq!(format_euros(149000), "€1,490");
        assert_eq!(format_euros(1250), "€12.50");
        assert_eq!(format_euros(0), "€0");
        assert_eq!(format_euros(-105), "-€1.05");
    }
}
