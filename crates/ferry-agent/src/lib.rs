//! Ferry's agent: it dials the edge, binds its tunnels, and carries each public connection to
//! a local service, terminating TLS (with client certificates) itself when a tunnel asks for
//! it. It speaks ngrok's agent protocol, so it works against ngrok-compatible edges, and it
//! re-binds every tunnel it holds after any outage, with back-off capped at a minute.

pub mod config;
mod forward;
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

pub use session::{backoff, SessionError};
pub use trust::{RootCas, TrustError};
pub use tunnel::{HostHeader, TerminateAt, TunnelError, TunnelProto, TunnelSpec};
pub use upstream::{Upstream, UpstreamError};

use crate::forward::Forwarder;

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
    #[error("tunnel name {0:?} is used twice")]
    DuplicateName(String),
}

struct TunnelState {
    fwd: Arc<Forwarder>,
    /// Empty until the first bind; kept across reconnects so the edge keeps the ID.
    id: String,
    /// The `Opts` and bind token the edge returned, sent back unchanged on re-bind.
    opts: Option<Value>,
    token: String,
    public_url: Option<String>,
}

pub(crate) struct Inner {
    config: AgentConfig,
    edge_tls: Arc<ClientConfig>,
    tunnels: Mutex<BTreeMap<String, TunnelState>>,
    events: broadcast::Sender<AgentEvent>,
    client_id: Mutex<String>,
    current: Mutex<Option<(MuxadoOpen, BeatClock)>>,
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
    pub proto: &'static str,
    pub public_url: Option<String>,
}

impl Agent {
    /// Checks every tunnel's files and the trust settings before anything is dialed.
    pub fn new(config: AgentConfig, specs: Vec<TunnelSpec>) -> Result<Self, AgentError> {
        let edge_tls = trust::edge_client_config(&config.root_cas)?;
        let upstream_tls = trust::danger_unverified_upstream_config();
        let mut tunnels = BTreeMap::new();
        for spec in specs {
            let tls = spec.prepare()?;
            let name = spec.name.clone();
            let state = TunnelState {
                fwd: Arc::new(Forwarder {
                    spec,
                    tls,
                    upstream_tls: upstream_tls.clone(),
                }),
                id: String::new(),
                opts: None,
                token: String::new(),
                public_url: None,
            };
            if tunnels.insert(name.clone(), state).is_some() {
                return Err(AgentError::DuplicateName(name));
            }
        }
        let (events, _) = broadcast::channel(256);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                edge_tls,
                tunnels: Mutex::new(tunnels),
                events,
                client_id: Mutex::new(String::new()),
                current: Mutex::new(None),
            }),
        })
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
            .map(|(name, t)| TunnelStatus {
                name: name.clone(),
                proto: t.fwd.spec.bind_proto(),
                public_url: t.public_url.clone(),
            })
            .collect()
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
        loop {
            let started = Instant::now();
            let mut online = self.inner.events.subscribe();
            let res = session::run_once(&self.inner).await;
            while let Ok(ev) = online.try_recv() {
                if matches!(ev, AgentEvent::Online) {
                    ever_online = true;
                }
            }
            let reason = match res {
                Ok(()) => "session ended".to_string(),
                Err(SessionError::Refused(m)) if !ever_online => {
                    return Err(AgentError::Refused(m))
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
