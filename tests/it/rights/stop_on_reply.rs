//! Stop on reply: a lead set to Replied or Lost leaves sequences that stop on
//! reply (on by default) at once, with the reason on the enrolment; with the
//! setting off it stays; the worker also stops one whose status changed by
//! any other path. The setting's route: bad input, roles, foreign ids.

use super::*;

/// Sets the lead's status through the lead form, as a member would.
async fn set_status(c: &Client, lead: Uuid, status: &str) {
    let r = c
        .post(
            &format!("/leads/{lead}"),
            &[
                ("first_name", "Anna"),
                ("email", "anna@x.example"),
                ("status", status),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}

/// An own copy of the global sequence; returns its id.
async fn own_sequence(app: &TestApp, c: &Client) -> Uuid {
    let r = c
        .post(&format!("/sequences/{GLOBAL_SEQUENCE}/copy"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let org = org_id(app, OWNER_SLUG);
    crate::common::uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM sequences WHERE owner_key = '{org}'"),
    )
}

#[actix_web::test]
async fn a_lead_set_to_replied_gets_no_further_steps() {
    let app = TestApp::new().await;
    let (c, lead) = enrolled_and_mailed(&app).await;
    set_status(&c, lead, "replied").await;
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'stopped' AND paused_reason = 'Stopped: the lead replied.' AND next_run_at IS NULL"),
        1
    );
    assert!(c
        .get(&format!("/leads/{lead}"))
        .await
        .body
        .contains("Stopped: the lead replied."));
    assert_eq!(run_worker(&app, app.now() + chrono::Duration::days(30)), 0);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
}

#[actix_web::test]
async fn with_stop_on_reply_off_a_lost_lead_stays_and_the_worker_stops_late_changes() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let seq = own_sequence(&app, &c).await;
    let page = c.get(&format!("/sequences/{seq}")).await;
    assert!(page.body.contains("Stop on reply") && page.body.contains("checked"));
    let r = c
        .post(&format!("/sequences/{seq}/stop-on-reply"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.count("SELECT count(*) FROM sequences WHERE stop_on_reply = false"),
        1
    );
    let lead = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    let (seq_s, lead_s) = (seq.to_string(), lead.to_string());
    let r = c
        .post(
            "/sequences/enrol",
            &[
                ("sequence_id", seq_s.as_str()),
                ("lead_id", lead_s.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    set_status(&c, lead, "lost").await;
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'active'"),
        1,
        "the setting is off: the lead stays"
    );
    assert_eq!(
        run_worker(&app, app.now() + chrono::Duration::seconds(1)),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);

    // Turned on again; the status was set without the form (another path):
    // the worker stops the enrolment before the next step.
    let r = c
        .post(
            &format!("/sequences/{seq}/stop-on-reply"),
            &[("stop_on_reply", "on")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(run_worker(&app, app.now() + chrono::Duration::days(4)), 1);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'stopped' AND paused_reason = 'Stopped: the lead was marked lost.'"),
        1
    );
}

#[actix_web::test]
async fn the_setting_refuses_bad_input_wrong_roles_globals_and_foreign_ids() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let seq = own_sequence(&app, &c).await;
    let path = format!("/sequences/{seq}/stop-on-reply");
    let r = c.post(&path, &[("stop_on_reply", "maybe")]).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Tick the box"), "{}", r.body);
    let r = c
        .post(&format!("/sequences/{GLOBAL_SEQUENCE}/stop-on-reply"), &[])
        .await;
    assert_eq!(r.status, 404, "global sequences are read-only");
    for (who, client, allowed) in role_matrix(&app, 2).await {
        let r = client.post(&path, &[]).await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who}");
    }
    let bea = app.signup("Bea", "bea@example.com").await;
    let r = bea.post(&path, &[("stop_on_reply", "on")]).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        app.count("SELECT count(*) FROM sequences WHERE stop_on_reply = false"),
        1,
        "only the allowed members changed it"
    );
}
