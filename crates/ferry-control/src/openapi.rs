//! `/openapi.json`: the API as OpenAPI 3.0, built from the same list of resources the router
//! serves, so the document and the server stay in step (schemathesis checks them against each
//! other in scripts/test.sh).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::AppState;

fn s() -> Value {
    json!({ "type": "string" })
}

fn ns() -> Value {
    json!({ "type": "string", "nullable": true })
}

fn b() -> Value {
    json!({ "type": "boolean" })
}

fn int() -> Value {
    json!({ "type": "integer" })
}

fn strings() -> Value {
    json!({ "type": "array", "items": s() })
}

fn null_obj() -> Value {
    json!({ "type": "object", "nullable": true })
}

fn any_obj() -> Value {
    json!({ "type": "object" })
}

/// An object with every property present (ngrok's clients read each key directly).
fn obj(props: &[(&str, Value)]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert((*k).to_string(), v.clone());
    }
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    json!({ "type": "object", "properties": p, "required": required })
}

/// A request body: every field optional, nothing else allowed.
fn input(props: &[(&str, Value)], required: &[&str]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert((*k).to_string(), v.clone());
    }
    let mut schema = json!({ "type": "object", "properties": p, "additionalProperties": false });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

fn reference() -> Value {
    obj(&[("id", s()), ("uri", s())])
}

fn policy() -> Value {
    let mut p = obj(&[("authority", s()), ("private_key_type", s())]);
    p["nullable"] = json!(true);
    p
}

fn policy_input() -> Value {
    input(&[("authority", s()), ("private_key_type", s())], &[])
}

fn error() -> Value {
    obj(&[
        ("error_code", s()),
        ("status_code", int()),
        ("msg", s()),
        ("details", any_obj()),
    ])
}

struct Resource {
    path: &'static str,
    prefix: &'static str,
    list_key: &'static str,
    name: &'static str,
    item: Value,
    create: Option<Value>,
    update: Option<Value>,
}

fn resources() -> Vec<Resource> {
    let dm = || vec![("description", s()), ("metadata", s())];
    let with = |extra: Vec<(&'static str, Value)>| {
        let mut v = dm();
        v.extend(extra);
        v
    };
    vec![
        Resource {
            path: "/api_keys",
            prefix: "ak",
            list_key: "keys",
            name: "ApiKey",
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("description", s()),
                ("metadata", s()),
                ("created_at", s()),
                ("token", ns()),
                ("owner_id", s()),
            ]),
            create: Some(input(&with(vec![("owner_id", s())]), &[])),
            update: Some(input(&dm(), &[])),
        },
        Resource {
            path: "/bot_users",
            prefix: "bot",
            list_key: "bot_users",
            name: "BotUser",
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("name", s()),
                ("active", b()),
                ("created_at", s()),
            ]),
            create: Some(input(&[("name", s()), ("active", b())], &[])),
            update: Some(input(&[("name", s()), ("active", b())], &[])),
        },
        Resource {
            path: "/credentials",
            prefix: "cr",
            list_key: "credentials",
            name: "Credential",
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("created_at", s()),
                ("description", s()),
                ("metadata", s()),
                ("token", ns()),
                ("acl", strings()),
                ("owner_id", s()),
            ]),
            create: Some(input(
                &with(vec![("acl", strings()), ("owner_id", s())]),
                &[],
            )),
            update: Some(input(&with(vec![("acl", strings())]), &[])),
        },
        Resource {
            path: "/agent_ingresses",
            prefix: "agin",
            list_key: "ingresses",
            name: "AgentIngress",
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("description", s()),
                ("metadata", s()),
                ("domain", s()),
                ("ns_targets", strings()),
                ("region_domains", strings()),
                ("created_at", s()),
                ("certificate_management_policy", policy()),
                ("certificate_management_status", null_obj()),
            ]),
            create: Some(input(
                &with(vec![
                    ("domain", s()),
                    ("certificate_management_policy", policy_input()),
                ]),
                &["domain"],
            )),
            update: Some(input(
                &with(vec![("certificate_management_policy", policy_input())]),
                &[],
            )),
        },
        Resource {
            path: "/reserved_domains",
            prefix: "rd",
            list_key: "reserved_domains",
            name: "ReservedDomain",
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("created_at", s()),
                ("description", s()),
                ("metadata", s()),
                ("domain", s()),
                ("region", s()),
                ("cname_target", ns()),
                ("http_endpoint_configuration", null_obj()),
                ("https_endpoint_configuration", null_obj()),
                ("certificate", {
                    let mut r = reference();
                    r["nullable"] = json!(true);
                    r
                }),
                ("certificate_management_policy", policy()),
                ("certificate_management_status", null_obj()),
                ("acme_challenge_cname_target", ns()),
                (
                    "resolves_to",
                    json!({ "type": "array", "items": obj(&[("value", s())]) }),
                ),
                ("error_redirect_url", ns()),
                ("is_dev", b()),
            ]),
            create: Some(input(
                &with(vec![
                    ("domain", s()),
                    ("region", s()),
                    ("certificate_id", s()),
                    ("certificate_management_policy", policy_input()),
                    (
                        "resolves_to",
                        json!({ "type": "array", "items": input(&[("value", s())], &["value"]) }),
                    ),
                ]),
                &["domain"],
            )),
            update: Some(input(
                &with(vec![
                    ("certificate_id", s()),
                    ("certificate_management_policy", policy_input()),
                    (
                        "resolves_to",
                        json!({ "type": "array", "items": input(&[("value", s())], &["value"]) }),
                    ),
                ]),
                &[],
            )),
        },
        Resource {
            path: "/reserved_addrs",
            prefix: "ra",
            list_key: "reserved_addrs",
            name: "ReservedAddr",
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("created_at", s()),
                ("description", s()),
                ("metadata", s()),
                ("addr", s()),
                ("region", s()),
                ("endpoint_configuration", null_obj()),
            ]),
            create: Some(input(&with(vec![("region", s())]), &[])),
            update: Some(input(&dm(), &[])),
        },
        Resource {
            path: "/certificate_authorities",
            prefix: "ca",
            list_key: "certificate_authorities",
            name: "CertificateAuthority",
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("created_at", s()),
                ("description", s()),
                ("metadata", s()),
                ("ca_pem", s()),
                ("subject_common_name", s()),
                ("not_before", s()),
                ("not_after", s()),
                ("key_usages", strings()),
                ("extended_key_usages", strings()),
            ]),
            create: Some(input(&with(vec![("ca_pem", s())]), &["ca_pem"])),
            update: Some(input(&dm(), &[])),
        },
        Resource {
            path: "/tls_certificates",
            prefix: "cert",
            list_key: "tls_certificates",
            name: "TlsCertificate",
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("created_at", s()),
                ("description", s()),
                ("metadata", s()),
                ("certificate_pem", s()),
                ("subject_common_name", s()),
                (
                    "subject_alternative_names",
                    obj(&[("dns_names", strings()), ("ips", strings())]),
                ),
                ("issued_at", ns()),
                ("not_before", s()),
                ("not_after", s()),
                ("key_usages", strings()),
                ("extended_key_usages", strings()),
                ("private_key_type", s()),
                ("issuer_common_name", s()),
                ("serial_number", s()),
                ("subject_organization", s()),
                ("subject_organizational_unit", s()),
                ("subject_locality", s()),
                ("subject_province", s()),
                ("subject_country", s()),
            ]),
            create: Some(input(
                &with(vec![("certificate_pem", s()), ("private_key_pem", s())]),
                &["certificate_pem", "private_key_pem"],
            )),
            update: Some(input(&dm(), &[])),
        },
        Resource {
            path: "/tunnel_sessions",
            prefix: "ts",
            list_key: "tunnel_sessions",
            name: "TunnelSession",
            item: obj(&[
                ("id", s()),
                ("uri", s()),
                ("agent_version", s()),
                ("credential", reference()),
                ("ip", s()),
                ("metadata", s()),
                ("os", s()),
                ("region", s()),
                ("started_at", s()),
                ("transport", s()),
            ]),
            create: None,
            update: None,
        },
        Resource {
            path: "/tunnels",
            prefix: "tn",
            list_key: "tunnels",
            name: "Tunnel",
            item: obj(&[
                ("id", s()),
                ("public_url", s()),
                ("started_at", s()),
                ("metadata", s()),
                ("proto", s()),
                ("region", s()),
                ("tunnel_session", reference()),
                ("endpoint", reference()),
                ("labels", any_obj()),
                ("backends", json!({ "type": "array", "items": reference() })),
                ("forwards_to", s()),
            ]),
            create: None,
            update: None,
        },
        Resource {
            path: "/endpoints",
            prefix: "ep",
            list_key: "endpoints",
            name: "Endpoint",
            item: obj(&[
                ("id", s()),
                ("region", s()),
                ("created_at", s()),
                ("updated_at", s()),
                ("public_url", s()),
                ("proto", s()),
                ("scheme", s()),
                ("hostport", s()),
                ("host", s()),
                ("port", int()),
                ("type", s()),
                ("metadata", s()),
                ("description", s()),
                ("domain", null_obj()),
                ("tcp_addr", null_obj()),
                ("tunnel", reference()),
                ("edge", null_obj()),
                ("principal", null_obj()),
                ("tunnel_session", reference()),
                ("upstream_url", s()),
                ("upstream_protocol", s()),
                ("url", s()),
                ("traffic_policy", s()),
                ("bindings", strings()),
                ("uri", s()),
                ("name", s()),
                ("pooling_enabled", b()),
            ]),
            create: None,
            update: None,
        },
    ]
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// Responses: `ok` with its body (or none for 204), and every error as the Error body.
fn responses(ok: u16, body: Option<Value>) -> Value {
    let mut r = Map::new();
    let mut success = json!({ "description": "success" });
    if let Some(b) = body {
        success["content"] = content(b);
    }
    r.insert(ok.to_string(), success);
    for code in ["400", "401", "403", "404", "405", "409", "415"] {
        r.insert(
            code.into(),
            json!({ "description": "error", "content": content(schema_ref("Error")) }),
        );
    }
    Value::Object(r)
}

fn version_header() -> Value {
    json!({ "name": "Ngrok-Version", "in": "header", "required": true,
            "schema": { "type": "string", "enum": ["2"] } })
}

fn id_param(prefix: &str) -> Value {
    json!({ "name": "id", "in": "path", "required": true,
            "schema": { "type": "string", "pattern": format!("^{prefix}_[0-9A-Za-z]{{27}}$") } })
}

fn operation(summary: String, params: Vec<Value>, body: Option<Value>, resp: Value) -> Value {
    let mut all = vec![version_header()];
    all.extend(params);
    let mut op = json!({ "summary": summary, "parameters": all, "responses": resp });
    if let Some(b) = body {
        op["requestBody"] = json!({ "required": true, "content": content(b) });
    }
    op
}

/// The whole document; `servers` is this API's public base.
pub fn document(public_base: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert("Error".into(), error());
    for r in resources() {
        schemas.insert(r.name.into(), r.item.clone());
        let list = obj(&[
            (
                r.list_key,
                json!({ "type": "array", "items": schema_ref(r.name) }),
            ),
            ("uri", s()),
            ("next_page_uri", ns()),
        ]);
        let page = vec![
            json!({ "name": "limit", "in": "query", "schema": { "type": "string" } }),
            json!({ "name": "before_id", "in": "query", "schema": { "type": "string" } }),
        ];
        let mut coll = Map::new();
        coll.insert(
            "get".into(),
            operation(
                format!("List {}", r.path),
                page,
                None,
                responses(200, Some(list)),
            ),
        );
        if let Some(c) = &r.create {
            coll.insert(
                "post".into(),
                operation(
                    format!("Create in {}", r.path),
                    vec![],
                    Some(c.clone()),
                    responses(201, Some(schema_ref(r.name))),
                ),
            );
        }
        paths.insert(r.path.into(), Value::Object(coll));
        let mut one = Map::new();
        one.insert(
            "get".into(),
            operation(
                format!("Get one of {}", r.path),
                vec![id_param(r.prefix)],
                None,
                responses(200, Some(schema_ref(r.name))),
            ),
        );
        if let Some(u) = &r.update {
            one.insert(
                "patch".into(),
                operation(
                    format!("Update one of {}", r.path),
                    vec![id_param(r.prefix)],
                    Some(u.clone()),
                    responses(200, Some(schema_ref(r.name))),
                ),
            );
            one.insert(
                "delete".into(),
                operation(
                    format!("Delete one of {}", r.path),
                    vec![id_param(r.prefix)],
                    None,
                    responses(204, None),
                ),
            );
        }
        paths.insert(format!("{}/{{id}}", r.path), Value::Object(one));
    }
    for sub in ["certificate", "certificate_management_policy"] {
        paths.insert(
            format!("/reserved_domains/{{id}}/{sub}"),
            json!({ "delete": operation(format!("Detach the {sub}"), vec![id_param("rd")], None, responses(204, None)) }),
        );
    }
    for action in ["restart", "stop", "update"] {
        paths.insert(
            format!("/tunnel_sessions/{{id}}/{action}"),
            json!({ "post": operation(format!("Ask the session's agent to {action}"), vec![id_param("ts")], None, responses(204, None)) }),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Ferry REST API",
            "version": "2",
            "description": "ngrok's REST API as Ferry serves it. Errors carry ERR_FERRY_ codes (docs/ERRORS.md)."
        },
        "servers": [{ "url": public_base }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    })
}

pub async fn serve(State(s): State<AppState>) -> Json<Value> {
    Json(document(&s.config.public_base))
}
