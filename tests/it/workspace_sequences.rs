//! Sequences: steps (add, reorder, remove; own or global templates only),
//! the sequences limit, enrolment, pause/resume, roles, other organizations'
//! ids, and the worker (each step once, also with two runners; a step over
//! the daily limit waits for the organization's next day).

use chrono::{Duration, TimeZone, Utc};
use lead_dashboard::db::SystemAccess;
use lead_dashboard::jobs::sequences::run_due;

use crate::common::{uuid_of, Client, TestApp};
use crate::workspace_support::*;

async fn new_sequence(app: &TestApp, c: &Client, name: &str) -> uuid::Uuid {
    let r = c.post("/sequences", &[("name", name)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM sequences WHERE name = '{name}'"),
    )
}

async fn add_step(c: &Client, seq: uuid::Uuid, template: &str, delay: &str) -> u16 {
    c.post(
        &format!("/sequences/{seq}/steps"),
        &[("template_id", template), ("delay_days", delay)],
    )
    .await
    .status
}

fn positions(app: &TestApp, seq: uuid::Uuid) -> Vec<String> {
    let mut out = Vec::new();
    for p in 1..=3 {
        let sql = format!(
            "SELECT count(*) FROM sequence_steps s JOIN message_templates t ON t.id = s.template_id \
             WHERE s.sequence_id = '{seq}' AND s.position = {p} AND t.name = '{{}}'"
        );
        for name in ["A", "B", "C"] {
            if app.count(&sql.replace("{}", name)) == 1 {
                out.push(name.to_string());
            }
        }
    }
    out
}

#[actix_web::test]
async fn steps_are_added_reordered_and_removed_in_order() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let seq = new_sequence(&app, &c, "Outbound").await;
    let ids: Vec<String> = ["A", "B", "C"]
        .iter()
        .map(|n| insert_template(&app, OWNER_SLUG, n).to_string())
        .collect();
    for id in &ids {
        assert_eq!(add_step(&c, seq, id, "2").await, 303);
    }
    assert_eq!(positions(&app, seq), ["A", "B", "C"]);
    let step = |name: &str| {
        uuid_of(&mut app.conn(), &format!(
            "SELECT s.id FROM sequence_steps s JOIN message_templates t ON t.id = s.template_id WHERE t.name = '{name}'"
        ))
    };
    let r = c.post_htmx(&format!("/steps/{}/up", step("C")), &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"steps\""), "the steps card is swapped");
    assert_eq!(positions(&app, seq), ["A", "C", "B"]);
    assert_eq!(
        c.post(&format!("/steps/{}/down", step("A")), &[])
            .await
            .status,
        303
    );
    assert_eq!(positions(&app, seq), ["C", "A", "B"]);
    assert_eq!(
        c.post(&format!("/steps/{}/delete", step("C")), &[])
            .await
            .status,
        303
    );
    assert_eq!(positions(&app, seq), ["A", "B"]);
    // A bad delay is a field error; nothing is added.
    let r = c
        .post_htmx(
            &format!("/sequences/{seq}/steps"),
            &[("template_id", &ids[0]), ("delay_days", "400")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("0 to 365"));
    // A global template may be used.
    assert_eq!(add_step(&c, seq, GLOBAL_INTRO, "0").await, 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sequence_steps WHERE sequence_id = '{seq}'"
        )),
        3
    );
}

#[actix_web::test]
async fn the_sequences_limit_counts_own_sequences_and_globals_are_read_only() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    new_sequence(&app, &c, "One").await;
    let r = c.post_htmx("/sequences", &[("name", "Two")]).await;
    assert_eq!(r.status, 402, "FREE allows one own sequence");
    assert!(r.body.contains("href=\"/plans\""));
    assert_eq!(
        c.post(&format!("/sequences/{GLOBAL_SEQUENCE}/copy"), &[])
            .await
            .status,
        402
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sequences WHERE organization_id IS NOT NULL"),
        1
    );
    set_plan(&app, OWNER_SLUG, "STARTER");
    assert_eq!(
        c.post(&format!("/sequences/{GLOBAL_SEQUENCE}/copy"), &[])
            .await
            .status,
        303
    );
    assert_eq!(app.count("SELECT count(*) FROM sequence_steps s JOIN sequences q ON q.id = s.sequence_id WHERE q.name = 'Classic three-touch (copy)'"), 3);
    // The global one cannot be changed.
    assert_eq!(
        c.post(
            &format!("/sequences/{GLOBAL_SEQUENCE}"),
            &[("name", "Mine")]
        )
        .await
        .status,
        404
    );
    assert_eq!(
        c.post(&format!("/sequences/{GLOBAL_SEQUENCE}/delete"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        add_step(&c, GLOBAL_SEQUENCE.parse().unwrap(), GLOBAL_INTRO, "1").await,
        404
    );
    let step = uuid_of(
        &mut app.conn(),
        "SELECT id FROM sequence_steps WHERE organization_id IS NULL AND position = 1",
    );
    assert_eq!(
        c.post(&format!("/steps/{step}/delete"), &[]).await.status,
        404
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_steps WHERE organization_id IS NULL"),
        3
    );
}

#[actix_web::test]
async fn another_organizations_sequence_step_template_and_enrolment_are_not_found() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let mine = new_sequence(&app, &c, "Mine").await;
    let bob = app.signup("Bob", "bob@example.com").await;
    app.verify_email("bob@example.com");
    let their_template = insert_template(&app, "bob-s-organization", "Bobs").to_string();
    let their_lead = insert_lead(&app, "bob-s-organization", "Zed", "zed@x.example");
    let theirs = {
        let r = bob.post("/sequences", &[("name", "Bobs flow")]).await;
        assert_eq!(r.status, 303);
        uuid_of(
            &mut app.conn(),
            "SELECT id FROM sequences WHERE name = 'Bobs flow'",
        )
    };
    assert_eq!(
        bob.post(
            &format!("/sequences/{theirs}/steps"),
            &[("template_id", &their_template), ("delay_days", "0")]
        )
        .await
        .status,
        303
    );
    let r = bob
        .post(
            "/sequences/enrol",
            &[
                ("sequence_id", &theirs.to_string()),
                ("lead_id", &their_lead.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    // A foreign template in my step: 404, nothing stored.
    assert_eq!(add_step(&c, mine, &their_template, "0").await, 404);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sequence_steps WHERE sequence_id = '{mine}'"
        )),
        0
    );
    assert_eq!(c.get(&format!("/sequences/{theirs}")).await.status, 404);
    assert_eq!(
        c.post(&format!("/sequences/{theirs}"), &[("name", "X")])
            .await
            .status,
        404
    );
    assert_eq!(
        c.post(&format!("/sequences/{theirs}/delete"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        c.post(&format!("/sequences/{theirs}/copy"), &[])
            .await
            .status,
        404
    );
    assert_eq!(add_step(&c, theirs, GLOBAL_INTRO, "0").await, 404);
    let step = uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM sequence_steps WHERE sequence_id = '{theirs}'"),
    );
    for action in ["up", "down", "delete"] {
        assert_eq!(
            c.post(&format!("/steps/{step}/{action}"), &[]).await.status,
            404
        );
    }
    let enrolment = uuid_of(&mut app.conn(), "SELECT id FROM sequence_enrollments");
    for action in ["pause", "resume"] {
        assert_eq!(
            c.post(&format!("/enrollments/{enrolment}/{action}"), &[])
                .await
                .status,
            404
        );
    }
    let r = c
        .post(
            "/sequences/enrol",
            &[
                ("sequence_id", &theirs.to_string()),
                ("lead_id", &their_lead.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 404);
    // Enrolling another organization's lead in my sequence enrols nobody.
    assert_eq!(add_step(&c, mine, GLOBAL_INTRO, "0").await, 303);
    let r = c
        .post(
            "/sequences/enrol",
            &[
                ("sequence_id", &mine.to_string()),
                ("lead_id", &their_lead.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(app.count("SELECT count(*) FROM sequence_enrollments"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM sequences WHERE name = 'Bobs flow'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'active'"),
        1
    );
}

#[actix_web::test]
async fn roles_and_flags_decide_who_edits_and_who_enrols() {
    let app = TestApp::new().await;
    let o = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    let seq = new_sequence(&app, &o, "Shared").await;
    assert_eq!(add_step(&o, seq, GLOBAL_INTRO, "0").await, 303);
    for (i, (who, c, allowed)) in role_matrix(&app, 2).await.into_iter().enumerate() {
        assert_eq!(c.get("/sequences").await.status, 200, "{who}");
        assert_eq!(
            c.get(&format!("/sequences/{seq}")).await.status,
            200,
            "{who}"
        );
        let name = format!("S{i}");
        let r = c.post("/sequences", &[("name", name.as_str())]).await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} creates");
        let before = app.count("SELECT count(*) FROM sequence_steps");
        assert_eq!(
            add_step(&c, seq, GLOBAL_INTRO, "1").await,
            if allowed { 303 } else { 403 }
        );
        assert_eq!(
            app.count("SELECT count(*) FROM sequence_steps"),
            before + i64::from(allowed)
        );
        let r = c
            .post(&format!("/sequences/{seq}"), &[("name", name.as_str())])
            .await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} renames");
    }
    for (i, (who, c, allowed)) in role_matrix_again(&app).await.into_iter().enumerate() {
        let lead = insert_lead(&app, OWNER_SLUG, "E", &format!("e{i}@x.example")).to_string();
        let r = c
            .post(
                "/sequences/enrol",
                &[("sequence_id", &seq.to_string()), ("lead_id", &lead)],
            )
            .await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} enrols");
        let enrolled = app.count(&format!(
            "SELECT count(*) FROM sequence_enrollments WHERE lead_id = '{lead}'"
        ));
        assert_eq!(enrolled, i64::from(allowed));
        let any = uuid_of(
            &mut app.conn(),
            "SELECT id FROM sequence_enrollments LIMIT 1",
        );
        let r = c.post(&format!("/enrollments/{any}/pause"), &[]).await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} pauses");
        exec(&app, "UPDATE sequence_enrollments SET status = 'active'");
    }
}

/// The same people again, judged by `can_send_messages`.
async fn role_matrix_again(app: &TestApp) -> Vec<(&'static str, Client, bool)> {
    exec(app, "UPDATE organization_members SET can_send_messages = (can_manage_templates OR role <> 'MEMBER')");
    let mut out = Vec::new();
    for (who, email, allowed) in [
        ("admin", "ada@example.com", true),
        ("member", "mia@example.com", true),
        ("member without flag", "nia@example.com", false),
        ("viewer", "vic@example.com", false),
    ] {
        let c = app.login(email).await;
        let org = org_id(app, OWNER_SLUG).to_string();
        c.post("/orgs/switch", &[("org_id", org.as_str())]).await;
        c.get("/leads").await;
        out.push((who, c, allowed));
    }
    out
}

/// An organization with a two-step sequence (0 and 2 days) and `n` enrolled leads.
async fn enrolled(app: &TestApp, n: usize) -> uuid::Uuid {
    let c = owner(app).await;
    set_plan(app, OWNER_SLUG, "STARTER");
    let seq = new_sequence(app, &c, "Two steps").await;
    assert_eq!(add_step(&c, seq, GLOBAL_INTRO, "0").await, 303);
    assert_eq!(
        add_step(&c, seq, "00000000-0000-7000-8000-000000000002", "2").await,
        303
    );
    let mut form = vec![("sequence_id".to_string(), seq.to_string())];
    for i in 0..n {
        form.push((
            "lead_id".into(),
            insert_lead(
                app,
                OWNER_SLUG,
                &format!("L{i}"),
                &format!("l{i}@x.example"),
            )
            .to_string(),
        ));
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = c.post("/sequences/enrol", &pairs).await;
    assert_eq!(r.status, 303);
    let expected = if n == 1 {
        "Enrolled 1 lead.".to_string()
    } else {
        format!("Enrolled {n} leads.")
    };
    assert!(c.get(r.location().unwrap()).await.body.contains(&expected));
    seq
}

#[actix_web::test]
async fn the_worker_sends_each_step_once_then_completes() {
    // Enrolled in the last seconds of a month: the first step is sent and
    // counted at once, the second two days (and a minute) later, in July.
    let app = TestApp::pinned(Utc.with_ymd_and_hms(2026, 6, 30, 23, 59, 30).unwrap()).await;
    enrolled(&app, 3).await;
    let now = app.now() + Duration::seconds(1);
    assert_eq!(
        run_due(&mut app.conn(), &SystemAccess::grant_at_startup(), now).unwrap(),
        3
    );
    assert_eq!(app.count("SELECT count(*) FROM messages WHERE step_position = 1 AND subject LIKE 'Quick question, L%'"), 3);
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'message'"),
        3
    );
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'message_sent'"),
        3
    );
    assert_eq!(
        run_due(&mut app.conn(), &SystemAccess::grant_at_startup(), now).unwrap(),
        0,
        "step 2 waits two days"
    );
    let later = now + Duration::days(2) + Duration::minutes(1);
    assert_eq!(
        run_due(&mut app.conn(), &SystemAccess::grant_at_startup(), later).unwrap(),
        3
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE step_position = 2"),
        3
    );
    for day in ["2026-06-30", "2026-07-03"] {
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM usage_counters WHERE kind = 'message_sent' AND period = 'day' AND period_start = '{day}' AND count = 3")),
            1,
            "three sends counted on {day}"
        );
    }
    assert_eq!(
        run_due(
            &mut app.conn(),
            &SystemAccess::grant_at_startup(),
            later + Duration::days(30)
        )
        .unwrap(),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'completed' AND next_run_at IS NULL"), 3);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 6);
}

#[actix_web::test]
async fn paused_enrolments_wait_and_resume() {
    let app = TestApp::new().await;
    enrolled(&app, 1).await;
    let c = app.login("owen@example.com").await;
    let e = uuid_of(&mut app.conn(), "SELECT id FROM sequence_enrollments");
    assert_eq!(
        c.post(&format!("/enrollments/{e}/pause"), &[]).await.status,
        303
    );
    assert_eq!(
        run_due(
            &mut app.conn(),
            &SystemAccess::grant_at_startup(),
            app.now() + Duration::days(10)
        )
        .unwrap(),
        0
    );
    assert_eq!(
        c.post(&format!("/enrollments/{e}/resume"), &[])
            .await
            .status,
        303
    );
    assert_eq!(
        run_due(
            &mut app.conn(),
            &SystemAccess::grant_at_startup(),
            app.now() + Duration::seconds(1)
        )
        .unwrap(),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
}

#[actix_web::test]
async fn two_runners_at_once_never_send_a_step_twice() {
    let app = TestApp::new().await;
    enrolled(&app, 40).await;
    let now = app.now() + Duration::seconds(1);
    let url = app.db.url.clone();
    let runners: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut conn =
                    <diesel::PgConnection as diesel::Connection>::establish(&url).unwrap();
                run_due(&mut conn, &SystemAccess::grant_at_startup(), now).unwrap()
            })
        })
        .collect();
    let handled: usize = runners.into_iter().map(|r| r.join().unwrap()).sum();
    assert_eq!(handled, 40);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 40);
    assert_eq!(
        app.count("SELECT count(DISTINCT enrollment_id) FROM messages"),
        40
    );
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'message_sent'"),
        40
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE next_step = 2"),
        40
    );
}

#[actix_web::test]
async fn a_step_over_the_daily_limit_is_sent_the_next_local_day() {
    let app = TestApp::pinned(Utc.with_ymd_and_hms(2031, 1, 15, 21, 0, 0).unwrap()).await;
    enrolled(&app, 3).await;
    override_limit(&app, OWNER_SLUG, "messages_per_day", 2);
    exec(&app, "UPDATE organizations SET time_zone = 'Europe/Berlin'");
    // 22:30 UTC on a winter day is 23:30 in Berlin: the next local day starts 23:00 UTC.
    let now = Utc.with_ymd_and_hms(2031, 1, 15, 22, 30, 0).unwrap();
    exec(
        &app,
        "UPDATE sequence_enrollments SET next_run_at = '2031-01-15 22:00:00+00'",
    );
    assert_eq!(
        run_due(&mut app.conn(), &SystemAccess::grant_at_startup(), now).unwrap(),
        3
    );
    assert_eq!(app.count("SELECT count(*) FROM messages"), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE next_step = 1 AND next_run_at = '2031-01-15 23:00:00+00'"),
        1,
        "waits for local midnight"
    );
    assert_eq!(
        run_due(
            &mut app.conn(),
            &SystemAccess::grant_at_startup(),
            now + Duration::minutes(10)
        )
        .unwrap(),
        0
    );
    let tomorrow = Utc.with_ymd_and_hms(2031, 1, 15, 23, 0, 1).unwrap();
    assert_eq!(
        run_due(&mut app.conn(), &SystemAccess::grant_at_startup(), tomorrow).unwrap(),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE step_position = 1"),
        3
    );
    assert_eq!(app.count("SELECT count(*) FROM usage_counters WHERE kind = 'message_sent' AND period_start = '2031-01-16' AND count = 1"), 1);
    assert_eq!(app.count("SELECT count(*) FROM usage_counters WHERE kind = 'message_sent' AND period_start = '2031-01-15' AND count = 2"), 1);
}

#[actix_web::test]
async fn step_changes_copies_and_deletes_follow_the_role_matrix() {
    let app = TestApp::new().await;
    let o = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    for (i, (who, c, allowed)) in role_matrix(&app, 2).await.into_iter().enumerate() {
        let seq = new_sequence(&app, &o, &format!("Seq{i}")).await;
        assert_eq!(add_step(&o, seq, GLOBAL_INTRO, "0").await, 303);
        assert_eq!(
            add_step(&o, seq, "00000000-0000-7000-8000-000000000002", "1").await,
            303
        );
        let second = uuid_of(
            &mut app.conn(),
            &format!("SELECT id FROM sequence_steps WHERE sequence_id = '{seq}' AND position = 2"),
        );
        let expected = if allowed { 303 } else { 403 };
        for action in ["up", "down"] {
            assert_eq!(
                c.post(&format!("/steps/{second}/{action}"), &[])
                    .await
                    .status,
                expected,
                "{who} {action}"
            );
        }
        let r = c.post_htmx(&format!("/steps/{second}/up"), &[]).await;
        assert_eq!(r.status, if allowed { 200 } else { 403 }, "{who} up (HTMX)");
        let moved = app.count(&format!(
            "SELECT count(*) FROM sequence_steps WHERE id = '{second}' AND position = 1"
        ));
        assert_eq!(
            moved,
            i64::from(allowed),
            "{who}: the step moved only when allowed"
        );
        assert_eq!(
            c.post(&format!("/steps/{second}/delete"), &[]).await.status,
            expected,
            "{who} removes"
        );
        let steps = app.count(&format!(
            "SELECT count(*) FROM sequence_steps WHERE sequence_id = '{seq}'"
        ));
        assert_eq!(steps, if allowed { 1 } else { 2 });
        let copies = app
            .count("SELECT count(*) FROM sequences WHERE name LIKE 'Classic three-touch (copy)%'");
        assert_eq!(
            c.post(&format!("/sequences/{GLOBAL_SEQUENCE}/copy"), &[])
                .await
                .status,
            expected,
            "{who} copies"
        );
        assert_eq!(
            app.count(
                "SELECT count(*) FROM sequences WHERE name LIKE 'Classic three-touch (copy)%'"
            ),
            copies + i64::from(allowed)
        );
        assert_eq!(
            c.post(&format!("/sequences/{seq}/delete"), &[])
                .await
                .status,
            expected,
            "{who} deletes"
        );
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM sequences WHERE id = '{seq}'"
            )),
            i64::from(!allowed)
        );
    }
}
