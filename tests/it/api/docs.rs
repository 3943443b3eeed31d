//! The OpenAPI document and the reference page: served without a key, every
//! route documented, and the reference has an anchor for every problem
//! `type` the API sends and every operation.

use super::support::*;
use crate::common::TestApp;

#[actix_web::test]
async fn the_document_is_served_without_a_key_and_names_every_route() {
    let app = TestApp::new().await;
    let doc = served_document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (method, path) in lead_dashboard::api::ROUTES {
        let op = &doc["paths"][*path][method.to_lowercase()];
        assert!(op["responses"].is_object(), "{method} {path}");
        assert!(op["summary"].is_string(), "{method} {path} has a summary");
    }
    let r = app.client().get("/api/v1/openapi.json").await;
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[actix_web::test]
async fn the_reference_page_has_every_operation_and_problem_anchor() {
    let app = TestApp::new().await;
    let page = app.client().get("/api/docs").await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    for (slug, ..) in lead_dashboard::api::problem::KINDS {
        assert!(
            page.body.contains(&format!("id=\"problem-{slug}\"")),
            "anchor for {slug}"
        );
    }
    let doc = served_document(&app).await;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(
                page.body.contains(&format!("id=\"op-{id}\"")),
                "anchor for {id}"
            );
        }
    }
    assert!(page.body.contains("id=\"schema-LeadOut\""));
    for outside in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(
            !page.body.contains(outside),
            "nothing loaded from elsewhere"
        );
    }
    // The `type` of a real problem document points at an anchor of the page.
    let r = call(&app, "GET", "/api/v1/leads", None, None).await;
    let anchor = r.json["type"]
        .as_str()
        .unwrap()
        .split('#')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(page.body.contains(&format!("id=\"{anchor}\"")));
}

#[actix_web::test]
async fn every_webhook_event_is_in_the_document_and_on_the_reference_page() {
    use lead_dashboard::webhooks::events::EventType;
    let app = TestApp::new().await;
    let doc = served_document(&app).await;
    let page = app.client().get("/api/docs").await;
    for t in EventType::ALL {
        let op = &doc["webhooks"][t.as_str()]["post"];
        let body = &op["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(
            body["properties"]["type"]["const"],
            t.as_str(),
            "{}",
            t.as_str()
        );
        assert!(
            body["properties"]["data"].is_object(),
            "{} has a data schema",
            t.as_str()
        );
        let anchor = format!("id=\"webhook-{}\"", t.as_str().replace('.', "-"));
        assert!(page.body.contains(&anchor), "{anchor} on /api/docs");
    }
}
