//! Ferry's control plane: ngrok's REST API (`Authorization: Bearer`, `Ngrok-Version: 2`, JSON
//! bodies, ngrok's paths, fields, ID prefixes, status codes and paging) over the store. The
//! live views and revocation reach the edge through [`Live`], which the binary implements
//! with the edge's handle, so this crate never imports the edge.
#![warn(missing_docs)]

mod agent_ingresses;
mod api_keys;
mod auth;
mod body;
mod bot_users;
mod certificate_authorities;
mod credentials;
mod dashboard;
mod described;
mod dns_check;
mod error;
mod health;
mod live;
mod managed;
mod metrics;
mod openapi;
mod page;
mod pem;
#[cfg(test)]
mod request_schema_tests;
mod reserved_addrs;
mod reserved_domains;
mod resource;
#[cfg(test)]
mod router_tests;
#[cfg(test)]
mod test_support;
mod tls_certificates;
mod validate;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use axum::http::{Method, Uri};
use axum::Router;
use ferry_store::{
    AgentIngress, ApiKey, BotUser, CertificateAuthority, Credential, ReservedAddr, ReservedDomain,
    Store, TlsCertificate,
};
use ferry_types::ErrorCode;

pub use dashboard::OverTls;
pub use error::ApiError;
use openapi::Operation;

/// What the control plane needs to know about the edge it serves.
#[derive(Clone, Debug)]
pub struct ControlConfig {
    /// The public base URL of this API, without a trailing slash: `uri` and `next_page_uri`
    /// are built from it.
    pub public_base: String,
    /// The edge's own name servers, answered as an agent ingress's `ns_targets`.
    pub ns_targets: Vec<String>,
    /// The regions (or nodes) this deployment has: `region_domains` gets
    /// `tunnel.<region>.<domain>` for each.
    pub regions: Vec<String>,
    /// The edge's own domain: reserved domains under it need no CNAME, and CNAME targets
    /// live under it.
    pub base_domain: String,
    /// The host TCP endpoints (and so reserved addresses) are reached at: the `host` of a
    /// reserved `addr`.
    pub tcp_public_host: String,
    /// The first and last port (both included) of the edge's TCP range, from which a new
    /// reserved address takes a free one.
    pub tcp_ports: (u16, u16),
    /// The one resolver Check Status asks (`--dns-check-resolver`); `None` for the system's,
    /// from /etc/resolv.conf.
    pub dns_check_resolver: Option<SocketAddr>,
    /// The edge's version, shown on the dashboard's edge page.
    pub version: String,
    /// When the edge started: the edge page's uptime.
    pub started_at: SystemTime,
    /// What the edge listens on, each with its address (`HTTPS`, `0.0.0.0:443`): the edge
    /// page lists them, since the API listener alone does not know the others.
    pub listeners: Vec<(String, String)>,
}

/// One live agent session, as the edge reports it.
#[derive(Clone, Debug)]
pub struct LiveSession {
    /// ngrok's `id`, a `ts_` ID that lives as long as the connection: a reconnecting agent
    /// gets a new one.
    pub id: String,
    /// The `cr_` ID of the authtoken the agent authenticated with, answered as `credential`.
    pub credential_id: String,
    /// ngrok's `ip`: the agent's address as the edge saw it, without the port.
    pub ip: String,
    /// ngrok's `os`: what the agent said in Auth, unchecked.
    pub os: String,
    /// ngrok's `agent_version`: what the agent said in Auth, unchecked.
    pub agent_version: String,
    /// ngrok's `metadata`: what the agent said in Auth, unchecked.
    pub metadata: String,
    /// ngrok's `started_at`: when Auth succeeded, answered in RFC 3339 to the second.
    pub started_at: SystemTime,
    /// ngrok's `region`: that of the node holding the session; empty for this node's.
    pub region: String,
}

/// One live tunnel (an agent endpoint), as the edge reports it.
#[derive(Clone, Debug)]
pub struct LiveTunnel {
    /// ngrok's `id`, a `tn_` ID; its endpoint is `ep_` with the same body. It survives a
    /// reconnect, since the agent re-binds with its bind token.
    pub id: String,
    /// The `ts_` ID of the session serving it now, answered as `tunnel_session`.
    pub session_id: String,
    /// ngrok's `public_url` (`https://app.example.com`, `tcp://host:port`); the endpoint
    /// view takes its `scheme`, `host` and `port` apart from it.
    pub public_url: String,
    /// ngrok's `proto`: what the agent bound with (`http`, `https`, `tls`, `tcp`).
    pub proto: String,
    /// ngrok's `metadata`: the bind's own metadata, not the session's.
    pub metadata: String,
    /// ngrok's `forwards_to`: the agent's word for its upstream, unchecked; also the
    /// endpoint's `upstream_url`.
    pub forwards_to: String,
    /// ngrok's `started_at`: when the bind succeeded; also the endpoint's `created_at`.
    pub started_at: SystemTime,
    /// ngrok's `region`: that of the node holding the tunnel; empty for this node's.
    pub region: String,
}

/// ngrok's tunnel-session actions, which the edge passes to the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionCommand {
    /// `POST /tunnel_sessions/{id}/restart`: the agent restarts and connects again.
    Restart,
    /// `POST /tunnel_sessions/{id}/stop`: the agent process exits; its tunnels go offline.
    Stop,
    /// `POST /tunnel_sessions/{id}/update`: the agent updates itself, within its major
    /// version.
    Update,
}

/// The answer to a [`SessionCommand`]: done, or why not.
pub type CommandFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CommandFailure>> + Send + 'a>>;

/// The end of a DNS rebuild ([`Live::dns_changed`]).
pub type DnsFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The edge's metrics in Prometheus' text format ([`Live::metrics`]).
pub type MetricsFuture<'a> = Pin<Box<dyn Future<Output = String> + Send + 'a>>;

/// Why a [`SessionCommand`] was not carried out. Each answers with its own status: the
/// caller can tell a command the agent does not take (400) from an agent that refused it
/// (502) or never answered (504), which may still carry it out.
#[derive(Debug, thiserror::Error)]
pub enum CommandFailure {
    /// The session ended between the lookup and the command.
    #[error("the session is gone")]
    NoSession,
    /// The agent said in Auth that it does not take this command (or, too old to know the
    /// commands, said nothing), so it was not asked.
    #[error("the agent does not support it: {0}")]
    Unsupported(String),
    /// The agent was asked and answered with an error, quoted as it gave it.
    #[error("the agent refused: {0}")]
    Refused(String),
    /// No answer came back in time, or the stream failed on the way.
    #[error("the agent did not answer: {0}")]
    NoAnswer(String),
}

impl CommandFailure {
    /// The catalogue code, whose HTTP status the REST answer takes.
    pub fn code(&self) -> ErrorCode {
        match self {
            CommandFailure::NoSession => ErrorCode::NotFound,
            CommandFailure::Unsupported(_) => ErrorCode::NotSupported,
            CommandFailure::Refused(_) => ErrorCode::AgentCommandRefused,
            CommandFailure::NoAnswer(_) => ErrorCode::AgentCommandTimeout,
        }
    }
}

/// The edge's live state, as the control plane sees and changes it.
pub trait Live: Send + Sync + 'static {
    /// Every authenticated session now, in any order: the views sort and page them.
    fn sessions(&self) -> Vec<LiveSession>;
    /// Every bound tunnel now, in any order; `/endpoints` shows the same list.
    fn tunnels(&self) -> Vec<LiveTunnel>;
    /// Sends a command to the agent of a session and waits for its answer.
    fn command<'a>(&'a self, session_id: &'a str, command: SessionCommand) -> CommandFuture<'a>;
    /// Closes the sessions of revoked authtokens; returns how many were closed.
    fn close_sessions_of(&self, credential_ids: &[String]) -> usize;
    /// The agent ingress domains changed; here are all of them.
    fn agent_ingresses_changed(&self, domains: Vec<String>);
    /// The certificates a name is served changed (an upload attached or detached, a
    /// certificate deleted, management started or stopped): the edge reads them again.
    fn certificates_changed(&self);
    /// What Ferry's DNS answers changed in the store (an agent ingress or a reserved domain
    /// was created, changed or deleted). The edge rebuilds its zones from the store; the
    /// future ends once they are served, so that the API answers only when DNS agrees. A
    /// failed rebuild is the edge's to log and retry: the write itself succeeded.
    fn dns_changed(&self) -> DnsFuture<'_>;
    /// The regions of the nodes live on the database now, each once. Agent ingresses
    /// answer one `tunnel.<region>.<domain>` for each, after the configured regions.
    fn live_regions(&self) -> Vec<String>;
    /// The edge's metrics in Prometheus' text format, for `GET /metrics`.
    fn metrics(&self) -> MetricsFuture<'_>;
    /// Whether the edge has begun to drain: alive, but `/readyz` answers 503.
    fn draining(&self) -> bool;
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// Where every resource the API creates is kept, and API keys are checked.
    pub store: Store,
    /// Fixed at start-up; shared so that cloning the state per request stays cheap.
    pub config: Arc<ControlConfig>,
    /// The edge this API serves, for the live views and for revocations to take effect.
    pub live: Arc<dyn Live>,
    /// How Check Status looks records up: the configured resolver, or answers a test feeds.
    pub dns: Arc<dyn ferry_dnscheck::Lookups>,
}

impl AppState {
    /// The state for [`router`], from the pieces the binary holds.
    /// Check Status asks `config.dns_check_resolver`.
    pub fn new(store: Store, config: ControlConfig, live: Arc<dyn Live>) -> Self {
        let dns = Arc::new(ferry_dnscheck::HickoryLookups::new(
            config.dns_check_resolver,
        ));
        Self {
            store,
            config: Arc::new(config),
            live,
            dns,
        }
    }

    /// The same state with Check Status asking `dns` instead of a resolver.
    pub fn with_dns_lookups(mut self, dns: Arc<dyn ferry_dnscheck::Lookups>) -> Self {
        self.dns = dns;
        self
    }

    /// `public_base` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.public_base)
    }
}

/// The whole REST API, and beside it the dashboard (`/` and `/dashboard/...`, signed in by
/// a session cookie instead of the Bearer key).
pub fn router(state: AppState) -> Router {
    let api = operations()
        .into_iter()
        .fold(Router::new(), |router, op| {
            router.route(&op.path, op.handler)
        })
        .route("/openapi.json", axum::routing::get(openapi::serve))
        .route("/metrics", axum::routing::get(metrics::serve))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::check,
        ));
    api.merge(dashboard::routes())
        .merge(health::routes())
        .with_state(state)
}

/// The resources kept in the store, each with its five operations and its schema: one list,
/// so the router, the document's paths and its schemas cannot name different resources.
const STORED: [resource::Api; 8] = [
    resource::Api::of::<ApiKey>(),
    resource::Api::of::<AgentIngress>(),
    resource::Api::of::<BotUser>(),
    resource::Api::of::<CertificateAuthority>(),
    resource::Api::of::<Credential>(),
    resource::Api::of::<ReservedAddr>(),
    resource::Api::of::<ReservedDomain>(),
    resource::Api::of::<TlsCertificate>(),
];

/// Every operation of the API: the router is assembled from this table and the OpenAPI
/// document describes it.
pub(crate) fn operations() -> Vec<Operation> {
    STORED
        .iter()
        .flat_map(|r| (r.operations)())
        .chain(reserved_domains::detach_operations())
        .chain(dns_check::operations())
        .chain(live::operations())
        .collect()
}

/// The schemas the operations refer to by name.
pub(crate) fn components() -> Vec<(&'static str, serde_json::Value)> {
    STORED
        .iter()
        .map(|r| (r.component)())
        .chain(live::components())
        .chain(std::iter::once(dns_check::component()))
        .collect()
}

async fn fallback(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no such API path: {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Serves the API on `listener` until `stop` resolves (a successor took the listener over),
/// then finishes the requests under way.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stop)
        .await
}

/// Serves the API on one connection the edge already decrypted (`--api-domain` on the
/// public TLS port), HTTP/1.1 or HTTP/2 as the client chose, until it closes.
pub async fn serve_io<IO>(io: IO, state: AppState)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    // Over TLS, the dashboard's cookies are `Secure`.
    let app = router(state).layer(axum::Extension(OverTls));
    let service = hyper_util::service::TowerToHyperService::new(app);
    let builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    if let Err(e) = builder
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await
    {
        tracing::debug!(error = %e, "API connection ended with an error");
    }
}

/// RFC 3339, UTC, whole seconds, as ngrok writes timestamps.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
