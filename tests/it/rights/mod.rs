//! Data rights and lawful outreach (docs/product.md, "Data rights"): unsubscribe links and the
//! suppression list. Shared setup: an organization whose owner has one lead
//! enrolled in the global three-step sequence.

mod forget;
mod reimport;
mod retention;
mod stop_on_reply;
mod suppression_list;
mod unsubscribe;

use chrono::{DateTime, Utc};
use lead_dashboard::db::SystemAccess;
use lead_dashboard::jobs::sequences::run_due;
use uuid::Uuid;

use crate::common::{Client, TestApp};
use crate::workspace_support::*;

/// The owner's client and a lead (anna@x.example) enrolled in the global
/// sequence, whose first step the worker has sent (queued in the outbox).
async fn enrolled_and_mailed(app: &TestApp) -> (Client, Uuid) {
    let c = owner(app).await;
    let lead = insert_lead(app, OWNER_SLUG, "Anna", "anna@x.example");
    let lead_s = lead.to_string();
    let r = c
        .post(
            "/sequences/enrol",
            &[("sequence_id", GLOBAL_SEQUENCE), ("lead_id", &lead_s)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(run_worker(app, app.now() + chrono::Duration::seconds(1)), 1);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
    (c, lead)
}

/// The global intro template sent to `lead` through the page.
async fn send_intro(c: &Client, lead: impl std::fmt::Display) -> crate::common::Resp {
    let lead = lead.to_string();
    c.post(
        "/messages",
        &[("lead_id", lead.as_str()), ("template_id", GLOBAL_INTRO)],
    )
    .await
}

fn run_worker(app: &TestApp, at: DateTime<Utc>) -> usize {
    run_due(&mut app.conn(), &SystemAccess::grant_at_startup(), at).unwrap()
}

/// The path `/u/{token}` of the newest queued message mail.
fn unsubscribe_path(app: &TestApp) -> String {
    let token = crate::common::uuid_of(
        &mut app.conn(),
        "SELECT id FROM mail_outbox WHERE kind = 'message' ORDER BY created_at DESC LIMIT 1",
    );
    let mut conn = app.conn();
    let token: String = diesel::RunQueryDsl::get_result::<TokenRow>(
        diesel::sql_query(format!(
            "SELECT unsubscribe_token AS t FROM mail_outbox WHERE id = '{token}'"
        )),
        &mut conn,
    )
    .unwrap()
    .t;
    format!("/u/{token}")
}

#[derive(diesel::QueryableByName)]
struct TokenRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}
