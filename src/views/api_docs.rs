//! The API reference at `/api/docs`, rendered from the served OpenAPI
//! document (`api::openapi::document`): every operation with its parameters,
//! body and responses, every schema, and the problem types, whose anchors
//! (`#problem-<kind>`) are the `type` links of the problem documents. Plain
//! HTML: no JavaScript, nothing from elsewhere.

use maud::{html, Markup};
use serde_json::Value;

use crate::views::components::data_table;
use crate::views::layout::public_page;

const METHODS: [&str; 4] = ["get", "post", "patch", "delete"];

/// The whole page. `problems` is (slug, status, title, when) per kind.
pub fn page(doc: &Value, problems: &[(&str, u16, &str, &str)]) -> Markup {
    let body = html! {
        div.stack-lg {
            div.page-head {
                h1 { (text(&doc["info"]["title"])) " reference" }
                p { (prose(text(&doc["info"]["description"]))) }
            }
            (basics(doc))
            (contents(doc))
            @for tag in list(&doc["tags"]) { (tag_section(doc, tag)) }
            (webhooks(doc))
            section #schemas.stack {
                h2 { "Schemas" }
                @if let Some(schemas) = doc["components"]["schemas"].as_object() {
                    @for (name, schema) in schemas { (schema_card(name, schema)) }
                }
            }
            section #problems.stack {
                h2 { "Problem types" }
                p.muted { "Every error is " code { "application/problem+json" } " with these " code { "type" } " links." }
                @for (slug, status, title, when) in problems {
                    div.card id={ "problem-" (slug) } {
                        div.card-head { h3 { (title) } span.badge.badge-gray { (status) } }
                        p { (prose(when)) }
                    }
                }
            }
        }
    };
    public_page("API reference", None, body)
}

/// `text` with its `code spans` (the document's Markdown) as `code`.
fn prose(text: &str) -> Markup {
    html! {
        @for (i, part) in text.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// Operations as (method, path, operation), in document order.
fn operations(doc: &Value) -> Vec<(&str, &str, &Value)> {
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                if item[method].is_object() {
                    out.push((method, path.as_str(), &item[method]));
                }
            }
        }
    }
    out
}

fn op_anchor(op: &Value) -> String {
    format!("op-{}", text(&op["operationId"]))
}

fn basics(doc: &Value) -> Markup {
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    html! {
        div.card.stack-sm {
            h2 { "Authentication" }
            p { (prose(text(&scheme["description"]))) " Send it as " code { "Authorization: Bearer " (text(&scheme["bearerFormat"])) } "." }
            p { "Every answer to a valid key carries " code { "RateLimit-Limit" } ", " code { "RateLimit-Remaining" } " and " code { "RateLimit-Reset" } "; a POST accepts " code { "Idempotency-Key" } "." }
            p { "The same document as JSON: " a href="/api/v1/openapi.json" { "/api/v1/openapi.json" } " (OpenAPI " (text(&doc["openapi"])) ")." }
        }
    }
}

fn contents(doc: &Value) -> Markup {
    html! {
        nav.card aria-label="Operations" {
            h2 { "Operations" }
            ul.stack-sm {
                @for (method, path, op) in operations(doc) {
                    li {
                        a href={ "#" (op_anchor(op)) } {
                            span.badge.badge-blue { (method.to_uppercase()) } " " code { (path) }
                        }
                        " " span.muted { (text(&op["summary"])) }
                    }
                }
            }
        }
    }
}

fn tag_section(doc: &Value, tag: &Value) -> Markup {
    let name = text(&tag["name"]);
    html! {
        section.stack id={ "tag-" (name) } {
            h2 { (name) }
            p.muted { (prose(text(&tag["description"]))) }
            @for (method, path, op) in operations(doc) {
                @if list(&op["tags"]).iter().any(|t| t == name) {
                    (operation(method, path, op))
                }
            }
        }
    }
}

fn operation(method: &str, path: &str, op: &Value) -> Markup {
    html! {
        article.card.stack-sm id=(op_anchor(op)) {
            div.card-head {
                h3 { span.badge.badge-blue { (method.to_uppercase()) } " " code { (path) } }
            }
            p { strong { (text(&op["summary"])) } }
            @if op["description"].is_string() { p { (prose(text(&op["description"]))) } }
            @if !list(&op["parameters"]).is_empty() {
                h4 { "Parameters" }
                (data_table(&["Name", "In", "Type", "Description"], false, html! {
                    @for p in list(&op["parameters"]) {
                        tr {
                            td.stack-title { code { (text(&p["name"])) } @if p["required"] == true { " " span.badge.badge-gray { "required" } } }
                            td data-label="In" { (text(&p["in"])) }
                            td data-label="Type" { (type_of(&p["schema"])) }
                            td.wrap data-label="Description" { (prose(text(&p["description"]))) }
                        }
                    }
                }))
            }
            @if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
                h4 { "Request body" }
                p { code { "application/json" } ": " (type_of(&Value::Object(body.clone()))) }
            }
            h4 { "Responses" }
            (data_table(&["Status", "Body", "Description"], false, html! {
                @if let Some(responses) = op["responses"].as_object() {
                    @for (status, r) in responses {
                        tr {
                            td.nowrap.stack-title { (status) }
                            td data-label="Body" { (response_body(r)) }
                            td.wrap data-label="Description" { (prose(text(&r["description"]))) }
                        }
                    }
                }
            }))
        }
    }
}

fn response_body(r: &Value) -> Markup {
    match r["content"].as_object().and_then(|c| c.iter().next()) {
        Some((media, content)) => {
            html! { (type_of(&content["schema"])) br; span.small.muted { (media) } }
        }
        None => html! { span.muted { "none" } },
    }
}

/// A schema's type in a few words, linking to named schemas.
fn type_of(schema: &Value) -> Markup {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return html! { a href={ "#schema-" (name) } { (name) } };
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        let parts = list(&schema[combinator]);
        if !parts.is_empty() {
            let joiner = if combinator == "allOf" {
                " and "
            } else {
                " or "
            };
            return html! {
                @for (i, part) in parts.iter().enumerate() {
                    @if i > 0 { (joiner) }
                    (type_of(part))
                }
            };
        }
    }
    let kinds: Vec<&str> = match &schema["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    html! {
        @for (i, kind) in kinds.iter().enumerate() {
            @if i > 0 { " or " }
            @if *kind == "array" { "array of " (type_of(&schema["items"])) } @else { (kind) }
        }
        @if kinds.is_empty() && schema.get("items").is_none() { "any" }
        @if let Some(format) = schema["format"].as_str() { " (" (format) ")" }
        @if !list(&schema["enum"]).is_empty() {
            ": "
            @for (i, v) in list(&schema["enum"]).iter().enumerate() {
                @if i > 0 { ", " }
                code { (v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())) }
            }
        }
    }
}

/// The `webhooks` section: each event a webhook endpoint can receive, with
/// the fields of its `data`.
fn webhooks(doc: &Value) -> Markup {
    let Some(events) = doc["webhooks"].as_object() else {
        return html! {};
    };
    html! {
        section #webhooks.stack {
            h2 { "Webhooks" }
            p.muted {
                "Plans with custom integrations send these events to the endpoints set up in Settings → Webhooks: a "
                code { "POST" } " with " code { "webhook-id" } ", " code { "webhook-timestamp" } " and "
                code { "webhook-signature" } " (Standard Webhooks) and this JSON body: "
                code { "{\"id\", \"type\", \"created_at\", \"organization_id\", \"data\"}" } "."
            }
            @for (name, item) in events {
                @let op = &item["post"];
                @let data = &op["requestBody"]["content"]["application/json"]["schema"]["properties"]["data"];
                div.card.stack-sm id={ "webhook-" (name.replace('.', "-")) } {
                    h3 { code { (name) } }
                    p { (prose(text(&op["summary"]))) }
                    (schema_body(data))
                }
            }
        }
    }
}

fn schema_card(name: &str, schema: &Value) -> Markup {
    html! {
        div.card.stack-sm id={ "schema-" (name) } {
            h3 { (name) }
            @if schema["description"].is_string() { p { (prose(text(&schema["description"]))) } }
            (schema_body(schema))
            @if let Some(example) = schema.get("example") {
                p.small.muted { "Example: " code { (example.to_string()) } }
            }
        }
    }
}

/// The fields of an object schema (of each part, for `allOf`), or its type.
fn schema_body(schema: &Value) -> Markup {
    let required = list(&schema["required"]);
    html! {
        @if !list(&schema["allOf"]).is_empty() {
            @for part in list(&schema["allOf"]) {
                @if part["$ref"].is_string() { p { "All the fields of " (type_of(part)) ", and:" } }
                @else { (schema_body(part)) }
            }
        } @else if let Some(props) = schema["properties"].as_object() {
            (data_table(&["Field", "Type", "Description"], false, html! {
                @for (field, prop) in props {
                    tr {
                        td.stack-title { code { (field) } @if required.iter().any(|r| r == field.as_str()) { " " span.badge.badge-gray { "required" } } }
                        td data-label="Type" { (type_of(prop)) }
                        td.wrap data-label="Description" {
                            (prose(text(&prop["description"])))
                            @if let Some(example) = prop.get("example") { " " span.small.muted { "Example: " code { (example.to_string()) } } }
                        }
                    }
                }
            }))
            @if schema["additionalProperties"] == false { p.small.muted { "Other fields are refused." } }
        } @else {
            p { (type_of(schema)) }
        }
    }
}
