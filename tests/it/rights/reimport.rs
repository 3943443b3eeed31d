//! A suppressed person does not come back through a CSV import: the
//! preview and the report name the reason, and only the others are imported.

use super::*;
use crate::workspace_lead_import::{upload, upload_id};

#[actix_web::test]
async fn an_unsubscribed_or_forgotten_address_is_skipped_on_reimport_with_the_reason() {
    let app = TestApp::new().await;
    let (c, lead) = enrolled_and_mailed(&app).await;
    let r = app.client().post_raw(&unsubscribe_path(&app), &[]).await;
    assert!(r.body.contains("You are unsubscribed"));
    let r = c.post(&format!("/leads/{lead}/delete"), &[]).await;
    assert_eq!(r.status, 303);
    // Someone forgotten earlier: only the salted hash is left.
    exec(
        &app,
        "INSERT INTO suppressions (organization_id, id, email_hash, reason, created_at) \
         SELECT id, gen_random_uuid(), sha256(suppression_salt || convert_to('gone@x.example', 'UTF8')), 'forgotten', now() \
         FROM organizations",
    );
    let mut file = b"Email,First_Name\n".to_vec();
    file.extend_from_slice(b"Anna@X.example,Anna\n");
    file.extend_from_slice(b"gone@x.example,Gone\n");
    file.extend_from_slice(b"new@x.example,New\n");
    c.get("/leads/import").await;
    let preview = upload(&c, &file).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    for expected in [
        "Line 2: suppressed: unsubscribed",
        "Line 3: suppressed: asked to be forgotten",
    ] {
        assert!(
            preview.body.contains(expected),
            "{expected}: {}",
            preview.body
        );
    }
    let report = c
        .post(&format!("/leads/import/{}", upload_id(&preview)), &[])
        .await;
    assert_eq!(report.status, 200);
    assert!(report.body.contains("Imported 1 lead."), "{}", report.body);
    assert!(report.body.contains("suppressed: unsubscribed"));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE email = 'new@x.example'"),
        1
    );
}
