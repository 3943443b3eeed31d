//! Leads: create/edit/delete through both paths, the role and flag matrix,
//! other organizations' ids, the monthly limit (also under concurrency),
//! search, filters and keyset pagination.

use futures_util::future::join_all;

use crate::common::TestApp;
use crate::workspace_support::*;

fn lead_form<'a>(first: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("first_name", first),
        ("last_name", "Berger"),
        ("email", email),
        ("company", "Northwind"),
        ("status", "new"),
        ("tags", "vip, berlin"),
    ]
}

#[actix_web::test]
async fn create_plain_and_htmx_count_usage_and_refuse_duplicates() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let r = c
        .post("/leads", &lead_form("Anna", "anna@northwind.example"))
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), Some("/leads"));
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE tags = '{vip,berlin}'"),
        1
    );
    let r = c
        .post_htmx("/leads", &lead_form("Ben", "ben@northwind.example"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("hx-trigger"), Some("usage-changed"));
    assert!(r.body.contains("id=\"lead-form\""), "fresh form");
    assert!(r.body.contains("hx-swap-oob=\"afterbegin:#lead-rows\""));
    assert!(r.body.contains("ben@northwind.example"));
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'lead_created'"),
        2
    );
    assert_eq!(
        app.count(
            "SELECT count FROM usage_counters WHERE kind = 'lead_created' AND period = 'month'"
        ),
        2
    );
    // Same email (any case): a field error in place, nothing written.
    let r = c
        .post_htmx("/leads", &lead_form("Anna", "ANNA@northwind.example"))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("already exists"));
    assert!(r.body.contains("aria-invalid=\"true\""));
    let r = c
        .post("/leads", &lead_form("Anna", "anna@northwind.example"))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("already exists") && r.body.contains("<html"));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 2);
    assert_eq!(app.count("SELECT count(*) FROM usage_records"), 2);
}

#[actix_web::test]
async fn bad_input_is_reported_next_to_the_field() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let form = [
        ("first_name", ""),
        ("email", "not-an-email"),
        ("company", "<script>alert(1)</script>"),
        ("status", "won"),
        ("phone", "call me"),
    ];
    let r = c.post_htmx("/leads", &form).await;
    assert_eq!(r.status, 422);
    for msg in [
        "First name is required",
        "valid email",
        "must not contain",
        "Status must be one of",
        "Phone may contain",
    ] {
        assert!(r.body.contains(msg), "{msg}");
    }
    assert!(!r.body.contains("<script>alert"), "input is escaped");
    assert_eq!(app.count("SELECT count(*) FROM leads"), 0);
    let r = c.get("/leads?status=won").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Unknown status"));
}

#[actix_web::test]
async fn monthly_limit_shows_the_upgrade_prompt_and_writes_nothing() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    override_limit(&app, OWNER_SLUG, "leads_per_month", 1);
    assert_eq!(
        c.post("/leads", &lead_form("A", "a@x.example"))
            .await
            .status,
        303
    );
    let r = c.post_htmx("/leads", &lead_form("B", "b@x.example")).await;
    assert_eq!(r.status, 402);
    assert!(r.body.contains("href=\"/plans\""), "{}", r.body);
    assert!(r.body.contains("b@x.example"), "the typed values stay");
    let r = c.post("/leads", &lead_form("B", "b@x.example")).await;
    assert_eq!(r.status, 402);
    assert!(r.body.contains("href=\"/plans\""));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 1);
    assert_eq!(app.count("SELECT count(*) FROM usage_records"), 1);
}

#[actix_web::test]
async fn concurrent_creates_never_pass_the_limit() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    override_limit(&app, OWNER_SLUG, "leads_per_month", 3);
    let emails: Vec<String> = (0..10).map(|i| format!("l{i}@x.example")).collect();
    let clients: Vec<_> = (0..10).map(|_| c.clone_session()).collect();
    let forms: Vec<[(&str, &str); 2]> = emails
        .iter()
        .map(|e| [("first_name", "L"), ("email", e.as_str())])
        .collect();
    let results = join_all(
        clients
            .iter()
            .zip(&forms)
            .map(|(cl, f)| cl.post_htmx("/leads", f)),
    )
    .await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 3);
    assert!(results.iter().all(|r| r.status == 200 || r.status == 402));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 3);
    assert_eq!(app.count("SELECT count(*) FROM usage_records"), 3);
}

#[actix_web::test]
async fn edit_inline_and_on_the_page_then_delete() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let id = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    insert_lead(&app, OWNER_SLUG, "Ben", "ben@x.example");
    let r = c.get_htmx(&format!("/leads/{id}/edit")).await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("<tr") && r.body.contains("hx-post"));
    let path = format!("/leads/{id}");
    let target = format!("lead-{id}");
    let form = [
        ("first_name", "Anne"),
        ("email", "anna@x.example"),
        ("status", "replied"),
    ];
    let r = c
        .post_body(
            &path,
            "application/x-www-form-urlencoded",
            serde_urlencoded::to_string(form).unwrap().into_bytes(),
            &[
                ("HX-Request", "true"),
                ("HX-Target", &target),
                ("X-CSRF-Token", &c.csrf_token()),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("<tr") && r.body.contains("Anne") && r.body.contains("Replied"));
    // Duplicate email on edit: field error in the edit row.
    let dup = [("first_name", "Anne"), ("email", "ben@x.example")];
    let r = c
        .post_body(
            &path,
            "application/x-www-form-urlencoded",
            serde_urlencoded::to_string(dup).unwrap().into_bytes(),
            &[
                ("HX-Request", "true"),
                ("HX-Target", &target),
                ("X-CSRF-Token", &c.csrf_token()),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("already exists"));
    // Plain edit with notes: 303 to the lead.
    let r = c
        .post(
            &path,
            &[
                ("first_name", "Anna"),
                ("email", "anna@x.example"),
                ("notes", "Met at a fair"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, Some(path.as_str())));
    assert_eq!(
        app.count(
            "SELECT count(*) FROM leads WHERE first_name = 'Anna' AND notes = 'Met at a fair'"
        ),
        1
    );
    let page = c.get(&path).await;
    assert!(page.body.contains("Met at a fair") && page.body.contains("Lead saved."));
    // Delete: HTMX removes the row; plain redirects.
    let r = c.post_htmx(&format!("/leads/{id}/delete"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.count("SELECT count(*) FROM leads"), 1);
    let ben = crate::common::uuid_of(&mut app.conn(), "SELECT id FROM leads");
    let r = c.post(&format!("/leads/{ben}/delete"), &[]).await;
    assert_eq!((r.status, r.location()), (303, Some("/leads")));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 0);
    // The delete button asks first.
    insert_lead(&app, OWNER_SLUG, "Cleo", "cleo@x.example");
    assert!(c
        .get("/leads")
        .await
        .body
        .contains("data-confirm=\"Delete Cleo Test?"));
}

#[actix_web::test]
async fn roles_and_flags_decide_who_changes_leads() {
    let app = TestApp::new().await;
    let _owner = owner(&app).await;
    let id = insert_lead(&app, OWNER_SLUG, "Anna", "anna@x.example");
    for (i, (who, c, allowed)) in role_matrix(&app, 0).await.into_iter().enumerate() {
        let list = c.get("/leads").await;
        assert_eq!(list.status, 200, "{who} reads");
        assert_eq!(
            list.body.contains("Add a lead"),
            allowed,
            "{who} sees the form"
        );
        assert_eq!(
            c.get(&format!("/leads/{id}")).await.status,
            200,
            "{who} reads a lead"
        );
        let email = format!("new{i}@x.example");
        let before = app.count("SELECT count(*) FROM leads");
        let r = c
            .post("/leads", &[("first_name", "N"), ("email", &email)])
            .await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} creates");
        assert_eq!(
            app.count("SELECT count(*) FROM leads"),
            before + i64::from(allowed)
        );
        let edit = c.get(&format!("/leads/{id}/edit")).await;
        assert_eq!(
            edit.status,
            if allowed { 200 } else { 403 },
            "{who} edit page"
        );
        let name = format!("Anna{i}");
        let r = c
            .post_htmx(
                &format!("/leads/{id}"),
                &[("first_name", &name), ("email", "anna@x.example")],
            )
            .await;
        assert_eq!(r.status, if allowed { 200 } else { 403 }, "{who} updates");
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM leads WHERE first_name = '{name}'"
            )),
            i64::from(allowed)
        );
        let victim = insert_lead(&app, OWNER_SLUG, "Del", &format!("del{i}@x.example"));
        let r = c.post(&format!("/leads/{victim}/delete"), &[]).await;
        assert_eq!(r.status, if allowed { 303 } else { 403 }, "{who} deletes");
        let left = app.count(&format!("SELECT count(*) FROM leads WHERE id = '{victim}'"));
        assert_eq!(left, i64::from(!allowed));
    }
}

#[actix_web::test]
async fn another_organizations_lead_is_not_found_and_unchanged() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    app.signup("Bob", "bob@example.com").await;
    let theirs = insert_lead(&app, "bob-s-organization", "Zed", "zed@bob.example");
    for path in [
        format!("/leads/{theirs}"),
        format!("/leads/{theirs}/edit"),
        format!("/leads/{theirs}/row"),
    ] {
        assert_eq!(c.get(&path).await.status, 404, "GET {path}");
    }
    let r = c
        .post(
            &format!("/leads/{theirs}"),
            &[("first_name", "Hacked"), ("email", "zed@bob.example")],
        )
        .await;
    assert_eq!(r.status, 404);
    let r = c.post_htmx(&format!("/leads/{theirs}/delete"), &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE first_name = 'Zed'"),
        1
    );
    assert!(!c.get("/leads?q=zed").await.body.contains("zed@bob.example"));
    // The same email is free in another organization.
    let r = c
        .post(
            "/leads",
            &[("first_name", "Zed"), ("email", "zed@bob.example")],
        )
        .await;
    assert_eq!(r.status, 303);
}

#[actix_web::test]
async fn search_filters_and_keyset_pages_cover_every_lead_once() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let org = org_id(&app, OWNER_SLUG);
    // 120 leads; groups of three share a created_at to exercise the id tie-break.
    exec(
        &app,
        &format!(
            "INSERT INTO leads (organization_id, id, first_name, email, company, status, tags, created_at) \
             SELECT '{org}', gen_random_uuid(), 'Lead' || i, 'lead' || i || '@x.example', \
                    CASE WHEN i % 10 = 0 THEN 'Kestrel_Labs 100%' ELSE 'Northwind' END, \
                    CASE WHEN i % 2 = 0 THEN 'replied' ELSE 'new' END, \
                    CASE WHEN i % 3 = 0 THEN ARRAY['vip'] ELSE ARRAY['cold'] END, \
                    now() - (i / 3) * interval '1 minute' \
             FROM generate_series(1, 120) AS i"
        ),
    );
    let re = regex::Regex::new(r#"href="(/leads\?[^"]*after=[^"]+)" rel="next""#).unwrap();
    let ids = regex::Regex::new(r#"id="lead-([0-9a-f-]{36})""#).unwrap();
    let mut seen = Vec::new();
    let mut path = "/leads".to_string();
    loop {
        let page = c.get(&path).await;
        assert_eq!(page.status, 200);
        let found: Vec<String> = ids
            .captures_iter(&page.body)
            .map(|m| m[1].to_string())
            .collect();
        assert!(found.len() <= 50);
        seen.extend(found);
        match re.captures(&page.body) {
            Some(m) => path = m[1].replace("&amp;", "&"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 120, "no lead twice");
    // Search matches name, email and company; LIKE wildcards are literal.
    let page = c.get("/leads?q=kestrel_labs+100%25").await;
    assert_eq!(ids.captures_iter(&page.body).count(), 12);
    let page = c.get("/leads?q=LEAD7%40").await;
    assert_eq!(ids.captures_iter(&page.body).count(), 1);
    let page = c.get("/leads?status=replied&tag=vip").await;
    assert_eq!(ids.captures_iter(&page.body).count(), 20);
    let page = c.get("/leads?q=nobody-matches").await;
    assert!(page.body.contains("No leads match"));
}

#[actix_web::test]
async fn a_lead_has_an_optional_time_zone_and_an_unknown_one_saves_nothing() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let mut form = lead_form("Anna", "anna@northwind.example");
    form.push(("time_zone", "Mars/Olympus"));
    let r = c.post("/leads", &form).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("not a known time zone"), "{}", r.body);
    assert_eq!(app.count("SELECT count(*) FROM leads"), 0);
    form.pop();
    form.push(("time_zone", " America/New_York "));
    let r = c.post("/leads", &form).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE time_zone = 'America/New_York'"),
        1
    );
    let id = crate::common::uuid_of(&mut app.conn(), "SELECT id FROM leads");
    let edit = c.get(&format!("/leads/{id}/edit")).await;
    assert_eq!(edit.status, 200);
    assert!(edit.body.contains("value=\"America/New_York\""));
    let path = format!("/leads/{id}");
    let change = |zone: &'static str| {
        [
            ("first_name", "Anna"),
            ("email", "anna@northwind.example"),
            ("time_zone", zone),
        ]
    };
    let r = c.post(&path, &change("Europe/Nowhere")).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("not a known time zone"));
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE time_zone = 'America/New_York'"),
        1,
        "a refused edit changes nothing"
    );
    let r = c.post(&path, &change("Europe/Berlin")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE time_zone = 'Europe/Berlin'"),
        1
    );
    let page = c.get(&path).await;
    assert!(
        page.body.contains("Time zone") && page.body.contains("America/New_York → Europe/Berlin"),
        "the change is on the lead's timeline: {}",
        page.body
    );
    let r = c.post(&path, &change("")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE time_zone IS NULL"),
        1,
        "empty: the organization's zone"
    );
}
