//! The OpenAPI 3.1 document of the API, derived from the handlers'
//! `#[utoipa::path]` attributes and the `ToSchema` types they return, then
//! completed with what every operation shares (the bearer scheme, the
//! problem responses of the key middleware and the readers, the `RateLimit-*`
//! headers, `Idempotency-Key`). Served at `/api/v1/openapi.json` without a
//! key; `/api/docs` renders the same document.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use crate::api::problem::{KINDS, PROBLEM_JSON};
use crate::api::{leads, messages, organization, sequences, templates};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lead Dashboard API",
        version = "1",
        description = "JSON over HTTPS for organizations whose plan includes API access \
            (Professional and Enterprise). Create a key under Settings → API keys and send it \
            as `Authorization: Bearer <key>`. Ids are UUID strings, times RFC 3339 in UTC. \
            Every error is an RFC 9457 problem document (`application/problem+json`)."
    ),
    paths(
        organization::organization,
        organization::usage,
        leads::list,
        leads::create,
        leads::show,
        leads::update,
        leads::delete,
        templates::list,
        templates::create,
        templates::show,
        templates::update,
        templates::delete,
        sequences::list,
        sequences::show,
        sequences::enrol,
        messages::list,
        messages::send,
        messages::show,
    ),
    components(schemas(crate::api::problem::ProblemDoc)),
    security(("bearer" = [])),
    tags(
        (name = "organization", description = "The key's organization and its usage."),
        (name = "leads", description = "Leads, with the lead form's rules and the monthly limit."),
        (name = "templates", description = "Message templates: own ones and the global ones (read-only)."),
        (name = "sequences", description = "Sequences and enrolling leads in them."),
        (name = "messages", description = "Sending a template to a lead, and the message history."),
    )
)]
struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        complete(&mut doc);
        doc
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// `GET /api/docs`: the reference page, rendered from the document.
pub async fn docs() -> HttpResponse {
    let page = crate::views::api_docs::page(document(), KINDS);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.into_string())
}

/// The problem response of `status`, described by its kinds in `KINDS`.
fn problem_response(status: u16) -> Value {
    let description = KINDS
        .iter()
        .filter(|k| k.1 == status)
        .map(|k| k.3)
        .collect::<Vec<_>>()
        .join(" Or: ");
    json!({
        "description": description,
        "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

/// The `RateLimit-*` headers every answer to a known key carries.
fn rate_headers() -> Value {
    let header = |d: &str| json!({ "description": d, "schema": { "type": "integer" } });
    json!({
        "RateLimit-Limit": header("Calls allowed per minute on the organization's plan."),
        "RateLimit-Remaining": header("Calls left in the current minute."),
        "RateLimit-Reset": header("Seconds until the minute ends."),
    })
}

/// Adds what every operation shares to the derived document.
fn complete(doc: &mut Value) {
    // A problem's `type` is one of the kinds the reference describes.
    doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"] = KINDS
        .iter()
        .map(|k| Value::String(format!("/api/docs#problem-{}", k.0)))
        .collect();
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ld_<8-character prefix>_<secret>",
            "description": "An API key from Settings → API keys. `read` keys read; `read_write` keys also write."
        }
    });
    doc["webhooks"] = webhooks();
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            // utoipa names an operation after its handler (`list`, `show`…),
            // which repeats across resources; ids must be unique.
            let id = format!(
                "{}_{}",
                op["tags"][0].as_str().unwrap_or("api"),
                op["operationId"].as_str().unwrap_or(method)
            );
            op["operationId"] = Value::String(id);
            complete_operation(method, op);
        }
    }
}

/// The `webhooks` section (OpenAPI 3.1): one POST per event type, with the
/// Standard Webhooks headers and the body each delivery carries.
fn webhooks() -> Value {
    use crate::webhooks::events::{envelope_schema, summary, EventType};
    let header = |name: &str, d: &str| json!({ "name": name, "in": "header", "required": true, "description": d, "schema": { "type": "string" } });
    let params = json!([
        header("webhook-id", "The event's id; the same on every retry, for deduplication."),
        header("webhook-timestamp", "Seconds since the Unix epoch when this attempt was signed."),
        header("webhook-signature", "`v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">` with the endpoint's secret (two, space-separated, during a rotation). See docs/webhooks.md."),
    ]);
    let mut out = serde_json::Map::new();
    for t in EventType::ALL.into_iter().chain([EventType::Test]) {
        out.insert(
            t.as_str().to_string(),
            json!({ "post": {
                "operationId": format!("webhook_{}", t.as_str().replace('.', "_")),
                "summary": summary(t),
                "tags": ["webhooks"],
                "parameters": params,
                "requestBody": { "required": true, "content": { "application/json": { "schema": envelope_schema(t) } } },
                "responses": {
                    "2XX": { "description": "Received. Any other answer, a timeout (10 s) or a redirect is retried." }
                }
            }}),
        );
    }
    Value::Object(out)
}

fn complete_operation(method: &str, op: &mut Value) {
    let has_body = op.get("requestBody").is_some();
    let params: Vec<Value> = op["parameters"].as_array().cloned().unwrap_or_default();
    let in_path = params.iter().any(|p| p["in"] == "path");
    let mut statuses = vec![401, 403, 429, 500, 503];
    if has_body || !params.is_empty() {
        statuses.push(400);
    }
    if in_path {
        statuses.push(404);
    }
    if has_body {
        statuses.extend([413, 415]);
    }
    if method == "post" {
        // A reused Idempotency-Key with another body.
        statuses.push(409);
    }
    let responses = op["responses"].as_object_mut().cloned().unwrap_or_default();
    let mut all: Map<String, Value> = responses;
    for status in statuses {
        all.entry(status.to_string())
            .or_insert_with(|| problem_response(status));
    }
    for (status, response) in all.iter_mut() {
        if status != "401" {
            let headers = response["headers"].as_object().cloned().unwrap_or_default();
            let mut merged = rate_headers().as_object().cloned().unwrap_or_default();
            merged.extend(headers);
            response["headers"] = Value::Object(merged);
        }
    }
    op["responses"] = Value::Object(all);
    if method == "post" {
        let mut params = params;
        params.push(json!({
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "1–255 visible ASCII characters. A retry with the same key and body within 24 hours gets the first response again (`Idempotent-Replayed: true`); the same key with another body is 409.",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255 },
            "example": "order-42"
        }));
        op["parameters"] = Value::Array(params);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_document_with_its_problems() {
        let doc = document();
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..4]), Some("3.1."));
        for (method, path) in crate::api::ROUTES {
            let op = &doc["paths"][*path][method.to_lowercase()];
            assert!(op.is_object(), "{method} {path} is documented");
            for status in ["401", "403", "429"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{method} {path} {status}"
                );
            }
        }
        let mut ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap())
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "operation ids are unique: {ids:?}");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in ["Problem", "LeadOut", "MessageOut", "EnrolOut", "LeadFields"] {
            assert!(schemas.contains_key(name), "{name} in components");
        }
    }

    #[test]
    fn every_problem_the_api_answers_with_is_described() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
        for s in problem_slugs(&src) {
            assert!(
                KINDS.iter().any(|k| k.0 == s),
                "problem kind {s} is in problem::KINDS (and so in /api/docs)"
            );
        }
    }

    /// The slugs passed to `Problem::new(status, "<slug>", …)` in `dir`.
    fn problem_slugs(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("openapi.rs") {
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap_or_default();
            for part in text.split("Problem::new(").skip(1) {
                if let Some(slug) = part.split('"').nth(1) {
                    out.push(slug.to_string());
                }
            }
        }
        assert!(out.len() > 5, "found the problem kinds: {out:?}");
        out
    }
}
