//! Data that must survive or be accounted for: deletions are audited,
//! message history outlives its sequence, a removed member's reach ends
//! (sequence steps in their name pause, their invitations are revoked), and
//! inputs that used to answer 500 (same-name sign-ups at once, enrolling
//! thousands of leads, a lead or template deleted while sending).

use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use lead_dashboard::db::{
    accounts, leads, messages, orgs, templates, DbError, SystemAccess, Tenant,
};
use lead_dashboard::ids::{LeadId, OrgId, TemplateId, UserId};
use lead_dashboard::jobs::sequences::run_due;

use crate::common::{uuid_of, Client, TestApp};
use crate::workspace_support::*;

/// The newest audit event of `action`: (target, before as text).
fn audited(app: &TestApp, action: &str) -> (String, String) {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        target: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        before: String,
    }
    let row: Row = diesel::sql_query(format!(
        "SELECT target, coalesce(before::text, '') AS before FROM audit_events \
         WHERE action = '{action}' ORDER BY id DESC LIMIT 1"
    ))
    .get_result(&mut app.conn())
    .unwrap_or_else(|e| panic!("no {action} event: {e}"));
    (row.target, row.before)
}

async fn new_sequence(app: &TestApp, c: &Client, name: &str) -> uuid::Uuid {
    let r = c.post("/sequences", &[("name", name)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM sequences WHERE name = '{name}'"),
    )
}

async fn add_step(c: &Client, seq: uuid::Uuid, template: &str, delay: &str) {
    let r = c
        .post(
            &format!("/sequences/{seq}/steps"),
            &[("template_id", template), ("delay_days", delay)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}

/// Enrols `leads` in `seq` as `c`; returns the flash text.
async fn enrol(c: &Client, seq: uuid::Uuid, leads: &[uuid::Uuid]) -> String {
    let mut form = vec![("sequence_id".to_string(), seq.to_string())];
    form.extend(leads.iter().map(|l| ("lead_id".to_string(), l.to_string())));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = c.post("/sequences/enrol", &pairs).await;
    assert_eq!(r.status, 303, "{}", r.body);
    c.get(r.location().unwrap()).await.body
}

/// `client` invites `email` as a member; the invitation must be created.
async fn invite(client: &Client, email: &str) {
    let r = client
        .post("/team/invitations", &[("email", email), ("role", "MEMBER")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}

fn run_worker(app: &TestApp, at: chrono::DateTime<chrono::Utc>) -> usize {
    run_due(&mut app.conn(), &SystemAccess::grant_at_startup(), at).unwrap()
}

#[actix_web::test]
async fn deleting_a_lead_template_sequence_or_step_is_audited() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let lead = insert_lead(&app, OWNER_SLUG, "Dora", "dora@x.example");
    assert_eq!(
        c.post(&format!("/leads/{lead}/delete"), &[]).await.status,
        303
    );
    let (target, before) = audited(&app, "lead.deleted");
    assert_eq!(target, "dora@x.example");
    assert!(
        before.contains(&lead.to_string()) && before.contains("\"first_name\": \"Dora\""),
        "{before}"
    );

    let template = insert_template(&app, OWNER_SLUG, "Old pitch");
    assert_eq!(
        c.post(&format!("/templates/{template}/delete"), &[])
            .await
            .status,
        303
    );
    let (target, before) = audited(&app, "template.deleted");
    assert_eq!(target, "Old pitch");
    assert!(
        before.contains(&template.to_string()) && before.contains("Hi {{first_name}}"),
        "{before}"
    );

    let seq = new_sequence(&app, &c, "Outbound").await;
    add_step(&c, seq, GLOBAL_INTRO, "0").await;
    add_step(&c, seq, GLOBAL_INTRO, "3").await;
    let step = uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM sequence_steps WHERE sequence_id = '{seq}' AND position = 2"),
    );
    assert_eq!(
        c.post(&format!("/steps/{step}/delete"), &[]).await.status,
        303
    );
    let (target, before) = audited(&app, "sequence_step.deleted");
    assert_eq!(target, "Outbound (step 2)");
    assert!(
        before.contains(&step.to_string())
            && before.contains("\"delay_days\": 3")
            && before.contains(GLOBAL_INTRO),
        "{before}"
    );

    assert_eq!(
        c.post(&format!("/sequences/{seq}/delete"), &[])
            .await
            .status,
        303
    );
    let (target, before) = audited(&app, "sequence.deleted");
    assert_eq!(target, "Outbound");
    assert!(
        before.contains(&seq.to_string()) && before.contains("\"steps\": 1"),
        "{before}"
    );
    let actors = app.count("SELECT count(*) FROM audit_events WHERE action LIKE '%.deleted' AND actor_label LIKE '%owen@example.com%'");
    assert_eq!(actors, 4, "each deletion names who did it");
}

#[actix_web::test]
async fn deleting_a_sequence_keeps_its_sent_messages() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "STARTER");
    let seq = new_sequence(&app, &c, "Outbound").await;
    add_step(&c, seq, GLOBAL_INTRO, "0").await;
    add_step(&c, seq, GLOBAL_INTRO, "2").await;
    let lead = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    enrol(&c, seq, &[lead]).await;
    assert_eq!(run_worker(&app, app.now() + Duration::seconds(1)), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE step_position = 1"),
        1
    );

    assert_eq!(
        c.post(&format!("/sequences/{seq}/delete"), &[])
            .await
            .status,
        303
    );
    assert_eq!(app.count("SELECT count(*) FROM sequence_enrollments"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE enrollment_id IS NULL AND step_position = 1 AND subject LIKE 'Quick question, Anna%'"),
        1,
        "the message stays, without its enrolment"
    );
    let list = c.get("/messages").await;
    assert!(
        list.status == 200 && list.body.contains("Quick question, Anna"),
        "{}",
        list.body
    );
    let lead_page = c.get(&format!("/leads/{lead}")).await;
    assert!(lead_page.body.contains("Quick question, Anna"));
}

#[actix_web::test]
async fn steps_of_an_enroller_who_left_or_lost_sending_pause_with_a_reason() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    let seq = new_sequence(&app, &c, "Outbound").await;
    add_step(&c, seq, GLOBAL_INTRO, "0").await;
    let mia = member(&app, OWNER_SLUG, "Mia", "MEMBER", [true; 3]).await;
    let nia = member(&app, OWNER_SLUG, "Nia", "MEMBER", [true; 3]).await;
    let by_mia = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    let by_nia = insert_lead(&app, OWNER_SLUG, "Bert", "bert@x.example");
    enrol(&mia, seq, &[by_mia]).await;
    enrol(&nia, seq, &[by_nia]).await;

    let mia_id = uuid_of(
        &mut app.conn(),
        "SELECT id FROM users WHERE email = 'mia@example.com'",
    );
    let r = c.post(&format!("/team/members/{mia_id}/remove"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    exec(&app, "UPDATE organization_members SET can_send_messages = false WHERE user_id = (SELECT id FROM users WHERE email = 'nia@example.com')");

    assert_eq!(run_worker(&app, app.now() + Duration::seconds(1)), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM messages"),
        0,
        "nothing sent in their names"
    );
    assert_eq!(app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'paused' AND paused_reason IS NOT NULL"), 2);
    let page = c.get(&format!("/leads/{by_mia}")).await.body;
    assert!(page.contains("left the organization"), "{page}");
    let page = c.get(&format!("/leads/{by_nia}")).await.body;
    assert!(page.contains("may no longer send messages"), "{page}");
    assert_eq!(
        run_worker(&app, app.now() + Duration::days(5)),
        0,
        "paused stays paused"
    );

    // The owner resumes one: the rest is sent in the owner's name.
    let e = uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM sequence_enrollments WHERE lead_id = '{by_mia}'"),
    );
    assert_eq!(
        c.post(&format!("/enrollments/{e}/resume"), &[])
            .await
            .status,
        303
    );
    assert_eq!(run_worker(&app, app.now() + Duration::seconds(2)), 1);
    assert_eq!(app.count("SELECT count(*) FROM messages m JOIN users u ON u.id = m.sender_user_id WHERE u.email = 'owen@example.com' AND m.body LIKE '%Owen%'"), 1);
    assert!(!c
        .get(&format!("/leads/{by_mia}"))
        .await
        .body
        .contains("left the organization"));
}

#[actix_web::test]
async fn removing_a_member_revokes_the_invitations_they_created() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    let ada = member(&app, OWNER_SLUG, "Ada", "ADMIN", [true; 3]).await;
    invite(&ada, "guest@x.example").await;
    invite(&c, "own@x.example").await;
    let token = {
        let body: String = diesel::sql_query(
            "SELECT body_text AS t FROM mail_outbox WHERE to_email = 'guest@x.example'",
        )
        .get_result::<Text>(&mut app.conn())
        .unwrap()
        .t;
        let at = body.find("/invitations/").unwrap() + "/invitations/".len();
        body[at..at + 43].to_string()
    };
    assert_eq!(
        app.client()
            .get(&format!("/invitations/{token}"))
            .await
            .status,
        200
    );

    let ada_id = uuid_of(
        &mut app.conn(),
        "SELECT id FROM users WHERE email = 'ada@example.com'",
    );
    assert_eq!(
        c.post(&format!("/team/members/{ada_id}/remove"), &[])
            .await
            .status,
        303
    );
    assert_eq!(app.count("SELECT count(*) FROM invitations WHERE email = 'guest@x.example' AND revoked_at IS NOT NULL"), 1);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM invitations WHERE email = 'own@x.example' AND revoked_at IS NULL"
        ),
        1,
        "others' invitations stay"
    );
    assert_eq!(
        app.client()
            .get(&format!("/invitations/{token}"))
            .await
            .status,
        410
    );
    assert!(audited(&app, "member.removed")
        .1
        .contains("\"invitations_revoked\": 1"));
}

#[actix_web::test]
async fn deleting_an_account_revokes_the_invitations_it_created() {
    let app = TestApp::new().await;
    owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    let ada = member(&app, OWNER_SLUG, "Ada", "ADMIN", [true; 3]).await;
    invite(&ada, "guest@x.example").await;
    let r = ada
        .post("/account/delete", &[("password", crate::common::PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'ada@example.com'"),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM invitations WHERE email = 'guest@x.example' AND revoked_at IS NOT NULL"), 1);
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

/// Two sign-ups with the same name at once: the second transaction finds
/// the slug free, then waits on the first's insert. It must take the next
/// slug, not fail.
#[actix_web::test]
async fn two_organizations_with_the_same_name_at_once_get_two_slugs() {
    let app = TestApp::new().await;
    let now = app.now();
    let user = |conn: &mut PgConnection, email: &str| -> UserId {
        accounts::insert_user(conn, "Sam", email, "x")
            .unwrap()
            .unwrap()
    };
    let mut first = app.conn();
    let (sam, samantha) = (
        user(&mut first, "sam@x.example"),
        user(&mut first, "samantha@x.example"),
    );
    first.batch_execute("BEGIN").unwrap();
    orgs::create(&mut first, sam, "Sam's Organization", now).unwrap();
    let mut second = app.conn();
    let racer = std::thread::spawn(move || {
        second.transaction(|conn| orgs::create(conn, samantha, "Sam's Organization", now))
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    first.batch_execute("COMMIT").unwrap();
    let created: OrgId = racer.join().unwrap().expect("the second sign-up succeeds");
    let slug = uuid_of(
        &mut app.conn(),
        &format!(
            "SELECT id FROM organizations WHERE id = '{created}' AND slug = 'sam-s-organization-2'"
        ),
    );
    assert_eq!(slug, created.uuid());

    // And through the app, at once: both answer 303.
    let (a, b) = (app.client(), app.client());
    a.get("/signup").await;
    b.get("/signup").await;
    let (ra, rb) = futures_join(
        a.post(
            "/signup",
            &[
                ("name", "Kim"),
                ("email", "kim1@x.example"),
                ("password", crate::common::PASSWORD),
            ],
        ),
        b.post(
            "/signup",
            &[
                ("name", "Kim"),
                ("email", "kim2@x.example"),
                ("password", crate::common::PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!(
        (ra.status, rb.status),
        (303, 303),
        "{} {}",
        ra.body,
        rb.body
    );
    assert_eq!(
        app.count("SELECT count(*) FROM organizations WHERE slug LIKE 'kim-s-organization%'"),
        2
    );
}

async fn futures_join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    tokio::join!(a, b)
}

#[actix_web::test]
async fn enrolling_ten_thousand_leads_at_once_works() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    let seq = new_sequence(&app, &c, "Bulk").await;
    add_step(&c, seq, GLOBAL_INTRO, "0").await;
    exec(
        &app,
        &format!(
            "INSERT INTO leads (organization_id, id, first_name, last_name, email, company, title) \
             SELECT o.id, gen_random_uuid(), 'L' || n, 'Test', 'l' || n || '@bulk.example', 'Acme', 'CTO' \
             FROM organizations o, generate_series(1, 10000) n WHERE o.slug = '{OWNER_SLUG}'"
        ),
    );
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let ids: Vec<uuid::Uuid> = diesel::sql_query("SELECT id FROM leads")
        .load::<Id>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids.len(), 10_000);
    let flash = enrol(&c, seq, &ids).await;
    assert!(flash.contains("Enrolled 10000 leads."), "{flash}");
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments"),
        10_000
    );
}

/// The send form loads lead and template, then stores the message in a
/// second step: either may be deleted in between.
#[actix_web::test]
async fn sending_to_a_lead_or_with_a_template_deleted_meanwhile_is_a_clear_refusal() {
    let app = TestApp::new().await;
    owner(&app).await;
    let org = OrgId(org_id(&app, OWNER_SLUG));
    let owen = UserId(uuid_of(
        &mut app.conn(),
        "SELECT id FROM users WHERE email = 'owen@example.com'",
    ));
    let mut conn = app.conn();
    let tenant = Tenant::for_member(&mut conn, org, owen).unwrap();
    let lead_id = LeadId(insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example"));
    let template_id = TemplateId(insert_template(&app, OWNER_SLUG, "Pitch"));
    let lead = leads::find(&mut conn, &tenant, lead_id).unwrap();
    let template = templates::find(&mut conn, &tenant, template_id).unwrap();

    exec(
        &app,
        &format!(
            "DELETE FROM message_templates WHERE id = '{}'",
            template_id.uuid()
        ),
    );
    let sent =
        conn.transaction(|conn| messages::send(conn, &tenant, &lead, &template, None, app.now()));
    assert!(
        matches!(&sent, Err(DbError::Conflict(m)) if m == messages::TEMPLATE_GONE),
        "{sent:?}"
    );

    let template = templates::find(
        &mut conn,
        &tenant,
        TemplateId(insert_template(&app, OWNER_SLUG, "Pitch 2")),
    )
    .unwrap();
    exec(
        &app,
        &format!("DELETE FROM leads WHERE id = '{}'", lead_id.uuid()),
    );
    let sent =
        conn.transaction(|conn| messages::send(conn, &tenant, &lead, &template, None, app.now()));
    assert!(
        matches!(&sent, Err(DbError::Conflict(m)) if m == messages::LEAD_GONE),
        "{sent:?}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages")
            + app.count("SELECT count(*) FROM usage_records"),
        0
    );
}
