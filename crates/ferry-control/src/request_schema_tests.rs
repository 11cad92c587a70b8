//! The OpenAPI document's request bodies against the types the handlers decode, which are
//! declared apart (ferry-api): every operation with a body is sent one that gives each
//! property its schema names, and must take it and keep what it echoes; a property the schema
//! does not name must be refused by name, as the document's `additionalProperties: false`
//! says.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use ferry_types::ErrorCode;
use serde_json::{json, Map, Value};

use crate::test_support::{self_signed, Api};

/// Properties taken but not answered as sent, by collection, and why.
const NOT_ECHOED: &[(&str, &str, &str)] = &[
    (
        "/tls_certificates",
        "private_key_pem",
        "kept for serving, never answered",
    ),
    (
        "/reserved_domains",
        "certificate_id",
        "answered as `certificate`, a reference",
    ),
    (
        "/reserved_domains",
        "region",
        "deprecated by ngrok: taken, answered as \"\"",
    ),
];

/// A value of `schema` for the property `name` of a body sent to `path`: one that the
/// handler's checks take where they check it (a domain, a PEM, an ACL rule), else any value
/// of the schema's type.
fn value(path: &str, name: &str, schema: &Value, pems: &HashMap<&str, String>) -> Value {
    if let Some(pem) = pems.get(name) {
        return json!(pem);
    }
    match (name, schema["type"].as_str()) {
        ("domain", _) if path.starts_with("/agent_ingresses") => json!("connect.example.test"),
        ("domain", _) => json!("app.example.test"),
        ("region", _) => json!("us"),
        ("owner_id" | "certificate_id", _) => json!(""),
        ("acl", _) => json!(["bind:*.example.test"]),
        ("authority", _) => json!("letsencrypt"),
        ("private_key_type", _) => json!("ecdsa"),
        (_, Some("object")) => body(path, schema, pems),
        (_, Some("array")) => json!([value(path, name, &schema["items"], pems)]),
        (_, Some("boolean")) => json!(true),
        (_, Some("integer")) => json!(1),
        _ => json!(format!("{name} sent")),
    }
}

/// An object giving every property of `schema` a value.
fn body(path: &str, schema: &Value, pems: &HashMap<&str, String>) -> Value {
    let mut out = Map::new();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        out.insert(name.clone(), value(path, name, property, pems));
    }
    Value::Object(out)
}

#[tokio::test]
async fn every_request_body_property_is_taken_and_no_other() {
    let api = Api::new().await;
    let ca = self_signed(true);
    let leaf = self_signed(false);
    let pems = HashMap::from([
        ("ca_pem", ca.cert.pem()),
        ("certificate_pem", leaf.cert.pem()),
        ("private_key_pem", leaf.key_pair.serialize_pem()),
    ]);
    let doc = crate::openapi::document("https://api.test");
    // Collections sort before their `/{id}` paths, so each one is made before it is changed.
    let mut made: HashMap<String, String> = HashMap::new();
    let mut checked = 0;
    for (template, operations) in doc["paths"].as_object().expect("paths") {
        for (method, op) in operations.as_object().expect("operations") {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if schema.is_null() {
                continue;
            }
            let path = match template.split_once("/{id}") {
                Some((collection, rest)) => {
                    let id = made.get(collection).expect("made by its collection's POST");
                    format!("{collection}/{id}{rest}")
                }
                None => template.clone(),
            };
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("verb");
            let sent = body(template, schema, &pems);

            let mut unknown = sent.clone();
            unknown["ferry_not_in_the_schema"] = json!("x");
            let (status, v) = api.call(method.clone(), &path, Some(unknown)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {v}");
            assert_eq!(
                v["error_code"],
                ErrorCode::FieldUnknown.to_string(),
                "{method} {path}: {v}"
            );
            assert!(
                v["msg"]
                    .as_str()
                    .is_some_and(|m| m.contains("ferry_not_in_the_schema")),
                "{method} {path}: {v}"
            );

            let (status, answer) = api.call(method.clone(), &path, Some(sent.clone())).await;
            assert!(
                status.is_success(),
                "{method} {path} refused {sent}: {answer}"
            );
            if method == Method::POST && template == &path {
                let id = answer["id"].as_str().expect("id").to_string();
                made.insert(path.clone(), id);
            }
            if answer["id"].is_string() {
                for (name, given) in sent.as_object().expect("an object") {
                    if NOT_ECHOED
                        .iter()
                        .any(|(c, n, _)| template.starts_with(c) && n == name)
                    {
                        continue;
                    }
                    assert_eq!(&answer[name], given, "{method} {path}: {name} in {answer}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} operations with a body");
}
