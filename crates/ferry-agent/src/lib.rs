//! Ferry's agent: it dials the edge, binds its tunnels, and carries each public connection to
//! a local service, terminating TLS (with client certificates) itself when a tunnel asks for
//! it. It speaks ngrok's agent protocol, so it works against ngrok-compatible edges, and it
//! re-binds every tunnel it holds after any outage, with back-off capped at a minute.

pub mod api;
mod capture;
pub mod config;
mod forward;
mod metrics;
mod session;
mod trust;
mod tunnel;
mod upstream;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_transport::{BeatClock, MuxadoOpen};
use ferry_types::Secret;
use rustls::ClientConfig;
use serde_json::Value;
use tokio::sync::{broadcast, Mutex};

pub use capture::{Capture, CaptureStore};
pub use session::{backoff, EdgeRefusal, SessionError};
pub use trust::{RootCas, TrustError};
pub use tunnel::{HostHeader, TerminateAt, TunnelError, TunnelProto, TunnelSpec};
pub use upstream::{Upstream, UpstreamError};

use crate::forward::Forwarder;

/// Back-off of an agent whose authtoken the edge refuses once it has been online: a revoked
/// token stays revoked, so asking every minute only adds load; a new token needs a restart
/// of the agent anyway (or a bot user reactivated, which these bounds still pick up).
const REFUSED_TOKEN_MIN_BACKOFF: Duration = Duration::from_secs(120);
const REFUSED_TOKEN_MAX_BACKOFF: Duration = Duration::from_secs(900);

/// Session settings (the agent-level keys of ngrok.yml).
#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub authtoken: Secret,
    /// `host:port` of the edge's agent ingress.
    pub server_addr: String,
    pub root_cas: RootCas,
    pub heartbeat_interval: Duration,
    pub heartbeat_tolerance: Duration,
    pub connect_timeout: Duration,
    /// The longest wait between reconnect attempts.
    pub max_backoff: Duration,
    pub metadata: String,
    /// Bytes of captured requests to keep; `None` turns capture off.
    pub inspect_db_size: Option<u64>,
}

impl AgentConfig {
    /// Defaults: beats every 5 s and a 10 s tolerance, so a dead edge is noticed within 15 s.
    pub fn new(authtoken: Secret, server_addr: String, root_cas: RootCas) -> Self {
        Self {
            authtoken,
            server_addr,
            root_cas,
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_tolerance: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
            metadata: String::new(),
            inspect_db_size: Some(50 * 1024 * 1024),
        }
    }
}

/// What the agent reports to whoever runs it (the CLI prints these, the ready file waits for
/// them).
#[derive(Clone, Debug)]
pub enum AgentEvent {
    Online,
    TunnelStarted {
        name: String,
        proto: String,
        public_url: String,
    },
    Offline {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    #[error(transparent)]
    Tunnel(#[from] TunnelError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("the edge refused: {0}")]
    Refused(String),
    #[error("tunnel name {0:?} is already in use")]
    DuplicateName(String),
    #[error("the agent is not connected to the edge right now; retry when it is online")]
    Offline,
}

struct TunnelState {
    fwd: Arc<Forwarder>,
    /// Empty until the first bind; kept across reconnects so the edge keeps the ID.
    id: String,
    /// The `Opts` and bind token the edge returned, sent back unchanged on re-bind.
    opts: Option<Value>,
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
}

impl Inner {
    async fn forwarder_by_id(&self, id: &str) -> Option<Arc<Forwarder>> {
        self.tunnels
            .lock()
            .await
            .values()
            .find(|t| t.id == id)
            .map(|t| t.fwd.clone())
    }

    /// Drops what the edge said about a tunnel so that the next bind starts it anew.
    async fn forget_binding(&self, name: &str) {
        if let Some(t) = self.tunnels.lock().await.get_mut(name) {
            t.id.clear();
            t.opts = None;
            t.token.clear();
        }
    }

    async fn remove_by_id(&self, id: &str) -> Option<String> {
        let mut tunnels = self.tunnels.lock().await;
        let name = tunnels
            .iter()
            .find(|(_, t)| t.id == id)
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
    pub name: String,
    pub id: String,
    pub proto: &'static str,
    pub public_url: Option<String>,
    pub addr: String,
    pub upstream: Upstream,
    pub inspect: bool,
    pub protected: bool,
    pub from_api: bool,
    pub metrics: Value,
}

/// Changes to apply to a replayed request.
#[derive(Debug, Default)]
pub struct ReplayEdits {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub body: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no captured request with that id")]
    UnknownCapture,
    #[error("no tunnel named {0:?}")]
    UnknownTunnel(String),
    #[error("tunnel {0:?} is not an http tunnel")]
    NotHttp(String),
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
        let tls = spec.prepare()?;
        Ok(TunnelState {
            fwd: Arc::new(Forwarder {
                spec,
                tls,
                upstream_tls: self.upstream_tls.clone(),
                metrics: Arc::new(metrics::TunnelMetrics::default()),
                captures: self.captures.clone(),
            }),
            id: String::new(),
            opts: None,
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
                .map_err(|e| AgentError::Refused(e.to_string())),
        };
        if let Err(e) = result {
            self.inner.tunnels.lock().await.remove(&name);
            return Err(e);
        }
        self.tunnel(&name).await.ok_or(AgentError::Refused(format!(
            "tunnel {name:?} was removed while starting"
        )))
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
        if let (Some(open), false) = (open, state.id.is_empty()) {
            let unbind = ferry_proto::msg::Unbind {
                id: state.id.clone(),
            };
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
        for (k, v) in &cap.request.headers {
            // The body may have changed: hyper sets the length of the new one.
            if !k.eq_ignore_ascii_case("content-length")
                && !k.eq_ignore_ascii_case("transfer-encoding")
            {
                req = req.header(k.as_str(), v.as_str());
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

    pub fn subscribe(&self) -> broadcast::Receiver<AgentEvent> {
        self.inner.events.subscribe()
    }

    pub async fn tunnels(&self) -> Vec<TunnelStatus> {
        self.inner
            .tunnels
            .lock()
            .await
            .iter()
            .map(|(name, t)| t.status(name))
            .collect()
    }

    pub fn server_addr(&self) -> &str {
        &self.inner.config.server_addr
    }

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
                Err(e) if e.is_refusal() && !ever_online => {
                    return Err(AgentError::Refused(e.to_string()))
                }
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
