//! Bulk actions on the lead list: ticked rows or every lead matching the
//! filter (selected on the server), each change one transaction with one
//! audit entry, roles checked, other organizations' leads never touched,
//! a confirmation before deletes and "all matching" changes, large
//! selections as a background job with progress, and bulk enrolment under
//! the daily message limit.

use chrono::{Duration, TimeZone, Utc};
use lead_dashboard::db::SystemAccess;
use lead_dashboard::jobs::sequences::run_due;
use uuid::Uuid;

use crate::common::{Client, TestApp};
use crate::workspace_support::*;

/// Posts the bulk form as `c`: the action, the scope, the ticked ids and
/// any extra fields.
async fn bulk(
    c: &Client,
    action: &str,
    picked: &[Uuid],
    extra: &[(&str, &str)],
) -> crate::common::Resp {
    let ids: Vec<String> = picked.iter().map(Uuid::to_string).collect();
    let mut form: Vec<(&str, &str)> = vec![("action", action)];
    if !extra.iter().any(|(k, _)| *k == "scope") {
        form.push(("scope", "picked"));
    }
    form.extend(ids.iter().map(|id| ("lead_id", id.as_str())));
    form.extend_from_slice(extra);
    c.post("/leads/bulk", &form).await
}

fn leads(app: &TestApp, n: usize) -> Vec<Uuid> {
    (0..n)
        .map(|i| {
            insert_lead(
                app,
                OWNER_SLUG,
                &format!("L{i}"),
                &format!("l{i}@x.example"),
            )
        })
        .collect()
}

fn audit_count(app: &TestApp, action: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM audit_events WHERE action = '{action}'"
    ))
}

/// Everything a bulk change could touch, to prove a refusal changed nothing.
fn fingerprint(app: &TestApp) -> String {
    crate::team::support::text(
        app,
        "SELECT coalesce(string_agg(id::text || status || array_to_string(tags, ',') || \
         coalesce(owner_user_id::text, '-'), ';' ORDER BY id), '') || \
         (SELECT count(*) FROM audit_events)::text || \
         (SELECT count(*) FROM sequence_enrollments)::text FROM leads",
    )
}

#[actix_web::test]
async fn ticked_leads_change_in_one_audited_step() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let ids = leads(&app, 3);
    let r = bulk(&c, "status:qualified", &ids[..2], &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = c.get(r.location().unwrap()).await;
    assert!(
        page.body.contains("Status set to Qualified on 2 leads."),
        "{}",
        page.body
    );
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE status = 'qualified'"),
        2
    );
    assert_eq!(audit_count(&app, "lead.bulk_status_changed"), 1);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = 'lead.bulk_status_changed' \
                   AND after->>'selected' = '2' AND after->>'changed' = '2'"
        ),
        1
    );

    // Again with all three: only the third changes, and the flash says why.
    let r = bulk(&c, "status:qualified", &ids, &[]).await;
    let page = c.get(r.location().unwrap()).await;
    assert!(
        page.body.contains("on 1 lead. 2 leads already had it."),
        "{}",
        page.body
    );

    // Tags: added once, never twice, then removed.
    for _ in 0..2 {
        let r = bulk(&c, "tag_add", &ids, &[("bulk_tag", "vip")]).await;
        assert_eq!(r.status, 303);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE tags = ARRAY['vip']::text[]"),
        3
    );
    bulk(&c, "tag_remove", &ids[..1], &[("bulk_tag", "vip")]).await;
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE 'vip' = ANY(tags)"),
        2
    );

    // Owner: a member, or nobody.
    let owen = crate::team::support::user_id(&app, "owen@example.com").to_string();
    bulk(&c, &format!("owner:{owen}"), &ids, &[]).await;
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE owner_user_id IS NOT NULL"),
        3
    );
    bulk(&c, "owner:none", &ids[..1], &[]).await;
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE owner_user_id IS NULL"),
        1
    );

    // The ticked rows as CSV, newest first, with the header.
    let r = bulk(&c, "export", &ids[..2], &[]).await;
    assert_eq!(r.status, 200);
    assert!(r
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(r.body.lines().count(), 3, "{}", r.body);
    assert!(r.body.contains("l0@x.example") && r.body.contains("l1@x.example"));
    assert!(!r.body.contains("l2@x.example"));
}

#[actix_web::test]
async fn bad_input_gets_a_clear_message_and_changes_nothing() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let ids = leads(&app, 2);
    let stranger = app.signup("Sam", "sam@example.com").await;
    drop(stranger);
    let sam = crate::team::support::user_id(&app, "sam@example.com").to_string();
    let before = fingerprint(&app);
    for (action, picked, extra, message) in [
        ("", &ids[..], vec![], "Choose what to do"),
        ("status:won", &ids[..], vec![], "Choose a status"),
        ("tag_add", &ids[..], vec![("bulk_tag", " ")], "Type the tag"),
        ("status:lost", &[][..], vec![], "Tick at least one lead"),
        (
            &format!("owner:{sam}")[..],
            &ids[..],
            vec![],
            "member of this organization",
        ),
    ] {
        let r = bulk(&c, action, picked, &extra).await;
        assert_eq!(r.status, 400, "{action}: {}", r.body);
        assert!(r.body.contains(message), "{action}: {}", r.body);
    }
    assert_eq!(fingerprint(&app), before);
}

#[actix_web::test]
async fn all_matching_is_selected_on_the_server_and_confirmed_with_its_count() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let ids = leads(&app, 5);
    exec(
        &app,
        &format!(
            "UPDATE leads SET tags = ARRAY['vip'] WHERE id IN ('{}', '{}', '{}')",
            ids[0], ids[1], ids[2]
        ),
    );
    let filter = [("scope", "matching"), ("tag", "vip")];
    let r = bulk(&c, "delete", &[], &filter).await;
    assert_eq!(r.status, 200, "a confirmation first");
    assert!(r.body.contains("Delete 3 leads?"), "{}", r.body);
    assert!(r.body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(
        app.count("SELECT count(*) FROM leads"),
        5,
        "nothing deleted yet"
    );

    let mut confirmed = filter.to_vec();
    confirmed.push(("confirm", "yes"));
    let r = bulk(&c, "delete", &[], &confirmed).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location().unwrap().contains("tag=vip"),
        "back to the same filter"
    );
    assert_eq!(app.count("SELECT count(*) FROM leads"), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE 'vip' = ANY(tags)"),
        0
    );
    assert_eq!(audit_count(&app, "lead.bulk_deleted"), 1);
    assert_eq!(
        audit_count(&app, "lead.deleted"),
        0,
        "one entry, not one a lead"
    );

    // Ticked rows are deleted only after a confirmation too.
    let r = bulk(&c, "delete", &ids[3..4], &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Delete 1 lead?"));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 2);
}

#[actix_web::test]
async fn another_organizations_leads_are_never_selected() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let mine = leads(&app, 1);
    let other = app.signup("Otto", "otto@example.com").await;
    drop(other);
    let theirs = insert_lead(&app, "otto-s-organization", "T", "t@other.example");
    let r = bulk(&c, "status:lost", &[mine[0], theirs], &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM leads WHERE id = '{theirs}' AND status = 'new'"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM leads WHERE id = '{}' AND status = 'lost'",
            mine[0]
        )),
        1
    );
    // "All matching" reaches only the current organization's leads.
    let r = bulk(
        &c,
        "tag_add",
        &[],
        &[("scope", "matching"), ("bulk_tag", "x"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE 'x' = ANY(tags)"),
        1
    );
    // Only theirs ticked: nothing of ours matches, nothing changes.
    let r = bulk(&c, "delete", &[theirs], &[("confirm", "yes")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(app.count("SELECT count(*) FROM leads"), 2);
}

#[actix_web::test]
async fn roles_decide_which_bulk_actions_are_allowed() {
    let app = TestApp::new().await;
    let _owner = owner(&app).await;
    let ids = leads(&app, 2);
    for (who, c, may) in role_matrix(&app, 0).await {
        let before = fingerprint(&app);
        let r = bulk(&c, "status:contacted", &ids, &[]).await;
        if may {
            assert_eq!(r.status, 303, "{who}");
            exec(&app, "UPDATE leads SET status = 'new'");
        } else {
            assert_eq!(r.status, 403, "{who}");
            assert_eq!(fingerprint(&app), before, "{who}");
        }
        // Everyone who can read the list can export what they ticked.
        assert_eq!(bulk(&c, "export", &ids, &[]).await.status, 200, "{who}");
    }
}

#[actix_web::test]
async fn bulk_enrolment_needs_send_rights_and_waits_for_the_daily_limit() {
    let app = TestApp::pinned(Utc.with_ymd_and_hms(2031, 1, 15, 9, 0, 0).unwrap()).await;
    let c = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "STARTER");
    let r = c.post("/sequences", &[("name", "Outbound")]).await;
    assert_eq!(r.status, 303);
    let seq = crate::team::support::text(
        &app,
        "SELECT id::text FROM sequences WHERE name = 'Outbound'",
    );
    let r = c
        .post(
            &format!("/sequences/{seq}/steps"),
            &[("template_id", GLOBAL_INTRO), ("delay_days", "0")],
        )
        .await;
    assert_eq!(r.status, 303);
    let ids = leads(&app, 3);
    let action = format!("enrol:{seq}");

    let no_send = member(&app, OWNER_SLUG, "Nia", "MEMBER", [true, false, true]).await;
    assert_eq!(bulk(&no_send, &action, &ids, &[]).await.status, 403);
    assert_eq!(app.count("SELECT count(*) FROM sequence_enrollments"), 0);

    override_limit(&app, OWNER_SLUG, "messages_per_day", 2);
    let r = bulk(
        &c,
        &action,
        &[],
        &[("scope", "matching"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(app.count("SELECT count(*) FROM sequence_enrollments"), 3);
    assert_eq!(audit_count(&app, "lead.bulk_enrolled"), 1);
    exec(
        &app,
        "UPDATE sequence_enrollments SET next_run_at = '2031-01-15 09:00:00+00'",
    );
    let now = Utc.with_ymd_and_hms(2031, 1, 15, 10, 0, 0).unwrap();
    run_due(&mut app.conn(), &SystemAccess::grant_at_startup(), now).unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM messages"),
        2,
        "the daily limit holds"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE next_step = 1 AND next_run_at > '2031-01-15 10:00:00+00'"),
        1,
        "the third waits for the next day"
    );
    run_due(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        now + Duration::days(1),
    )
    .unwrap();
    assert_eq!(app.count("SELECT count(*) FROM messages"), 3);
}

fn run_bulk_job(app: &TestApp) -> usize {
    lead_dashboard::jobs::lead_bulk::run(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        &app.state.config,
        app.now(),
    )
    .expect("bulk job")
}

#[actix_web::test]
async fn a_large_selection_runs_as_a_job_with_progress() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    exec(
        &app,
        "INSERT INTO leads (organization_id, id, first_name, email, created_at, updated_at) \
         SELECT o.id, gen_random_uuid(), 'L', 'bulk' || i || '@x.example', now() - i * interval '1 second', now() \
         FROM organizations o, generate_series(1, 2500) i WHERE o.slug = 'owen-s-organization'",
    );
    let r = bulk(
        &c,
        "tag_add",
        &[],
        &[
            ("scope", "matching"),
            ("bulk_tag", "big"),
            ("confirm", "yes"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let progress = r.location().unwrap().to_string();
    assert!(progress.starts_with("/leads/bulk/"), "{progress}");
    let page = c.get(&progress).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("0 of 2500 done"), "{}", page.body);
    assert!(
        page.body.contains("hx-trigger=\"every 2s\""),
        "polls while it runs"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE 'big' = ANY(tags)"),
        0,
        "not in the request"
    );

    // Another organization's member cannot see it.
    let otto = app.signup("Otto", "otto@example.com").await;
    assert_eq!(otto.get(&progress).await.status, 404);

    assert_eq!(run_bulk_job(&app), 2500);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE 'big' = ANY(tags)"),
        2500
    );
    assert_eq!(audit_count(&app, "lead.bulk_tag_added"), 1);
    let page = c.get_htmx(&progress).await;
    assert!(page.body.contains("2500 of 2500 done"), "{}", page.body);
    assert!(
        page.body.contains("Finished: 2500 leads changed."),
        "{}",
        page.body
    );
    assert!(!page.body.contains("every 2s"), "stops polling when done");
    assert_eq!(run_bulk_job(&app), 0, "nothing left to do");
}

#[actix_web::test]
async fn a_job_stops_when_its_member_lost_the_right() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let admin = member(&app, OWNER_SLUG, "Ada", "ADMIN", [true; 3]).await;
    drop(c);
    exec(
        &app,
        "INSERT INTO leads (organization_id, id, first_name, email) \
         SELECT o.id, gen_random_uuid(), 'L', 'b' || i || '@x.example' \
         FROM organizations o, generate_series(1, 1001) i WHERE o.slug = 'owen-s-organization'",
    );
    let r = bulk(
        &admin,
        "status:lost",
        &[],
        &[("scope", "matching"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status, 303);
    let progress = r.location().unwrap().to_string();
    exec(&app, "UPDATE organization_members SET role = 'VIEWER' WHERE user_id = (SELECT id FROM users WHERE email = 'ada@example.com')");
    assert_eq!(run_bulk_job(&app), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE status = 'lost'"),
        0
    );
    let page = admin.get(&progress).await;
    assert!(
        page.body.contains("may no longer make this change"),
        "{}",
        page.body
    );
}
