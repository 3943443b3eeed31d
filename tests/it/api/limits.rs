//! The per-plan rate limit, counted in PostgreSQL: the 121st call of a
//! minute on PROFESSIONAL is refused with 429 and the right headers, two app
//! instances on one database share the count, and the next minute starts over.

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures_util::future::join_all;

use super::support::*;
use crate::common::TestApp;
use lead_dashboard::clock::Clock;

fn ten_past() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 10).unwrap()
}

#[actix_web::test]
async fn the_121st_call_in_a_minute_is_refused_across_two_instances() {
    let first = TestApp::pinned(ten_past()).await;
    let owner = first.signup("Olivia", "olivia@example.com").await;
    set_plan(&first, ORG, "PROFESSIONAL");
    owner.get("/settings/api-keys").await;
    let key = create_key(&owner, "Busy", "read").await;
    let url = first.db.url.clone();
    let second =
        TestApp::with_clock_and_config(Clock::fixed(ten_past()), |c| c.database_url = Some(url))
            .await;

    let r = call(&first, "GET", "/api/v1/organization", Some(&key), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("ratelimit-limit"), Some("120"));
    assert_eq!(r.header("ratelimit-remaining"), Some("119"));
    assert_eq!(r.header("ratelimit-reset"), Some("50"));
    let calls = (1..120).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        call(app, "GET", "/api/v1/organization", Some(&key), None)
    });
    let replies = join_all(calls).await;
    assert!(replies.iter().all(|r| r.status == 200), "120 calls fit");
    for app in [&first, &second] {
        let r = call(app, "GET", "/api/v1/leads", Some(&key), None).await;
        r.assert_problem(429, "over the rate limit");
        assert_eq!(r.header("retry-after"), Some("50"));
        assert_eq!(r.header("ratelimit-remaining"), Some("0"));
        assert_eq!(r.header("ratelimit-limit"), Some("120"));
    }
    assert_eq!(
        first.count("SELECT count(*) FROM usage_records WHERE kind = 'api_call'"),
        120,
        "refused calls are not metered"
    );

    for app in [&first, &second] {
        app.clock().set(ten_past() + Duration::seconds(50));
    }
    let r = call(&second, "GET", "/api/v1/organization", Some(&key), None).await;
    assert_eq!(r.status, 200, "a new minute starts over");
    assert_eq!(r.header("ratelimit-remaining"), Some("119"));
    assert_eq!(r.header("ratelimit-reset"), Some("60"));
}
