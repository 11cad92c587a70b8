//! Ferry's agent: it dials the edge, binds its tunnels, and carries each public connection to
//! a local service, terminating TLS (with client certificates) itself when a tunnel asks for
//! it. It speaks ngrok's agent protocol, so it works against ngrok-compatible edges, and it
//! re-binds every tunnel it holds after any outage, with back-off capped at a minute.
#![warn(missing_docs)]

pub mod api;
mod capture;
pub mod config;
mod forward;
mod inspect;
mod metrics;
pub mod resolve;
mod session;
mod trust;
mod tunnel;
mod upstream;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_proto::BindProto;
use ferry_transport::{BeatClock, MuxadoOpen};
use ferry_types::{Secret, TunnelId};
use rustls::ClientConfig;
use serde_json::Value;
use tokio::sync::{broadcast, Mutex};

pub use capture::{Capture, CaptureStore};
pub use session::{backoff, EdgeRefusal, SessionError};
pub use trust::{RootCas, TrustError};
pub use tunnel::{HostHeader, Prepared, TerminateAt, TunnelError, TunnelProto, TunnelSpec};
pub use upstream::{Upstream, UpstreamError};

use crate::forward::Forwarder;

/// Back-off of an agent whose authtoken the edge refuses once it has been online: a revoked
/// token stays revoked, so asking every minute only adds load; a new token needs a restart
/// of the agent anyway (or a bot user reactivated, which these bounds still pick up).
/// Data connections an agent keeps idle at the edge by default while it carries traffic:
/// enough for a few bulk streams at once; a stream that finds none idle rides on the session.
pub(crate) const DATA_CONNECTIONS: usize = 4;
/// The most an agent may keep idle: the edge keeps no more per session.
pub(crate) const MAX_DATA_CONNECTIONS: usize = 16;
const REFUSED_TOKEN_MIN_BACKOFF: Duration = Duration::from_secs(120);
const REFUSED_TOKEN_MAX_BACKOFF: Duration = Duration::from_secs(900);

/// Session settings (the agent-level keys of ngrok.yml).
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Sent in Auth; the edge checks it, and its ACL at every bind. Debug-redacted.
    pub authtoken: Secret,
    /// `host:port` of the edge's agent ingress.
    pub server_addr: String,
    /// More agent ingresses of the same installation (other nodes), tried in order after
    /// `server_addr` when one cannot be reached or its handshake fails. The agent stays on
    /// the one that answered until it fails.
    pub more_server_addrs: Vec<String>,
    /// What the edge's certificate must chain to; loaded by [`Agent::new`], so a wrong file
    /// is reported before anything is dialed.
    pub root_cas: RootCas,
    /// Time from one beat's echo to the next beat; also sent in Auth, in nanoseconds, as
    /// ngrok's agents send it.
    pub heartbeat_interval: Duration,
    /// How long a beat's echo may take before the session is dropped and dialed again.
    pub heartbeat_tolerance: Duration,
    /// Bounds the TCP dial to the edge, then the TLS handshake, each on its own.
    pub connect_timeout: Duration,
    /// The longest wait between reconnect attempts.
    pub max_backoff: Duration,
    /// Sent in Auth as the session's metadata (ngrok.yml's `metadata`); empty by default.
    pub metadata: String,
    /// The DNS servers that resolve `server_addr` (ngrok.yml's `dns_resolver_ips`); empty:
    /// the system's resolver.
    pub dns_resolvers: Vec<std::net::SocketAddr>,
    /// Bytes of captured requests to keep; `None` turns capture off.
    pub inspect_db_size: Option<u64>,
    /// Data connections to keep idle at the edge beside the session, each to carry one proxy
    /// stream on a TLS connection of its own (`data_pool.rs`); 0 carries every stream on the
    /// session.
    pub data_connections: usize,
}

impl AgentConfig {
    /// `server_addr`, then `more_server_addrs`: every address in the order they are tried.
    pub fn server_addrs(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.server_addr.as_str())
            .chain(self.more_server_addrs.iter().map(String::as_str))
    }

    /// Defaults: beats every 5 s and a 10 s tolerance, so a dead edge is noticed within 15 s.
    pub fn new(authtoken: Secret, server_addr: String, root_cas: RootCas) -> Self {
        Self {
            authtoken,
            server_addr,
            more_server_addrs: Vec::new(),
            root_cas,
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_tolerance: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
            metadata: String::new(),
            dns_resolvers: Vec::new(),
            inspect_db_size: Some(50 * 1024 * 1024),
            data_connections: DATA_CONNECTIONS,
        }
    }
}

/// What the agent reports to whoever runs it (the CLI prints these, the ready file waits for
/// them).
#[derive(Clone, Debug)]
pub enum AgentEvent {
    /// Authenticated and every tunnel bound (on a reconnect, every re-bind tried): sent after
    /// each reconnect, not only the first time.
    Online,
    /// The edge accepted a bind: at start, at every re-bind after a reconnect, and for each
    /// tunnel added through the agent API.
    TunnelStarted {
        /// As configured: the file's key, the API body's `name`, or `command_line`.
        name: String,
        /// What was bound.
        proto: BindProto,
        /// The edge's answer, such as `https://app.example.com` or `tcp://edge:20001`.
        public_url: String,
    },
    /// The session ended or a heartbeat went unanswered; the agent dials again after a
    /// back-off.
    Offline {
        /// One line for the user, such as the edge's words for a refused authtoken.
        reason: String,
    },
}

/// Why the agent did not start, stopped, or did not add a tunnel. Failures after it has been
/// online are retried by [`Agent::run`] instead of returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// A tunnel's settings or files are wrong (a missing `crt`, a CA file that holds a key):
    /// found before anything is dialed, or when the agent API adds the tunnel.
    #[error(transparent)]
    Tunnel(#[from] TunnelError),
    /// `root_cas` cannot be used: found by [`Agent::new`], before the first dial.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// The edge refused the agent before it was ever online (a bad authtoken, a bind outside
    /// the ACL), or a tunnel added through the agent API was not bound (refused, or the
    /// session failed meanwhile). Holds the edge's words with their `ERR_FERRY` code.
    #[error("the edge refused: {0}")]
    Refused(#[source] SessionError),
    /// A tunnel added through the agent API was stopped before its bind finished.
    #[error("tunnel {0:?} was removed while starting")]
    RemovedWhileStarting(String),
    /// Two tunnels with one name: in the list the agent starts with, or an agent API tunnel
    /// named like a running one.
    #[error("tunnel name {0:?} is already in use")]
    DuplicateName(String),
    /// A tunnel was added through the agent API while no session is up; it is not queued for
    /// the next one.
    #[error("the agent is not connected to the edge right now; retry when it is online")]
    Offline,
}

struct TunnelState {
    fwd: Arc<Forwarder>,
    /// `None` until the first bind; kept across reconnects so the edge keeps the ID.
    id: Option<TunnelId>,
    /// The `Opts` and bind token the edge returned, sent back unchanged on re-bind.
    opts: Option<Value>,
    /// The `Opts` of a first bind, built from the tunnel's files when it was prepared.
    first_opts: Value,
    token: String,
    public_url: Option<String>,
    /// The agent API body that started it, kept to persist API tunnels across restarts.
    api_body: Option<Value>,
}

pub(crate) struct Inner {
    config: AgentConfig,
    edge_tls: Arc<ClientConfig>,
    tunnels: Mutex<BTreeMap<String, TunnelState>>,
    events: broadcast::Sender<AgentEvent>,
    client_id: Mutex<String>,
    current: Mutex<Option<(MuxadoOpen, BeatClock)>>,
    upstream_tls: Arc<ClientConfig>,
    captures: Arc<capture::CaptureStore>,
    /// Set once every tunnel has been bound on some session.
    online_once: std::sync::atomic::AtomicBool,
    /// Woken whenever a bind reply gives a tunnel its ID, for proxy streams that arrived
    /// first (`session::forwarder_when_bound`).
    bound: tokio::sync::Notify,
    /// Which of [`AgentConfig::server_addrs`] the last session reached: the next dial starts
    /// there.
    server_index: std::sync::atomic::AtomicUsize,
    /// When a proxy stream last arrived: data connections are kept only while they do.
    data_demand: session::Demand,
}

impl Inner {
    async fn forwarder_by_id(&self, id: &TunnelId) -> Option<Arc<Forwarder>> {
        self.tunnels
            .lock()
            .await
            .values()
            .find(|t| t.id.as_ref() == Some(id))
            .map(|t| t.fwd.clone())
    }

    /// Drops what the edge said about a tunnel so that the next bind starts it anew.
    async fn forget_binding(&self, name: &str) {
        if let Some(t) = self.tunnels.lock().await.get_mut(name) {
            t.id = None;
            t.opts = None;
            t.token.clear();
        }
    }

    async fn remove_by_id(&self, id: &TunnelId) -> Option<String> {
        let mut tunnels = self.tunnels.lock().await;
        let name = tunnels
            .iter()
            .find(|(_, t)| t.id.as_ref() == Some(id))
            .map(|(n, _)| n.clone())?;
        tunnels.remove(&name);
        Some(name)
    }
}

/// A configured agent; [`Agent::run`] keeps it connected.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

/// One tunnel as the agent currently sees it.
#[derive(Clone, Debug)]
pub struct TunnelStatus {
    /// As configured; the agent API's path segment and the `tunnel_name` of its captures.
    pub name: String,
    /// The edge's tunnel ID (`tn_...`), `None` until the first bind. Kept across
    /// reconnects; replaced only when the edge no longer recognises the old one's bind token.
    pub id: Option<TunnelId>,
    /// What was bound.
    pub proto: BindProto,
    /// `None` until the edge has answered the first bind.
    pub public_url: Option<String>,
    /// The upstream as the agent API's `config.addr` shows it: a URL for HTTP tunnels
    /// (`http://localhost:3000`), else `host:port` (`https://`-prefixed for a TLS upstream).
    pub addr: String,
    /// The same upstream parsed, for the DNS-rebinding guard, which lets through the public
    /// names of tunnels that forward to the agent API's own port.
    pub upstream: Upstream,
    /// Requests are captured for the inspector.
    pub inspect: bool,
    /// `basic_auth` or `mutual_tls_cas` is set: exposing the agent API through this tunnel is
    /// then not warned about.
    pub protected: bool,
    /// Started through `POST /api/tunnels` rather than when the agent started.
    pub from_api: bool,
    /// The agent API's `metrics` object: counts, rates per second, durations in nanoseconds.
    pub metrics: Value,
}

/// Changes to apply to a replayed request.
#[derive(Debug, Default)]
pub struct ReplayEdits {
    /// Sent instead of the captured method.
    pub method: Option<String>,
    /// Sent instead of the captured URI (path and query).
    pub uri: Option<String>,
    /// Sent instead of the captured body, which may have been cut at the capture limit; the
    /// length is set anew.
    pub body: Option<String>,
}

/// Why a replay was not sent. An upstream that is down is not one of them: the replay then
/// gets the 502 page, captured like any other answer.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The id names no capture: evicted from the ring, cleared, or never taken.
    #[error("no captured request with that id")]
    UnknownCapture,
    /// The tunnel to replay on (named, or the one the capture came through) is not running.
    #[error("no tunnel named {0:?}")]
    UnknownTunnel(String),
    /// Only HTTP requests are captured, so only an HTTP tunnel can take one.
    #[error("tunnel {0:?} is not an http tunnel")]
    NotHttp(String),
    /// The edited method or URI does not make a request.
    #[error("replay failed: {0}")]
    Failed(String),
}

impl TunnelState {
    fn status(&self, name: &str) -> TunnelStatus {
        let spec = &self.fwd.spec;
        let addr = match spec.proto {
            TunnelProto::Http => format!(
                "{}://{}",
                if spec.addr.tls { "https" } else { "http" },
                spec.addr.host_port()
            ),
            _ => spec.addr.to_string(),
        };
        TunnelStatus {
            name: name.to_string(),
            id: self.id.clone(),
            proto: spec.bind_proto(),
            public_url: self.public_url.clone(),
            addr,
            upstream: spec.addr.clone(),
            inspect: spec.inspect,
            protected: !spec.basic_auth.is_empty() || spec.mutual_tls_cas.is_some(),
            from_api: self.api_body.is_some(),
            metrics: self.fwd.metrics.to_json(),
        }
    }
}

impl Inner {
    fn state_for(
        &self,
        spec: TunnelSpec,
        api_body: Option<Value>,
    ) -> Result<TunnelState, AgentError> {
        let prepared = spec.prepare()?;
        Ok(TunnelState {
            fwd: Arc::new(Forwarder {
                spec,
                tls: prepared.tls,
                upstream_tls: self.upstream_tls.clone(),
                metrics: Arc::new(metrics::TunnelMetrics::default()),
                captures: self.captures.clone(),
            }),
            id: None,
            opts: None,
            first_opts: prepared.opts,
            token: String::new(),
            public_url: None,
            api_body,
        })
    }
}

impl Agent {
    /// Checks every tunnel's files and the trust settings before anything is dialed.
    pub fn new(config: AgentConfig, specs: Vec<TunnelSpec>) -> Result<Self, AgentError> {
        let edge_tls = trust::edge_client_config(&config.root_cas)?;
        let upstream_tls = trust::danger_unverified_upstream_config();
        let captures = Arc::new(capture::CaptureStore::new(config.inspect_db_size));
        let (events, _) = broadcast::channel(256);
        let inner = Arc::new(Inner {
            config,
            edge_tls,
            tunnels: Mutex::new(BTreeMap::new()),
            events,
            client_id: Mutex::new(String::new()),
            current: Mutex::new(None),
            upstream_tls,
            captures,
            online_once: std::sync::atomic::AtomicBool::new(false),
            bound: tokio::sync::Notify::new(),
            server_index: std::sync::atomic::AtomicUsize::new(0),
            data_demand: session::Demand::default(),
        });
        let mut tunnels = BTreeMap::new();
        for spec in specs {
            let name = spec.name.clone();
            let state = inner.state_for(spec, None)?;
            if tunnels.insert(name.clone(), state).is_some() {
                return Err(AgentError::DuplicateName(name));
            }
        }
        #[allow(clippy::expect_used, reason = "nothing else holds `inner` yet")]
        let mut slot = inner.tunnels.try_lock().expect("fresh mutex");
        *slot = tunnels;
        drop(slot);
        Ok(Self { inner })
    }

    /// Starts a tunnel on the live session (the agent API's `POST /api/tunnels`). It is bound
    /// before this returns; a refusal from the edge removes it again.
    pub async fn add_tunnel(
        &self,
        spec: TunnelSpec,
        api_body: Option<Value>,
    ) -> Result<TunnelStatus, AgentError> {
        let name = spec.name.clone();
        let state = self.inner.state_for(spec, api_body)?;
        {
            let mut tunnels = self.inner.tunnels.lock().await;
            if tunnels.contains_key(&name) {
                return Err(AgentError::DuplicateName(name));
            }
            tunnels.insert(name.clone(), state);
        }
        let open = self
            .inner
            .current
            .lock()
            .await
            .as_ref()
            .map(|(o, _)| o.clone());
        let result = match open {
            None => Err(AgentError::Offline),
            Some(open) => session::bind_one(&self.inner, &open, &name)
                .await
                .map_err(AgentError::Refused),
        };
        if let Err(e) = result {
            self.inner.tunnels.lock().await.remove(&name);
            return Err(e);
        }
        self.tunnel(&name)
            .await
            .ok_or(AgentError::RemovedWhileStarting(name))
    }

    /// Stops a tunnel and unbinds it at the edge. False when no such tunnel exists.
    pub async fn remove_tunnel(&self, name: &str) -> bool {
        let Some(state) = self.inner.tunnels.lock().await.remove(name) else {
            return false;
        };
        let open = self
            .inner
            .current
            .lock()
            .await
            .as_ref()
            .map(|(o, _)| o.clone());
        if let (Some(open), Some(id)) = (open, &state.id) {
            let unbind = ferry_proto::msg::Unbind { id: id.to_string() };
            let _ = ferry_transport::call(
                &open,
                ferry_proto::StreamType::UNBIND,
                &unbind,
                Duration::from_secs(10),
            )
            .await;
        }
        true
    }

    /// One tunnel by name; `None` when it is not running (never started, stopped, or stopped
    /// by the edge).
    pub async fn tunnel(&self, name: &str) -> Option<TunnelStatus> {
        self.inner
            .tunnels
            .lock()
            .await
            .get(name)
            .map(|t| t.status(name))
    }

    /// The agent API bodies of the tunnels started through it, for `--persist-api-tunnels`.
    pub async fn api_bodies(&self) -> Vec<Value> {
        self.inner
            .tunnels
            .lock()
            .await
            .values()
            .filter_map(|t| t.api_body.clone())
            .collect()
    }

    /// The inspection ring all tunnels share, read by the agent API and the status screen.
    pub fn captures(&self) -> Arc<capture::CaptureStore> {
        self.inner.captures.clone()
    }

    /// Re-sends a captured request to the local service of `tunnel` (by default the tunnel it
    /// was captured on). The replay is captured too.
    pub async fn replay(
        &self,
        id: &str,
        tunnel: Option<&str>,
        edits: ReplayEdits,
    ) -> Result<u16, ReplayError> {
        let cap = self
            .inner
            .captures
            .get(id)
            .ok_or(ReplayError::UnknownCapture)?;
        let name = tunnel.unwrap_or(&cap.tunnel_name).to_string();
        let fwd = self
            .inner
            .tunnels
            .lock()
            .await
            .get(&name)
            .map(|t| t.fwd.clone())
            .ok_or(ReplayError::UnknownTunnel(name.clone()))?;
        if fwd.spec.proto != TunnelProto::Http {
            return Err(ReplayError::NotHttp(name));
        }
        let mut req = http::Request::builder()
            .method(edits.method.as_deref().unwrap_or(&cap.request.method))
            .uri(edits.uri.as_deref().unwrap_or(&cap.request.uri));
        for (k, v) in cap.request.headers.iter() {
            // The body may have changed: hyper sets the length of the new one.
            if !k.eq_ignore_ascii_case("content-length")
                && !k.eq_ignore_ascii_case("transfer-encoding")
            {
                req = req.header(k, v);
            }
        }
        use http_body_util::BodyExt;
        let body_bytes = match edits.body {
            Some(b) => b.into_bytes(),
            None => cap.request_body(),
        };
        let body = http_body_util::Full::new(bytes::Bytes::from(body_bytes))
            .map_err(|never| match never {})
            .boxed();
        let req = req
            .body(body)
            .map_err(|e| ReplayError::Failed(format!("rebuilding the request: {e}")))?;
        let slot = Mutex::new(None);
        let resp = forward::exchange(&fwd, &slot, req, "replay", None).await;
        let status = resp.status().as_u16();
        // Read the response so that its capture fills in.
        let _ = resp.into_body().collect().await;
        Ok(status)
    }

    /// Events from now on. A receiver more than 256 events behind loses the oldest.
    pub fn subscribe(&self) -> broadcast::Receiver<AgentEvent> {
        self.inner.events.subscribe()
    }

    /// Every tunnel by name, bound or waiting for a session.
    pub async fn tunnels(&self) -> Vec<TunnelStatus> {
        self.inner
            .tunnels
            .lock()
            .await
            .iter()
            .map(|(name, t)| t.status(name))
            .collect()
    }

    /// The edge the agent reached last (the first configured before any), for the status
    /// screen.
    pub fn server_addr(&self) -> &str {
        let i = self
            .inner
            .server_index
            .load(std::sync::atomic::Ordering::Relaxed);
        self.inner
            .config
            .server_addrs()
            .nth(i)
            .unwrap_or(&self.inner.config.server_addr)
    }

    /// True once a session's tunnels are bound, false while dialing or backing off.
    pub async fn is_online(&self) -> bool {
        self.inner.current.lock().await.is_some()
    }

    /// The round trip of the last heartbeat, while connected.
    pub async fn latency(&self) -> Option<Duration> {
        self.inner
            .current
            .lock()
            .await
            .as_ref()
            .map(|(_, c)| c.latency())
    }

    /// Stays connected until the edge refuses the agent before it was ever online (a bad
    /// authtoken, a bind the ACL forbids): that is returned as an error. Once online, every
    /// failure is retried with back-off.
    pub async fn run(&self) -> Result<(), AgentError> {
        let mut ever_online = false;
        let mut attempt = 0u32;
        // Said once per outage, not at every retry.
        let mut told_refused = false;
        loop {
            let started = Instant::now();
            let mut online = self.inner.events.subscribe();
            let res = session::run_once(&self.inner).await;
            while let Ok(ev) = online.try_recv() {
                if matches!(ev, AgentEvent::Online) {
                    ever_online = true;
                    told_refused = false;
                }
            }
            let reason = match res {
                Ok(()) => "session ended".to_string(),
                // Online again elsewhere before any back-off: the draining node keeps its
                // streams going meanwhile.
                Err(SessionError::Moved) => {
                    attempt = 0;
                    self.inner
                        .server_index
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                Err(e) if e.is_refusal() && !ever_online => return Err(AgentError::Refused(e)),
                Err(SessionError::AuthtokenRefused(refusal)) => {
                    let m = refusal.text;
                    let wait =
                        backoff(attempt, REFUSED_TOKEN_MAX_BACKOFF).max(REFUSED_TOKEN_MIN_BACKOFF);
                    attempt = attempt.saturating_add(1);
                    if !told_refused {
                        told_refused = true;
                        tracing::error!(
                            "the edge no longer accepts this agent's authtoken: it was revoked or deleted. Give the agent a new one (--authtoken, FERRY_AUTHTOKEN or `ferry config add-authtoken`). Until then it asks again every few minutes. ({m})"
                        );
                    } else {
                        tracing::debug!(
                            "authtoken still refused; asking again in {:.0}s",
                            wait.as_secs_f64()
                        );
                    }
                    let _ = self.inner.events.send(AgentEvent::Offline { reason: m });
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(e) => e.to_string(),
            };
            if session::was_stable(started) {
                attempt = 0;
            }
            let wait = backoff(attempt, self.inner.config.max_backoff);
            attempt = attempt.saturating_add(1);
            tracing::warn!("{reason}; reconnecting in {:.1}s", wait.as_secs_f64());
            let _ = self.inner.events.send(AgentEvent::Offline { reason });
            tokio::time::sleep(wait).await;
        }
    }
}
