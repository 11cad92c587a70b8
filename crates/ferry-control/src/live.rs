//! Read-only views of the edge's live state: `/tunnel_sessions`, `/tunnels` and
//! `/endpoints`. An agent endpoint's ID shares its tunnel's ID body (`tn_X` is `ep_X`), so
//! both views name the same thing without a table.

use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use ferry_types::ErrorCode;
use serde_json::{json, Value};

use crate::openapi::{any_obj, b, int, null_obj, obj, reference, s, strings, Operation};
use crate::page::{list_body, list_query, page_in_memory, path_id, ListQuery};
use crate::resource::{ApiResult, Rest};
use crate::{rfc3339, ApiError, AppState, LiveSession, LiveTunnel, SessionCommand};

/// One of the live views: where it is and what its items are called, how one is named and
/// answered, and where the edge's list of them comes from; its list and read are the same for
/// each.
struct View<T: 'static> {
    rest: Rest,
    prefix: &'static str,
    id: fn(&T) -> String,
    render: fn(&AppState, &T) -> Value,
    all: fn(&AppState) -> Vec<T>,
}

static SESSIONS: View<LiveSession> = View {
    rest: Rest::new(
        "/tunnel_sessions",
        "tunnel_sessions",
        "tunnel session",
        "TunnelSession",
    ),
    prefix: "ts",
    id: |t| t.id.clone(),
    render: render_session,
    all: |s| s.live.sessions(),
};

static TUNNELS: View<LiveTunnel> = View {
    rest: Rest::new("/tunnels", "tunnels", "tunnel", "Tunnel"),
    prefix: "tn",
    id: |t| t.id.clone(),
    render: render_tunnel,
    all: |s| s.live.tunnels(),
};

/// An agent endpoint is its tunnel seen under another ID.
static ENDPOINTS: View<LiveTunnel> = View {
    rest: Rest::new("/endpoints", "endpoints", "endpoint", "Endpoint"),
    prefix: "ep",
    id: endpoint_id,
    render: render_endpoint,
    all: |s| s.live.tunnels(),
};

impl<T: Send + 'static> View<T> {
    /// One page of `all`, newest first.
    fn list(&self, s: &AppState, q: &ListQuery, all: Vec<T>) -> Json<Value> {
        let listed = page_in_memory(all, &q.page, self.id);
        Json(list_body(
            s,
            self.rest.path,
            self.rest.list_key,
            &q.page,
            listed,
            self.id,
            |t| (self.render)(s, t),
        ))
    }

    /// The `GET` of the collection, every item listed.
    fn list_operation(&'static self) -> Operation {
        self.rest.list_operation(get(
            move |State(s): State<AppState>, q: RawQuery| async move {
                let q = list_query(&q, self.prefix, &[])?;
                Ok::<_, ApiError>(self.list(&s, &q, (self.all)(&s)))
            },
        ))
    }

    /// The `GET` of the one with the ID in the request path.
    fn read_operation(&'static self) -> Operation {
        self.rest.read_operation(
            self.prefix,
            get(
                move |State(s): State<AppState>, Path(id): Path<String>| async move {
                    let id = path_id(&id, self.prefix)?;
                    let t = (self.all)(&s)
                        .into_iter()
                        .find(|t| (self.id)(t) == id)
                        .ok_or_else(|| ApiError::not_found(self.rest.noun, &id))?;
                    Ok::<_, ApiError>(Json((self.render)(&s, &t)))
                },
            ),
        )
    }
}

/// The live views' operations: lists and reads, the session actions, and the refusal of
/// cloud endpoints.
pub(crate) fn operations() -> Vec<Operation> {
    let mut all = vec![
        SESSIONS.list_operation(),
        SESSIONS.read_operation(),
        TUNNELS.list_operation(),
        TUNNELS.read_operation(),
        ENDPOINTS.rest.list_operation(get(list_endpoints)),
        Operation::new(Method::POST, ENDPOINTS.rest.path, post(create_endpoint))
            .summary("Cloud endpoints: not supported, agents create endpoints when they bind")
            .answer(201, Some(Operation::schema_ref(ENDPOINTS.rest.schema))),
        ENDPOINTS.read_operation(),
    ];
    for (action, command) in ACTIONS {
        let handler = post(move |s: State<AppState>, id: Path<String>| {
            session_action(s, id, action, command)
        });
        all.push(
            Operation::new(
                Method::POST,
                &format!("/tunnel_sessions/{{id}}/{action}"),
                handler,
            )
            .summary(format!("Ask the session's agent to {action}"))
            .id("ts")
            .answer(204, None),
        );
    }
    all
}

/// The live views' schemas.
pub(crate) fn components() -> Vec<(&'static str, Value)> {
    vec![
        (
            "TunnelSession",
            obj(&[
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
        ),
        (
            "Tunnel",
            obj(&[
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
        ),
        (
            "Endpoint",
            obj(&[
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
        ),
    ]
}

fn body_of(id: &str) -> &str {
    id.split_once('_').map(|(_, b)| b).unwrap_or(id)
}

/// This node's region: what a live session or tunnel held here is answered in.
pub(crate) fn region(s: &AppState) -> String {
    s.config.regions.first().cloned().unwrap_or_default()
}

/// The region of the node holding a session or tunnel (`held`, empty for this node).
fn region_of(s: &AppState, held: &str) -> String {
    if held.is_empty() {
        region(s)
    } else {
        held.to_string()
    }
}

fn render_session(s: &AppState, t: &LiveSession) -> Value {
    json!({
        "id": t.id,
        "uri": s.url(&format!("/tunnel_sessions/{}", t.id)),
        "agent_version": t.agent_version,
        "credential": {
            "id": t.credential_id,
            "uri": s.url(&format!("/credentials/{}", t.credential_id)),
        },
        "ip": t.ip,
        "metadata": t.metadata,
        "os": t.os,
        "region": region_of(s, &t.region),
        "started_at": rfc3339(t.started_at),
        "transport": "ngrok/v2",
    })
}

fn session_ref(s: &AppState, id: &str) -> Value {
    json!({ "id": id, "uri": s.url(&format!("/tunnel_sessions/{id}")) })
}

fn endpoint_id(t: &LiveTunnel) -> String {
    format!("ep_{}", body_of(&t.id))
}

fn render_tunnel(s: &AppState, t: &LiveTunnel) -> Value {
    let ep = endpoint_id(t);
    json!({
        "id": t.id,
        "public_url": t.public_url,
        "started_at": rfc3339(t.started_at),
        "metadata": t.metadata,
        "proto": t.proto,
        "region": region_of(s, &t.region),
        "tunnel_session": session_ref(s, &t.session_id),
        "endpoint": { "id": ep, "uri": s.url(&format!("/endpoints/{ep}")) },
        "labels": {},
        "backends": [],
        "forwards_to": t.forwards_to,
    })
}

fn render_endpoint(s: &AppState, t: &LiveTunnel) -> Value {
    let ep = endpoint_id(t);
    let (scheme, rest) = t
        .public_url
        .split_once("://")
        .unwrap_or(("", &t.public_url));
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.parse::<u16>().unwrap_or(0)),
        _ => (
            rest.to_string(),
            match scheme {
                "http" => 80,
                _ => 443,
            },
        ),
    };
    let started = rfc3339(t.started_at);
    json!({
        "id": ep,
        "region": region_of(s, &t.region),
        "created_at": started,
        "updated_at": started,
        "public_url": t.public_url,
        "proto": t.proto,
        "scheme": scheme,
        "hostport": format!("{host}:{port}"),
        "host": host,
        "port": port,
        "type": "ephemeral",
        "metadata": t.metadata,
        "description": "",
        "domain": null,
        "tcp_addr": null,
        "tunnel": { "id": t.id, "uri": s.url(&format!("/tunnels/{}", t.id)) },
        "edge": null,
        "principal": null,
        "tunnel_session": session_ref(s, &t.session_id),
        "upstream_url": t.forwards_to,
        "upstream_protocol": "",
        "url": t.public_url,
        "traffic_policy": "",
        "bindings": ["public"],
        "uri": s.url(&format!("/endpoints/{ep}")),
        "name": "",
        "pooling_enabled": false,
    })
}

/// `restart`, `stop` and `update` go to the agent as ngrok's server-to-agent commands; 204
/// once the agent has carried it out (ngrok's Python client raises on that 204, as it does
/// against ngrok itself).
async fn session_action(
    State(s): State<AppState>,
    Path(id): Path<String>,
    action: &'static str,
    command: SessionCommand,
) -> Result<StatusCode, ApiError> {
    command_session(&s, &id, action, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The actions a tunnel session takes, by the word in their path: the REST routes and the
/// dashboard's buttons are made from this one list.
pub(crate) const ACTIONS: [(&str, SessionCommand); 3] = [
    ("restart", SessionCommand::Restart),
    ("stop", SessionCommand::Stop),
    ("update", SessionCommand::Update),
];

/// Sends `command` to the agent of the session `id` and waits for it to be carried out: the
/// REST action and the dashboard's Live page alike.
pub(crate) async fn command_session(
    s: &AppState,
    id: &str,
    action: &str,
    command: SessionCommand,
) -> Result<(), ApiError> {
    let id = path_id(id, "ts")?;
    if !s.live.sessions().iter().any(|t| t.id == id) {
        return Err(ApiError::not_found("tunnel session", &id));
    }
    s.live.command(&id, command).await.map_err(|why| {
        ApiError::new(
            why.code(),
            format!("the agent of {id} did not carry out {action}: {why}"),
        )
    })
}

/// Endpoints also take ngrok's deprecated `id` and `url` filters.
async fn list_endpoints(State(s): State<AppState>, q: RawQuery) -> ApiResult<Json<Value>> {
    let q = list_query(&q, ENDPOINTS.prefix, &["id", "url"])?;
    let mut all = (ENDPOINTS.all)(&s);
    if !q.ids.is_empty() {
        all.retain(|t| q.ids.contains(&endpoint_id(t)));
    }
    if !q.urls.is_empty() {
        all.retain(|t| q.urls.contains(&t.public_url));
    }
    Ok(ENDPOINTS.list(&s, &q, all))
}

async fn create_endpoint() -> ApiError {
    ApiError::new(
        ErrorCode::NotSupported,
        "cloud endpoints are not supported by Ferry; agents create endpoints when they bind",
    )
}
