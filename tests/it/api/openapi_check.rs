//! Checks an API reply against the OpenAPI document the app serves at
//! `/api/v1/openapi.json`: the path and method must be documented (or the
//! reply is a problem document), the status must be one of the operation's
//! responses, the media type one it lists, the body valid against its
//! schema (JSON Schema 2020-12 with the document's `components` as the root,
//! so `$ref`s resolve into them) and a success carries the headers the
//! response documents. `support::raw` runs it on every reply.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

/// What a reply brought back.
pub struct Seen<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub headers: &'a [&'a str],
    pub body: &'a [u8],
}

/// The document as served (fetched once per test run: it is built from
/// code, the same for every app).
static DOC: Mutex<Option<Arc<Value>>> = Mutex::new(None);

pub async fn served_document(app: &crate::common::TestApp) -> Arc<Value> {
    if let Some(doc) = DOC.lock().unwrap().clone() {
        return doc;
    }
    let client = awc::Client::default();
    let mut res = client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("the OpenAPI document is served");
    assert_eq!(res.status().as_u16(), 200, "GET /api/v1/openapi.json");
    let bytes = res.body().limit(4 * 1024 * 1024).await.unwrap();
    let doc: Value = serde_json::from_slice(&bytes).expect("the document is JSON");
    let doc = Arc::new(doc);
    *DOC.lock().unwrap() = Some(doc.clone());
    doc
}

/// The operation's path template that `path` (without its query) matches.
fn template_of<'d>(doc: &'d Value, path: &str) -> Option<&'d str> {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    let paths = doc["paths"].as_object()?;
    let matches = |t: &str| {
        let tparts: Vec<&str> = t.split('/').collect();
        tparts.len() == parts.len()
            && tparts
                .iter()
                .zip(&parts)
                .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
    };
    // A literal path wins over a template.
    paths
        .keys()
        .filter(|t| matches(t))
        .min_by_key(|t| t.matches('{').count())
        .map(String::as_str)
}

/// Checks a webhook delivery body against the document's `webhooks`
/// section for its `type`: an undocumented type or a body that does not
/// match fails.
pub fn check_webhook(doc: &Value, body: &str) -> Result<(), String> {
    let instance: Value = serde_json::from_str(body)
        .map_err(|e| format!("webhook body is not JSON ({e}): {body}"))?;
    let kind = instance["type"].as_str().unwrap_or("");
    let schema = doc["webhooks"][kind]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]
        .clone();
    if schema.is_null() {
        return Err(format!(
            "webhook type {kind:?} is not in the document's webhooks section"
        ));
    }
    validate(doc, &schema, &instance).map_err(|e| format!("webhook {kind}: {e}: {body}"))
}

/// Validates `instance` against `schema`, resolving `$ref`s in `doc`.
fn validate(doc: &Value, schema: &Value, instance: &Value) -> Result<(), String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let key = schema.to_string();
    let cache = CACHE.get_or_init(Default::default);
    let found = cache.lock().unwrap().get(&key).cloned();
    let validator = match found {
        Some(v) => v,
        None => {
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": doc["components"],
                "allOf": [schema],
            });
            let v = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .map_err(|e| format!("the document's schema does not compile: {e}"))?;
            let v = Arc::new(v);
            cache.lock().unwrap().insert(key, v.clone());
            v
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn problem(doc: &Value, seen: &Seen) -> Result<(), String> {
    if seen.content_type != Some("application/problem+json") {
        return Err(format!(
            "expected a problem document, got {:?}",
            seen.content_type
        ));
    }
    let body: Value = serde_json::from_slice(seen.body).map_err(|e| format!("not JSON: {e}"))?;
    validate(
        doc,
        &json!({ "$ref": "#/components/schemas/Problem" }),
        &body,
    )
}

/// `Ok` when the reply is one the document describes; why not otherwise.
pub fn check(doc: &Value, seen: &Seen) -> Result<(), String> {
    let Some(template) = template_of(doc, seen.path) else {
        // Unknown paths answer a problem (404), as the reference says.
        return problem(doc, seen);
    };
    let op = &doc["paths"][template][seen.method.to_lowercase()];
    if !op.is_object() {
        return match seen.status {
            405 => problem(doc, seen),
            s => Err(format!(
                "{} {template} is not documented, yet it answered {s}",
                seen.method
            )),
        };
    }
    let response = &op["responses"][seen.status.to_string()];
    if !response.is_object() {
        return Err(format!(
            "status {} is not a documented response of {} {template}",
            seen.status, seen.method
        ));
    }
    if (200..300).contains(&seen.status) {
        if let Some(headers) = response["headers"].as_object() {
            for name in headers.keys() {
                if !seen.headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                    return Err(format!("documented header {name} is missing"));
                }
            }
        }
    }
    let Some(content) = response["content"].as_object() else {
        return match seen.body.is_empty() {
            true => Ok(()),
            false => Err("a body where the document says there is none".into()),
        };
    };
    let media = seen
        .content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim())
        .unwrap_or("");
    let Some(media_doc) = content.get(media) else {
        return Err(format!(
            "media type {media:?} is not documented for {}",
            seen.status
        ));
    };
    let body: Value = serde_json::from_slice(seen.body).map_err(|e| format!("not JSON: {e}"))?;
    validate(doc, &media_doc["schema"], &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> Value {
        json!({
            "id": "0193a3c4-0000-7000-8000-000000000001",
            "first_name": "Anna", "last_name": "", "email": "anna@example.com",
            "company": "", "title": "", "phone": "", "status": "new",
            "tags": ["vip"], "notes": "",
            "owner_user_id": null,
            "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z"
        })
    }

    fn seen<'a>(status: u16, media: &'a str, body: &'a [u8]) -> Seen<'a> {
        Seen {
            method: "GET",
            path: "/api/v1/leads/0193a3c4-0000-7000-8000-000000000001",
            status,
            content_type: Some(media),
            headers: &["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
            body,
        }
    }

    /// The checker passes a good reply and fails every kind of mismatch.
    #[test]
    fn a_webhook_body_that_does_not_match_the_document_fails() {
        let doc = lead_dashboard::api::openapi::document();
        let org = "01a23220-0000-7000-8000-000000000001";
        let good = json!({
            "id": org, "type": "member.joined", "created_at": "2026-12-01T10:00:00Z",
            "organization_id": org,
            "data": { "user_id": org, "name": "Ann", "email": "ann@example.com", "role": "MEMBER" }
        });
        assert_eq!(check_webhook(doc, &good.to_string()), Ok(()));
        let mut missing = good.clone();
        missing["data"].as_object_mut().unwrap().remove("email");
        assert!(check_webhook(doc, &missing.to_string()).is_err());
        let mut unknown = good.clone();
        unknown["type"] = json!("lead.exploded");
        assert!(check_webhook(doc, &unknown.to_string()).is_err());
        let mut bad_id = good;
        bad_id["organization_id"] = json!("not-a-uuid");
        assert!(check_webhook(doc, &bad_id.to_string()).is_err());
    }

    #[test]
    fn a_reply_that_does_not_match_the_document_fails() {
        let doc = lead_dashboard::api::openapi::document();
        let good = serde_json::to_vec(&lead()).unwrap();
        assert_eq!(check(doc, &seen(200, "application/json", &good)), Ok(()));

        let mut no_email = lead();
        no_email.as_object_mut().unwrap().remove("email");
        let mut bad_status = lead();
        bad_status["status"] = json!("won");
        let mut bad_id = lead();
        bad_id["id"] = json!("not-a-uuid");
        for wrong in [no_email, bad_status, bad_id] {
            let body = serde_json::to_vec(&wrong).unwrap();
            let r = check(doc, &seen(200, "application/json", &body));
            assert!(r.is_err(), "{wrong} must not pass");
        }
        assert!(
            check(doc, &seen(418, "application/json", &good)).is_err(),
            "undocumented status"
        );
        assert!(
            check(doc, &seen(200, "text/html", &good)).is_err(),
            "wrong media type"
        );
        let problem = br#"{"type":"/api/docs#problem-nope","title":"x","status":404,"detail":"x"}"#;
        assert!(
            check(doc, &seen(404, "application/problem+json", problem)).is_err(),
            "a problem type the reference does not describe"
        );
        let no_headers = Seen {
            headers: &[],
            ..seen(200, "application/json", &good)
        };
        assert!(
            check(doc, &no_headers).is_err(),
            "RateLimit headers missing"
        );
    }
}
