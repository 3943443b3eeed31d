//! `next=` after sign-in: only a path on this site is followed; everything
//! else lands on the dashboard.

use crate::common::{TestApp, PASSWORD};

/// Targets a browser would read as another site (tab and newline are dropped
/// by browsers, `\` is read as `/`), raw and percent-encoded.
const OFF_SITE: &[&str] = &[
    "/\t/evil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "/%2F%2Fevil.example",
    "https://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
];

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[actix_rt::test]
async fn sign_in_never_redirects_off_site() {
    let app = TestApp::new().await;
    app.signup("Ann", "ann@example.com").await;
    for next in OFF_SITE {
        let c = app.client();
        let form = c.get(&format!("/login?next={}", encode(next))).await;
        assert_eq!(form.status, 200);
        assert!(
            !form.body.contains("name=\"next\""),
            "{next:?} carried into the form"
        );
        let r = c
            .post(
                "/login",
                &[
                    ("email", "ann@example.com"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{next:?}: {}", r.body);
        assert_eq!(r.location(), Some("/dashboard"), "{next:?} was followed");
    }
    let c = app.client();
    c.get("/login?next=%2Fleads%3Fstatus%3Dnew").await;
    let r = c
        .post(
            "/login",
            &[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("next", "/leads?status=new"),
            ],
        )
        .await;
    assert_eq!(
        r.location(),
        Some("/leads?status=new"),
        "a local path is kept"
    );
}
