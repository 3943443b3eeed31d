//! Error pages for signed-in people stay inside the app: the navigation and
//! organization switcher remain, instead of the public "Sign in" layout.
//! Signed-out visitors and HTMX requests keep their own forms of the error.

use crate::common::TestApp;
use crate::team::support::join;

/// Marks of the signed-in shell and of the public one.
fn in_app_shell(body: &str) -> bool {
    body.contains(r#"<body class="app""#) && body.contains("Usage &amp; plan")
}

fn in_public_shell(body: &str) -> bool {
    body.contains(r#"<body class="public""#) && body.contains("Start free trial")
}

#[actix_web::test]
async fn a_missing_page_for_a_signed_in_member_keeps_the_app_around_it() {
    let app = TestApp::new().await;
    let ann = app.signup("Ann", "ann@example.com").await;
    for path in ["/no-such-page", &format!("/leads/{}", uuid::Uuid::now_v7())] {
        let r = ann.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(in_app_shell(&r.body), "{path} inside the app: {}", r.body);
        assert!(!in_public_shell(&r.body), "{path} not the public layout");
        assert!(r.body.contains("Ann&#39;s Organization") || r.body.contains("Ann's Organization"));
        assert!(
            r.body.contains("Back to the dashboard"),
            "{path}: the way back"
        );
    }
}

#[actix_web::test]
async fn a_forbidden_page_for_a_viewer_keeps_the_app_around_it() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    let viewer = join(
        &app,
        "ann-s-organization",
        "Vic",
        "vic@example.com",
        "VIEWER",
    )
    .await;
    let r = viewer.get("/settings/api-keys").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(in_app_shell(&r.body), "inside the app: {}", r.body);
    assert!(r.body.contains("Not allowed"));
}

#[actix_web::test]
async fn signed_out_visitors_and_htmx_requests_keep_their_forms_of_the_error() {
    let app = TestApp::new().await;
    let r = app.client().get("/no-such-page").await;
    assert_eq!(r.status, 404);
    assert!(in_public_shell(&r.body), "public layout: {}", r.body);

    let ann = app.signup("Ann", "ann@example.com").await;
    let r = ann.get_htmx("/no-such-page").await;
    assert_eq!(r.status, 404);
    assert!(
        !r.body.contains("<body") && r.body.contains("flash-error"),
        "a fragment for #flash: {}",
        r.body
    );
}
