//! Markup (`<`, `>`) is refused in every name field with a field error,
//! and nothing is stored.

use crate::common::TestApp;
use crate::workspace_support::{owner, OWNER_SLUG};

const MARKUP: &str = "<b>Acme</b>";

#[actix_web::test]
async fn markup_in_any_name_is_a_field_error_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    c.get("/dashboard").await;

    let orgs = app.count("SELECT count(*) FROM organizations");
    let r = c.post("/orgs", &[("name", MARKUP)]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("cannot contain &lt; or &gt;"), "{}", r.body);
    assert_eq!(app.count("SELECT count(*) FROM organizations"), orgs);

    let templates = app.count("SELECT count(*) FROM message_templates");
    let r = c
        .post(
            "/templates",
            &[("name", MARKUP), ("subject", "Hello"), ("body", "Hi there")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("cannot contain &lt; or &gt;"), "{}", r.body);
    assert_eq!(
        app.count("SELECT count(*) FROM message_templates"),
        templates
    );

    let sequences = app.count("SELECT count(*) FROM sequences");
    let r = c.post("/sequences", &[("name", MARKUP)]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("cannot contain &lt; or &gt;"), "{}", r.body);
    assert_eq!(app.count("SELECT count(*) FROM sequences"), sequences);

    let r = c.post("/sequences", &[("name", "Welcome")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let seq: uuid::Uuid = crate::common::uuid_of(
        &mut app.conn(),
        "SELECT id FROM sequences WHERE name = 'Welcome'",
    );
    let r = c
        .post(&format!("/sequences/{seq}"), &[("name", MARKUP)])
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("cannot contain &lt; or &gt;"), "{}", r.body);
    // The field keeps what was typed (escaped), so it can be corrected.
    assert!(
        r.body.contains(r#"value="&lt;b&gt;Acme&lt;/b&gt;""#),
        "{}",
        r.body
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sequences WHERE name = 'Welcome'"),
        1
    );

    for field in ["company", "address", "vat_id"] {
        let mut form = vec![
            ("company", "Acme"),
            ("address", "1 Main St"),
            ("vat_id", "DE1"),
        ];
        form.retain(|(k, _)| *k != field);
        form.push((field, MARKUP));
        let r = c.post("/billing/details", &form).await;
        assert_eq!(r.status, 422, "{field}: {}", r.body);
        assert!(
            r.body.contains("cannot contain &lt; or &gt;"),
            "{field}: {}",
            r.body
        );
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM organizations WHERE slug = '{OWNER_SLUG}' AND billing_company IS NOT NULL"
        )),
        0
    );
}
