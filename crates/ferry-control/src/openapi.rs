//! `/openapi.json`: the API as OpenAPI 3.0, made from the same table of operations the router
//! is assembled from ([`crate::operations`]), so a path the server answers is a path the
//! document names and the other way round. The resources give their own schemas, next to the
//! code that answers them; scripts/test.sh runs schemathesis against the result.

use axum::extract::State;
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::AppState;

/// One operation: the router mounts its handler, the document describes it.
pub(crate) struct Operation {
    pub method: Method,
    /// In the router's syntax, which is OpenAPI's: `/api_keys/{id}`.
    pub path: String,
    pub handler: MethodRouter<AppState>,
    summary: String,
    params: Vec<Value>,
    request: Option<Value>,
    /// Whether a request body must be sent (an action's `{}` may be left out).
    request_required: bool,
    status: u16,
    response: Option<Value>,
}

impl Operation {
    pub fn new(method: Method, path: &str, handler: MethodRouter<AppState>) -> Self {
        Self {
            method,
            path: path.to_string(),
            handler,
            summary: String::new(),
            params: Vec::new(),
            request: None,
            request_required: true,
            status: 200,
            response: None,
        }
    }

    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    /// The path's `{id}`, with its prefix.
    pub fn id(mut self, prefix: &str) -> Self {
        self.params
            .push(json!({ "name": "id", "in": "path", "required": true,
            "schema": { "type": "string", "pattern": format!("^{prefix}_[0-9A-Za-z]{{27}}$") } }));
        self
    }

    pub fn request(mut self, schema: Value) -> Self {
        self.request = Some(schema);
        self
    }

    /// A body that may be left out.
    pub fn optional_request(mut self, schema: Value) -> Self {
        self.request = Some(schema);
        self.request_required = false;
        self
    }

    /// The success status and its body (none for 204).
    pub fn answer(mut self, status: u16, body: Option<Value>) -> Self {
        self.status = status;
        self.response = body;
        self
    }

    /// A list: `limit` and `before_id`, answered as `{key: [schema], uri, next_page_uri}`.
    pub fn paged(mut self, key: &str, schema: &str) -> Self {
        for name in ["limit", "before_id"] {
            self.params
                .push(json!({ "name": name, "in": "query", "schema": { "type": "string" } }));
        }
        let list = obj(&[
            (
                key,
                json!({ "type": "array", "items": Self::schema_ref(schema) }),
            ),
            ("uri", s()),
            ("next_page_uri", ns()),
        ]);
        self.answer(200, Some(list))
    }

    pub fn schema_ref(name: &str) -> Value {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    fn describe(&self) -> Value {
        let mut params = vec![
            json!({ "name": "Ngrok-Version", "in": "header", "required": true,
            "schema": { "type": "string", "enum": ["2"] } }),
        ];
        params.extend(self.params.iter().cloned());
        let mut op = json!({
            "summary": self.summary,
            "parameters": params,
            "responses": responses(self.status, self.response.clone()),
        });
        if let Some(b) = &self.request {
            op["requestBody"] =
                json!({ "required": self.request_required, "content": content(b.clone()) });
        }
        op
    }
}

pub(crate) fn s() -> Value {
    json!({ "type": "string" })
}

pub(crate) fn ns() -> Value {
    json!({ "type": "string", "nullable": true })
}

pub(crate) fn b() -> Value {
    json!({ "type": "boolean" })
}

pub(crate) fn int() -> Value {
    json!({ "type": "integer" })
}

pub(crate) fn strings() -> Value {
    json!({ "type": "array", "items": s() })
}

pub(crate) fn null_obj() -> Value {
    json!({ "type": "object", "nullable": true })
}

pub(crate) fn any_obj() -> Value {
    json!({ "type": "object" })
}

/// An object with every property present (ngrok's clients read each key directly).
pub(crate) fn obj(props: &[(&str, Value)]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert((*k).to_string(), v.clone());
    }
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    json!({ "type": "object", "properties": p, "required": required })
}

/// A request body: every field optional, nothing else allowed.
pub(crate) fn input(props: &[(&str, Value)], required: &[&str]) -> Value {
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

pub(crate) fn reference() -> Value {
    obj(&[("id", s()), ("uri", s())])
}

pub(crate) fn policy() -> Value {
    let mut p = obj(&[("authority", s()), ("private_key_type", s())]);
    p["nullable"] = json!(true);
    p
}

pub(crate) fn policy_input() -> Value {
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
            json!({ "description": "error", "content": content(Operation::schema_ref("Error")) }),
        );
    }
    Value::Object(r)
}

/// The whole document; `servers` is this API's public base.
pub fn document(public_base: &str) -> Value {
    let mut paths = Map::new();
    for op in crate::operations() {
        let entry = paths
            .entry(op.path.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[op.method.as_str().to_ascii_lowercase()] = op.describe();
    }
    let mut schemas = Map::new();
    schemas.insert("Error".into(), error());
    for (name, schema) in crate::components() {
        schemas.insert(name.into(), schema);
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
