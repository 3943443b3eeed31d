//! Organization settings (inline HTMX and plain form, field errors, white
//! label through a stylesheet) and the audit log page (filters, keyset pages).

use super::support::*;

fn settings<'a>(name: &'a str, slug: &'a str, tz: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("name", name), ("slug", slug), ("time_zone", tz)]
}

#[actix_web::test]
async fn settings_validate_in_place_and_save_through_both_paths() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    app.signup("Otto", "otto@example.com").await;
    let page = t.owner.get("/settings").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("value=\"{ORG}\""))
            && page.body.contains("<option value=\"UTC\" selected")
    );
    assert!(
        !page.body.contains("name=\"brand_color\"") && page.body.contains("Enterprise"),
        "no white label on Professional"
    );

    let before = fingerprint(app);
    let r = t
        .owner
        .post_htmx("/settings", &settings("", "Bad Slug!", "Mars/Base"))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"settings-form\"") && !r.body.contains("<html"));
    assert!(
        r.body.contains("Name is required")
            && r.body.contains("single dashes")
            && r.body.contains("Choose a time zone")
    );
    for htmx in [false, true] {
        let form = settings("Olivia's Organization", OTHER, "UTC");
        let r = if htmx {
            t.owner.post_htmx("/settings", &form).await
        } else {
            t.owner.post("/settings", &form).await
        };
        assert_eq!(r.status, 422);
        assert!(r.body.contains("taken by another organization"));
    }
    let r = t
        .owner
        .post("/settings", &settings("<script>x</script>", ORG, "UTC"))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("cannot contain") && !r.body.contains("<script>x"));
    assert_eq!(fingerprint(app), before, "invalid input changed nothing");

    let count = events(app);
    let r = t
        .owner
        .post_htmx(
            "/settings",
            &settings("Olivia's Organization", " Olivia ", "Europe/Berlin"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Saved.") && r.body.contains("value=\"olivia\""));
    assert_eq!(events(app), count + 1);
    let (action, actor, _, before, after) = last_event(app);
    assert_eq!(
        (action.as_str(), actor.as_str()),
        ("settings.updated", "olivia@example.com")
    );
    assert!(before.contains(ORG) && before.contains("UTC") && !before.contains("name"));
    assert!(after.contains("\"olivia\"") && after.contains("Europe/Berlin"));

    let r = t
        .owner
        .post("/settings", &settings("Acme", "olivia", "Europe/Berlin"))
        .await;
    assert_eq!((r.status, r.location()), (303, Some("/settings")));
    assert!(t
        .owner
        .get("/settings")
        .await
        .body
        .contains("Settings saved."));
    let r = t
        .owner
        .post_htmx(
            "/settings",
            &settings("Acme GmbH", "olivia", "Europe/Berlin"),
        )
        .await;
    assert_eq!(
        (r.status, r.header("hx-redirect")),
        (200, Some("/settings")),
        "the shell shows the name: reload"
    );
    assert_eq!(events(app), count + 3);
    // Saving unchanged values, or brand fields without white label, writes nothing.
    let mut form = settings("Acme GmbH", "olivia", "Europe/Berlin");
    form.extend([("brand_name", "Brand"), ("brand_color", "#0b7285")]);
    assert_eq!(t.owner.post("/settings", &form).await.status, 303);
    assert_eq!(events(app), count + 3);
    assert_eq!(app.count("SELECT count(*) FROM organizations WHERE brand_color IS NOT NULL OR brand_name IS NOT NULL"), 0);
}

#[actix_web::test]
async fn white_label_colour_arrives_as_a_stylesheet() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    assert!(t
        .owner
        .get("/settings")
        .await
        .body
        .contains("name=\"brand_color\""));
    let before = fingerprint(app);
    for bad in ["#ffff00", "#0B7285;}", "blue"] {
        let mut form = settings("Olivia's Organization", ORG, "UTC");
        form.push(("brand_color", bad));
        let r = t.owner.post("/settings", &form).await;
        assert_eq!(r.status, 422, "{bad}");
        assert!(r.body.contains("too light") || r.body.contains("six hex digits"));
    }
    assert_eq!(fingerprint(app), before);
    let mut form = settings("Olivia's Organization", ORG, "UTC");
    form.extend([("brand_name", "Acme Sales"), ("brand_color", "#0B7285")]);
    assert_eq!(t.owner.post("/settings", &form).await.status, 303);
    assert_eq!(
        app.count("SELECT count(*) FROM organizations WHERE brand_color = '#0b7285'"),
        1
    );
    let dash = t.owner.get("/dashboard").await;
    assert!(dash.body.contains("href=\"/brand.css?v=0b7285\"") && dash.body.contains("Acme Sales"));
    assert!(!dash.body.contains("style="), "no inline styles");
    let css = t.owner.get("/brand.css?v=0b7285").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert_eq!(css.body.trim(), ":root{--brand:#0b7285;--brand-ink:#fff}");
    // Without white label the brand stays stored but is not applied.
    set_plan(app, ORG, "FREE");
    let dash = t.owner.get("/dashboard").await;
    assert!(!dash.body.contains("brand.css") && !dash.body.contains("Acme Sales"));
    assert_eq!(t.owner.get("/brand.css").await.body, "");
}

#[actix_web::test]
async fn the_audit_log_filters_and_pages_newest_first() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    join(app, ORG, "Adam", "adam@example.com", "ADMIN").await;
    app.signup("Otto", "otto@example.com").await;
    let (olivia, adam, other) = (
        user_id(app, "olivia@example.com"),
        user_id(app, "adam@example.com"),
        org_id(app, OTHER),
    );
    exec(app, &format!(
        "INSERT INTO audit_events (organization_id, actor_user_id, actor_label, action, target, created_at) \
         SELECT '{org}', CASE WHEN g % 2 = 0 THEN '{olivia}'::uuid ELSE '{adam}'::uuid END, \
                CASE WHEN g % 2 = 0 THEN 'Olivia <olivia@example.com>' ELSE 'Adam <adam@example.com>' END, \
                CASE WHEN g % 3 = 0 THEN 'member.removed' ELSE 'settings.updated' END, \
                'target ' || g, now() - make_interval(mins => g) \
         FROM generate_series(1, 120) g; \
         INSERT INTO audit_events (organization_id, actor_label, action, target, created_at) \
         SELECT '{org}', 'system', 'plan.changed', 'tie ' || g, '2020-01-01T00:00:00Z' FROM generate_series(1, 5) g; \
         INSERT INTO audit_events (organization_id, actor_label, action, target) VALUES ('{other}', 'Otto', 'secret.action', 'secret target')",
        org = t.org
    ));
    let total = app.count(&format!(
        "SELECT count(*) FROM audit_events WHERE organization_id = '{}'",
        t.org
    ));
    let row = regex::Regex::new(r">(target \d+|tie \d+)<").unwrap();
    let next = regex::Regex::new(r#"rel="next" href="([^"]+)""#).unwrap();
    let mut seen: Vec<String> = Vec::new();
    let mut path = "/audit".to_string();
    let mut pages = 0;
    loop {
        let page = t.owner.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            !page.body.contains("secret"),
            "no other organization's events"
        );
        let rows: Vec<String> = row
            .captures_iter(&page.body)
            .map(|c| c[1].to_string())
            .collect();
        assert!(rows.len() <= 50);
        seen.extend(rows);
        pages += 1;
        match next.captures(&page.body) {
            Some(c) => path = c[1].replace("&amp;", "&"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let numbers: Vec<i64> = seen
        .iter()
        .filter_map(|s| s.strip_prefix("target ")?.parse().ok())
        .collect();
    assert_eq!(
        numbers,
        (1..=120).collect::<Vec<_>>(),
        "newest first, none twice, none lost"
    );
    let mut ties: Vec<&String> = seen.iter().filter(|s| s.starts_with("tie")).collect();
    ties.sort();
    ties.dedup();
    assert_eq!(
        ties.len(),
        5,
        "equal timestamps split across pages without loss"
    );
    assert_eq!(seen.len() as i64, total, "every event read once");

    let removed = t.owner.get("/audit?action=member.removed").await;
    assert_eq!(row.captures_iter(&removed.body).count(), 40);
    let by_adam = t.owner.get_htmx(&format!("/audit?actor={adam}")).await;
    assert!(by_adam.body.contains("id=\"audit-results\"") && !by_adam.body.contains("<html"));
    assert!(by_adam.body.contains("Older"), "60 events: a second page");
    assert_eq!(row.captures_iter(&by_adam.body).count(), 50);
    assert!(
        !by_adam.body.contains("olivia@example.com"),
        "only Adam's events"
    );
    let system = t.owner.get("/audit?actor=system").await;
    assert_eq!(row.captures_iter(&system.body).count(), 5);
    assert_eq!(t.owner.get("/audit?after=garbage").await.status, 400);
    assert_eq!(t.owner.get("/audit?actor=nobody").await.status, 400);
}

#[actix_web::test]
async fn the_logo_is_sniffed_stored_served_and_removed() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    t.owner.get("/settings").await;
    let before = fingerprint(app);
    let svg = post_logo(&t.owner, b"<svg onload=\"alert(1)\"/>", false).await;
    assert_eq!(svg.status, 422);
    assert!(svg.body.contains("PNG, JPEG or WebP") && svg.body.contains("Settings"));
    let big = post_logo(&t.owner, &png(&"x".repeat(300 * 1024)), true).await;
    assert_eq!(big.status, 422);
    assert!(
        big.body.contains("256 KB")
            && big.body.contains("id=\"logo-card\"")
            && !big.body.contains("<html")
    );
    assert_eq!(fingerprint(app), before, "refused uploads change nothing");
    assert_eq!(t.owner.get("/brand/logo").await.status, 404);

    let count = events(app);
    let r = post_logo(&t.owner, &png("our logo"), false).await;
    assert_eq!((r.status, r.location()), (303, Some("/settings")));
    assert_eq!(events(app), count + 1);
    let (action, actor, _, before, after) = last_event(app);
    assert_eq!(
        (action.as_str(), actor.as_str()),
        ("settings.updated", "olivia@example.com")
    );
    assert!(before.contains("\"logo\": null") && after.contains("image/png, 1 KB"));
    let served = t.owner.get("/brand/logo").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("image/png"));
    assert!(served.header("etag").is_some() && served.body.ends_with("our logo"));
    let dash = t.owner.get("/dashboard").await;
    assert!(dash
        .body
        .contains("class=\"brand-logo\" src=\"/brand/logo\""));

    let r = t.owner.post_htmx("/settings/logo/remove", &[]).await;
    assert_eq!(
        (r.status, r.header("hx-redirect")),
        (200, Some("/settings"))
    );
    assert_eq!(t.owner.get("/brand/logo").await.status, 404);
    assert_eq!(events(app), count + 2);
    // Without white label: no upload, no logo served.
    set_plan(app, ORG, "STARTER");
    exec(
        app,
        "UPDATE organizations SET logo_content_type = 'image/png', logo_data = '\\x89504e47'",
    );
    assert_eq!(t.owner.get("/brand/logo").await.status, 404);
    let before = fingerprint(app);
    let r = post_logo(&t.owner, &png("again"), false).await;
    assert_eq!(r.status, 402);
    assert!(r.body.contains("Enterprise"));
    assert_eq!(fingerprint(app), before);
    assert!(!t.owner.get("/dashboard").await.body.contains("/brand/logo"));
}
