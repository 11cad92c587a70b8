//! The live routing table: which agent session serves which host or port right now, and which
//! names recently lost their agent (so a request gets "agent offline", not "not found").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use ferry_proto::{BindProto, ClientKind};
use ferry_transport::{KillSwitch, MuxadoOpen};
use ferry_types::{HostPattern, Hostname, ResourceId, TunnelId};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// One authenticated agent connection.
pub struct AgentSession {
    pub id: ResourceId,
    pub open: MuxadoOpen,
    pub kill: KillSwitch,
    /// Bounds concurrent proxy streams (see `EdgeConfig::max_streams_per_session`).
    pub streams: Arc<Semaphore>,
    pub remote: SocketAddr,
    /// Decides which SDK quirks to absorb.
    pub client: ClientKind,
    pub credential: ResourceId,
    /// What the agent said about itself in Auth, for the control plane's session list.
    pub os: String,
    pub agent_version: String,
    pub metadata: String,
    pub started_at: SystemTime,
    /// What the agent said about the restart, stop and update commands in Auth: `None` for an
    /// agent too old to know them, `Some("")` when supported, else the reason it is not.
    pub restart_unsupported: Option<String>,
    pub stop_unsupported: Option<String>,
    pub update_unsupported: Option<String>,
    /// The data connections a Ferry agent left idle for proxy streams.
    pub data: crate::data_conn::DataPool,
}

/// One bound endpoint.
pub struct Tunnel {
    pub id: TunnelId,
    /// The protocol the agent bound with, echoed in proxy headers.
    pub proto: BindProto,
    pub host: Option<HostPattern>,
    pub port: Option<u16>,
    pub public_url: String,
    pub session: Arc<AgentSession>,
    /// Proxy streams wait until then (the SDK bind/proxy race).
    pub ready_at: Instant,
    /// Basic auth the edge requires (HTTP endpoints).
    pub protection: crate::protect::Protection,
    /// The bind's `Extra.Metadata` and `ForwardsTo`, for the control plane's tunnel list.
    pub metadata: String,
    pub forwards_to: String,
    pub started_at: SystemTime,
    /// For an HTTPS endpoint with mutual TLS at the edge: the TLS configuration that requires
    /// a client certificate from the endpoint's CAs (`client_auth.rs`).
    pub client_tls: Option<Arc<rustls::ServerConfig>>,
    /// For a TLS endpoint the edge terminates (`terminate.rs`): the configuration its
    /// connections are accepted with. `None` passes the client's TLS through to the agent.
    pub tls_termination: Option<Arc<rustls::ServerConfig>>,
    /// A TCP or TLS endpoint's PROXY protocol header (ngrok's `proxy_proto`), written ahead
    /// of each connection's bytes.
    pub proxy_proto: Option<ferry_proto::ProxyVersion>,
}

pub enum Route {
    Live(Arc<Tunnel>),
    /// The name or port had an agent recently; it is gone.
    Offline,
    Unknown,
}

/// The patterns that can serve `host`, most specific first: the host itself, then a wildcard
/// on each name above it.
pub fn patterns_for(host: &Hostname) -> Vec<HostPattern> {
    let mut candidates = vec![HostPattern::Exact(host.clone())];
    let name = host.as_str();
    for (i, b) in name.bytes().enumerate() {
        if b == b'.' {
            if let Ok(base) = Hostname::parse(&name[i + 1..]) {
                candidates.push(HostPattern::Wildcard(base));
            }
        }
    }
    candidates
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("{0} is already served by another agent session")]
    Taken(String),
    #[error("TCP port {0} is in use")]
    PortInUse(u16),
    #[error("no free TCP port in {0}-{1}")]
    NoFreePort(u16, u16),
}

/// How long a connection waits for a bind that has claimed its port to finish.
const BIND_IN_PROGRESS: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Default)]
pub struct Registry {
    inner: Mutex<Inner>,
    /// Woken at every bind, for requests waiting on a name expected back.
    bound: tokio::sync::Notify,
}

#[derive(Default)]
struct Inner {
    tunnels: HashMap<TunnelId, Arc<Tunnel>>,
    hosts: HashMap<HostPattern, TunnelId>,
    offline_hosts: HashMap<HostPattern, Instant>,
    /// Names the process this one took over from served, until when their agents are
    /// expected to bind them here.
    expected_hosts: HashMap<HostPattern, Instant>,
    ports: HashMap<u16, PortEntry>,
}

struct PortEntry {
    tunnel: Option<TunnelId>,
    offline_until: Option<Instant>,
    /// Stops the port's listener.
    closer: CancellationToken,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug in this file; keep serving anyway.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Exact host first, then the most specific wildcard above it.
    pub fn route_host(&self, host: &Hostname) -> Route {
        let inner = self.lock();
        let candidates = patterns_for(host);
        for c in &candidates {
            if let Some(t) = inner.hosts.get(c).and_then(|id| inner.tunnels.get(id)) {
                return Route::Live(t.clone());
            }
        }
        let now = Instant::now();
        if candidates
            .iter()
            .any(|c| inner.offline_hosts.get(c).is_some_and(|until| *until > now))
        {
            return Route::Offline;
        }
        Route::Unknown
    }

    pub fn route_port(&self, port: u16) -> Route {
        let inner = self.lock();
        match inner.ports.get(&port) {
            Some(PortEntry {
                tunnel: Some(id), ..
            }) => match inner.tunnels.get(id) {
                Some(t) => Route::Live(t.clone()),
                None => Route::Offline,
            },
            Some(_) => Route::Offline,
            None => Route::Unknown,
        }
    }

    /// [`Registry::route_port`], waiting a moment while the port is claimed by a bind that
    /// has not finished: a listener handed over by an upgrade already holds connections
    /// when the bind claiming it starts its accept loop.
    pub async fn route_port_when_bound(&self, port: u16) -> Route {
        let deadline = tokio::time::Instant::now() + BIND_IN_PROGRESS;
        loop {
            let bound = self.bound.notified();
            let binding = {
                let inner = self.lock();
                inner
                    .ports
                    .get(&port)
                    .and_then(|e| e.tunnel.as_ref())
                    .is_some_and(|id| !inner.tunnels.contains_key(id))
            };
            if !binding || tokio::time::timeout_at(deadline, bound).await.is_err() {
                return self.route_port(port);
            }
        }
    }

    pub fn tunnel(&self, id: &TunnelId) -> Option<Arc<Tunnel>> {
        self.lock().tunnels.get(id).cloned()
    }

    /// The ID of the tunnel that serves `host` now.
    pub fn host_holder(&self, host: &HostPattern) -> Option<TunnelId> {
        self.lock().hosts.get(host).cloned()
    }

    /// Reserves a TCP port for tunnel `id`: the one asked for, or a free one in the range.
    /// Returns the port and, when a listener must be started for it, its stop token.
    pub fn claim_port<L>(
        &self,
        wanted: Option<u16>,
        range: (u16, u16),
        id: &TunnelId,
        mut try_bind: impl FnMut(u16) -> Option<L>,
    ) -> Result<(u16, Option<(CancellationToken, L)>), ClaimError> {
        let mut inner = self.lock();
        if let Some(port) = wanted {
            match inner.ports.get_mut(&port) {
                Some(e) if e.tunnel.as_ref().is_some_and(|t| t != id) => {
                    Err(ClaimError::PortInUse(port))
                }
                Some(e) => {
                    e.tunnel = Some(id.clone());
                    e.offline_until = None;
                    Ok((port, None))
                }
                None => {
                    let Some(listener) = try_bind(port) else {
                        return Err(ClaimError::PortInUse(port));
                    };
                    let closer = CancellationToken::new();
                    inner.ports.insert(
                        port,
                        PortEntry {
                            tunnel: Some(id.clone()),
                            offline_until: None,
                            closer: closer.clone(),
                        },
                    );
                    Ok((port, Some((closer, listener))))
                }
            }
        } else {
            let (lo, hi) = range;
            let span = u32::from(hi.saturating_sub(lo)) + 1;
            let start = rand::random::<u32>() % span;
            for i in 0..span.min(512) {
                let port = lo + ((start + i) % span) as u16;
                if inner.ports.contains_key(&port) {
                    continue;
                }
                let Some(listener) = try_bind(port) else {
                    continue;
                };
                let closer = CancellationToken::new();
                inner.ports.insert(
                    port,
                    PortEntry {
                        tunnel: Some(id.clone()),
                        offline_until: None,
                        closer: closer.clone(),
                    },
                );
                return Ok((port, Some((closer, listener))));
            }
            Err(ClaimError::NoFreePort(lo, hi))
        }
    }

    /// Gives up a port claimed for a bind that failed afterwards.
    pub fn release_port(&self, port: u16) {
        if let Some(e) = self.lock().ports.remove(&port) {
            e.closer.cancel();
        }
    }

    /// Makes `tunnel` routable, replacing an earlier registration of the same ID.
    pub fn insert(&self, tunnel: Arc<Tunnel>) -> Result<(), ClaimError> {
        let mut inner = self.lock();
        // Checked again under the same lock as the insert, so two binds racing for one name
        // cannot both win.
        if let Some(h) = &tunnel.host {
            if inner.hosts.get(h).is_some_and(|owner| *owner != tunnel.id) {
                return Err(ClaimError::Taken(h.to_string()));
            }
        }
        // A re-bind of the same ID may move to another name or port: free the old ones.
        if let Some(old) = inner.tunnels.get(&tunnel.id).cloned() {
            if let Some(h) = &old.host {
                if old.host != tunnel.host && inner.hosts.get(h) == Some(&old.id) {
                    inner.hosts.remove(h);
                }
            }
            if let Some(p) = old.port {
                if old.port != tunnel.port {
                    if let Some(e) = inner.ports.remove(&p) {
                        e.closer.cancel();
                    }
                }
            }
        }
        if let Some(h) = &tunnel.host {
            inner.offline_hosts.remove(h);
            inner.hosts.insert(h.clone(), tunnel.id.clone());
        }
        inner.tunnels.insert(tunnel.id.clone(), tunnel);
        drop(inner);
        self.bound.notify_waiters();
        Ok(())
    }

    /// Names whose agents are on their way here until `until` (from the process this one
    /// took over from): a request for one waits for the bind instead of a 404.
    pub fn expect_hosts(&self, hosts: impl IntoIterator<Item = HostPattern>, until: Instant) {
        let mut inner = self.lock();
        for h in hosts {
            inner.expected_hosts.insert(h, until);
        }
    }

    /// [`Registry::route_host`], waiting while no tunnel serves `host` but its agent is
    /// expected back (an upgrade in place moves every agent).
    pub async fn route_host_when_bound(&self, host: &Hostname) -> Route {
        loop {
            // Registered before the lookup, so a bind in between still wakes this.
            let bound = self.bound.notified();
            let route = self.route_host(host);
            if matches!(route, Route::Live(_)) {
                return route;
            }
            let until = {
                let inner = self.lock();
                patterns_for(host)
                    .iter()
                    .filter_map(|p| inner.expected_hosts.get(p).copied())
                    .max()
            };
            match until {
                Some(until) if until > Instant::now() => {
                    let deadline = tokio::time::Instant::from_std(until);
                    if tokio::time::timeout_at(deadline, bound).await.is_err() {
                        return self.route_host(host);
                    }
                }
                _ => return route,
            }
        }
    }

    /// An explicit unbind: the name and port are free at once.
    pub fn remove_tunnel(&self, id: &TunnelId, session: &ResourceId) -> Option<Arc<Tunnel>> {
        let mut inner = self.lock();
        let owned = inner
            .tunnels
            .get(id)
            .is_some_and(|t| t.session.id == *session);
        if !owned {
            return None;
        }
        let t = inner.tunnels.remove(id)?;
        if let Some(h) = &t.host {
            inner.hosts.remove(h);
        }
        if let Some(p) = t.port {
            if let Some(e) = inner.ports.remove(&p) {
                e.closer.cancel();
            }
        }
        Some(t)
    }

    /// A session ended: its tunnels go offline but keep their names and ports for `grace`,
    /// so a request meets "agent offline" and the agent can re-bind the same port.
    pub fn remove_session(&self, session: &ResourceId, grace: Duration) -> Vec<Arc<Tunnel>> {
        let mut inner = self.lock();
        let until = Instant::now() + grace;
        let gone: Vec<Arc<Tunnel>> = inner
            .tunnels
            .values()
            .filter(|t| t.session.id == *session)
            .cloned()
            .collect();
        for t in &gone {
            inner.tunnels.remove(&t.id);
            if let Some(h) = &t.host {
                if inner.hosts.get(h) == Some(&t.id) {
                    inner.hosts.remove(h);
                    inner.offline_hosts.insert(h.clone(), until);
                }
            }
            if let Some(p) = t.port {
                if let Some(e) = inner.ports.get_mut(&p) {
                    if e.tunnel.as_ref() == Some(&t.id) {
                        e.tunnel = None;
                        e.offline_until = Some(until);
                    }
                }
            }
        }
        gone
    }

    /// Forgets offline names and closes offline ports whose grace has run out.
    pub fn sweep(&self) {
        let mut inner = self.lock();
        let now = Instant::now();
        inner.offline_hosts.retain(|_, until| *until > now);
        inner.expected_hosts.retain(|_, until| *until > now);
        inner.ports.retain(|_, e| {
            let keep = e.tunnel.is_some() || e.offline_until.is_some_and(|u| u > now);
            if !keep {
                e.closer.cancel();
            }
            keep
        });
    }

    /// Every live tunnel, for the control plane's read-only views.
    pub fn snapshot(&self) -> Vec<Arc<Tunnel>> {
        self.lock().tunnels.values().cloned().collect()
    }

    pub fn tunnel_count(&self) -> usize {
        self.lock().tunnels.len()
    }

    pub fn session_tunnel_count(&self, session: &ResourceId) -> usize {
        self.lock()
            .tunnels
            .values()
            .filter(|t| t.session.id == *session)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Arc<AgentSession> {
        let mux = ferry_transport::SessionBuilder::new(tokio::io::duplex(64).0)
            .server()
            .start();
        let (open, _accept) = ferry_transport::Session::split(mux);
        let id = ResourceId::generate("ts");
        Arc::new(AgentSession {
            data: crate::data_conn::DataPool::new(&id, false),
            id,
            open,
            kill: KillSwitch::default(),
            streams: Arc::new(Semaphore::new(1)),
            remote: "127.0.0.1:1".parse().unwrap(),
            client: ClientKind::Unknown,
            credential: ResourceId::generate("cr"),
            os: String::new(),
            agent_version: String::new(),
            metadata: String::new(),
            started_at: std::time::SystemTime::now(),
            restart_unsupported: None,
            stop_unsupported: None,
            update_unsupported: None,
        })
    }

    fn tunnel(id: &str, host: &str, s: &Arc<AgentSession>) -> Arc<Tunnel> {
        Arc::new(Tunnel {
            id: TunnelId::parse(id).unwrap(),
            proto: BindProto::Https,
            host: Some(HostPattern::parse(host).unwrap()),
            port: None,
            public_url: String::new(),
            session: s.clone(),
            ready_at: Instant::now(),
            protection: Default::default(),
            metadata: String::new(),
            forwards_to: String::new(),
            started_at: std::time::SystemTime::now(),
            client_tls: None,
            tls_termination: None,
            proxy_proto: None,
        })
    }

    #[tokio::test]
    async fn a_rebind_that_moves_frees_the_old_name_and_races_cannot_share_one() {
        let r = Registry::default();
        let s = session();
        r.insert(tunnel("tn_a", "old.example.test", &s)).unwrap();
        r.insert(tunnel("tn_a", "new.example.test", &s)).unwrap();
        let old = Hostname::parse("old.example.test").unwrap();
        assert!(matches!(r.route_host(&old), Route::Unknown));
        assert!(r.insert(tunnel("tn_b", "new.example.test", &s)).is_err());
        r.insert(tunnel("tn_b", "old.example.test", &s)).unwrap();
    }
}
