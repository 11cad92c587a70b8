//! The local agent API on `web_addr` (127.0.0.1:4040 by default), with ngrok's paths, fields
//! and status codes: tunnels started and stopped at run time, captured requests and their
//! replay, and the inspection page at `/`; beside them `/metrics` (Prometheus) and
//! `/healthz` (200 while the agent runs).

mod error;
mod guard;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ferry_types::TunnelId;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub use error::{explain_json, ApiError};

use crate::config::{tunnel_spec, RawTunnel};
use crate::{Agent, AgentError, TunnelStatus};

const PAGE: &str = include_str!("page.html");

/// What every handler of the agent API shares; cloned per request.
#[derive(Clone)]
pub struct ApiState {
    /// The agent whose tunnels and captures the API shows and changes.
    pub agent: Agent,
    /// The port the API really listens on (4040, or the next free one), so the guard can tell
    /// which tunnels forward to the API itself.
    pub web_port: u16,
    /// `web_allow_hosts`: IPs, CIDRs, exact names and `.suffix` names.
    pub allow_hosts: Arc<Vec<String>>,
    /// Where API-started tunnels are kept when `--persist-api-tunnels` is on.
    pub persist: Option<PathBuf>,
}

/// Binds the API. The default address falls back to the next ports (4041...) when 4040 is
/// taken, as ngrok's agent does; an explicit address does not.
pub async fn bind(addr: &str, is_default: bool) -> std::io::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(e) if is_default => {
            let (host, port) = addr
                .rsplit_once(':')
                .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h.to_string(), p)))
                .ok_or(e)?;
            for next in port + 1..port + 10 {
                if let Ok(l) = TcpListener::bind((host.as_str(), next)).await {
                    return Ok(l);
                }
            }
            TcpListener::bind(addr).await
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api", get(root))
        .route("/api/", get(root))
        .route("/api/status", get(status))
        .route("/api/tunnels", get(list_tunnels).post(start_tunnel))
        .route("/api/tunnels/{name}", get(get_tunnel).delete(stop_tunnel))
        .route(
            "/api/requests/http",
            get(list_requests).delete(clear_requests).post(replay),
        )
        .route("/api/requests/http/{id}", get(get_request))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { ApiError::not_found("no such path in the agent API") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_host,
        ))
        .with_state(state)
}

/// Serves the agent API on `listener` until it fails; run it as its own task, since the
/// agent does not depend on it.
pub async fn serve(listener: TcpListener, state: ApiState) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// The agent's Prometheus families (`ferry_agent_...`), for a scraper on this host: the API
/// listens on loopback unless `web_addr` says otherwise.
async fn metrics() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            ferry_metrics::CONTENT_TYPE,
        )],
        ferry_metrics::agent_text(),
    )
        .into_response()
}

async fn root() -> Json<Value> {
    Json(json!({
        "uri": "/api",
        "tunnels": "/api/tunnels",
        "requests": "/api/requests/http",
        "status": "/api/status",
    }))
}

async fn status(State(s): State<ApiState>) -> Json<Value> {
    let online = s.agent.is_online().await;
    let latency = s
        .agent
        .latency()
        .await
        .map(|d| format!("{}ms", d.as_millis()))
        .unwrap_or_default();
    Json(json!({
        "status": if online { "online" } else { "reconnecting" },
        "agent_version": env!("CARGO_PKG_VERSION"),
        "session": { "legs": [{ "region": "local", "latency": latency }] },
        "uri": "/api/status",
    }))
}

pub(crate) fn tunnel_json(t: &TunnelStatus) -> Value {
    json!({
        "ID": t.id.as_ref().map_or("", TunnelId::as_str),
        "name": t.name,
        "uri": format!("/api/tunnels/{}", t.name),
        "public_url": t.public_url.clone().unwrap_or_default(),
        "proto": t.proto,
        "config": { "addr": t.addr, "inspect": t.inspect },
        "metrics": t.metrics,
    })
}

async fn list_tunnels(State(s): State<ApiState>) -> Json<Value> {
    let tunnels: Vec<Value> = s.agent.tunnels().await.iter().map(tunnel_json).collect();
    Json(json!({ "tunnels": tunnels, "uri": "/api/tunnels" }))
}

async fn get_tunnel(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    s.agent
        .tunnel(&name)
        .await
        .map(|t| Json(tunnel_json(&t)))
        .ok_or_else(|| ApiError::not_found(&format!("no tunnel named {name:?}")))
}

/// `POST /api/tunnels`: the guides' bodies (`name`, `proto`, `addr`, `domain`,
/// `terminate_at`, `crt`, `key`, `mutual_tls_cas`...), decoded strictly so that a misspelt
/// key is named instead of ignored.
async fn start_tunnel(State(s): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_json(explain_json(&body, &e)))?;
    let raw: RawTunnel = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::invalid_config(format!("{e}")))?;
    let name = raw
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_config("name is required"))?;
    let (spec, warnings) = tunnel_spec(&name, &raw).map_err(ApiError::invalid_config)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let status = s
        .agent
        .add_tunnel(spec, Some(value))
        .await
        .map_err(|e| match e {
            AgentError::DuplicateName(n) => ApiError::name_taken(&n),
            AgentError::Tunnel(t) => ApiError::invalid_config(t.to_string()),
            other => ApiError::start_failed(other.to_string()),
        })?;
    warn_if_exposed(&s, &status);
    persist(&s).await;
    Ok((StatusCode::CREATED, Json(tunnel_json(&status))).into_response())
}

async fn stop_tunnel(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if s.agent.remove_tunnel(&name).await {
        persist(&s).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(&format!("no tunnel named {name:?}")))
    }
}

/// The agent API behind a public tunnel with neither basic_auth nor client certificates lets
/// anyone who finds the URL open tunnels into this network.
pub fn warn_if_exposed(s: &ApiState, t: &TunnelStatus) {
    if t.upstream.port == s.web_port && guard::is_local_name(&t.upstream.host) && !t.protected {
        tracing::warn!(
            tunnel = %t.name,
            url = t.public_url.as_deref().unwrap_or(""),
            "the agent API is exposed through this tunnel without basic_auth or mutual_tls_cas: anyone who finds the URL can start tunnels into this network"
        );
    }
}

async fn persist(s: &ApiState) {
    let Some(path) = &s.persist else { return };
    let bodies = s.agent.api_bodies().await;
    let text = serde_json::to_vec_pretty(&bodies).unwrap_or_default();
    let tmp = path.with_extension("tmp");
    let write = || {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&tmp, &text)?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        tracing::warn!("cannot save API tunnels to {}: {e}", path.display());
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
    tunnel_name: Option<String>,
}

async fn list_requests(State(s): State<ApiState>, Query(q): Query<ListQuery>) -> Json<Value> {
    let caps = s
        .agent
        .captures()
        .list(q.limit.unwrap_or(50).min(1000), q.tunnel_name.as_deref());
    let requests: Vec<Value> = caps.iter().map(|c| c.to_json()).collect();
    Json(json!({ "uri": "/api/requests/http", "requests": requests }))
}

async fn get_request(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    s.agent
        .captures()
        .get(&id)
        .map(|c| Json(c.to_json()))
        .ok_or_else(|| ApiError::not_found(&format!("no captured request with id {id:?}")))
}

async fn clear_requests(State(s): State<ApiState>) -> StatusCode {
    s.agent.captures().clear();
    StatusCode::NO_CONTENT
}

/// ngrok's replay body (`id`, `tunnel_name`) plus Ferry's optional edits, which the
/// inspection page uses to replay a changed copy.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    id: String,
    tunnel_name: Option<String>,
    method: Option<String>,
    uri: Option<String>,
    body: Option<String>,
}

async fn replay(State(s): State<ApiState>, body: Bytes) -> Result<StatusCode, ApiError> {
    let req: ReplayBody = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            ApiError::replay_failed(StatusCode::BAD_REQUEST, e.to_string())
        } else {
            ApiError::bad_json(explain_json(&body, &e))
        }
    })?;
    let tunnel = req.tunnel_name.as_deref().filter(|t| !t.is_empty());
    let edits = crate::ReplayEdits {
        method: req.method,
        uri: req.uri,
        body: req.body,
    };
    match s.agent.replay(&req.id, tunnel, edits).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(crate::ReplayError::UnknownCapture) => Err(ApiError::not_found(&format!(
            "no captured request with id {:?}",
            req.id
        ))),
        Err(e) => Err(ApiError::replay_failed(
            StatusCode::BAD_REQUEST,
            e.to_string(),
        )),
    }
}
