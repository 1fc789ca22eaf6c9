//! The document's shape: every route of the router is in it, and every JSON body it names
//! has a schema of the wire types (a component), never a bare object.

use serde_json::Value;

use super::document;

/// Every route of `router` but the approvals page (`/ui`, HTML).
const ROUTES: [(&str, &str); 22] = [
    ("get", "/healthz"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/v1/evaluate"),
    ("post", "/v1/execute"),
    ("get", "/v1/runs/{id}"),
    ("post", "/v1/runs/{id}/events"),
    ("get", "/v1/audit/records"),
    ("get", "/v1/audit/checkpoint"),
    ("post", "/v1/hooks/claude-code"),
    ("get", "/v1/approvals"),
    ("get", "/v1/approvals/{id}"),
    ("post", "/v1/approvals/{id}/approve"),
    ("post", "/v1/approvals/{id}/reject"),
    ("post", "/v1/standing-grants"),
    ("get", "/v1/standing-grants"),
    ("post", "/v1/standing-grants/{id}/revoke"),
    ("post", "/v1/tokens/revoke"),
    ("post", "/v1/effects/reconcile"),
    ("post", "/v1/effects/{id}/rollback"),
    ("post", "/v1/runs/{id}/rollback"),
];

/// Whether `schema` names a component, directly or as the items of an array.
fn typed(schema: &Value) -> bool {
    schema["$ref"].as_str().is_some_and(|r| r.starts_with("#/components/schemas/"))
        || schema["items"]["$ref"].as_str().is_some_and(|r| r.starts_with("#/components/schemas/"))
}

#[test]
fn the_document_lists_every_route_with_typed_bodies() {
    let doc = document();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut count = 0;
    for (method, path) in ROUTES {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} missing");
        if let Some(body) = operation.get("requestBody") {
            let schema = &body["content"]["application/json"]["schema"];
            assert!(typed(schema), "{method} {path}: untyped request body {schema}");
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            let Some(schema) = response["content"].get("application/json").map(|c| &c["schema"])
            else {
                continue;
            };
            if path != "/openapi.json" {
                assert!(typed(schema), "{method} {path} {status}: untyped answer {schema}");
            }
            let name = schema["$ref"].as_str().or(schema["items"]["$ref"].as_str());
            if let Some(name) = name.and_then(|r| r.strip_prefix("#/components/schemas/")) {
                assert!(schemas.contains_key(name), "{method} {path}: no component `{name}`");
            }
        }
        count += 1;
    }
    let listed: usize =
        doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(listed, count, "the document has operations this test does not know");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn every_reference_points_at_a_component() {
    fn walk(value: &Value, schemas: &serde_json::Map<String, Value>) {
        match value {
            Value::Object(fields) => {
                if let Some(Value::String(target)) = fields.get("$ref") {
                    let name = target.strip_prefix("#/components/schemas/").unwrap_or(target);
                    assert!(schemas.contains_key(name), "dangling `$ref` {target}");
                }
                fields.values().for_each(|v| walk(v, schemas));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, schemas)),
            _ => {}
        }
    }
    let doc = document();
    walk(&doc, doc["components"]["schemas"].as_object().unwrap());
}
