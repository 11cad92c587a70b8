//! Ferry's edge node: the public listeners, SNI and Host routing, the agent ingress with its
//! live registry of sessions and tunnels, HTTP proxying, TLS pass-through, TCP ports, and a
//! graceful drain.
#![warn(missing_docs)]

mod api_port;
mod auth_limit;
mod auth_refusal;
mod bind;
mod bind_token;
mod client_auth;
mod cluster;
mod config;
mod data_conn;
mod dns;
mod error_page;
mod front;
mod held;
mod http_proxy;
mod http_relay;
mod ingress;
mod membership;
mod metrics;
mod pre_auth;
mod protect;
mod proxy_stream;
mod registry;
mod rewind;
pub mod sockets;
mod stream_reuse;
mod tcp;
mod terminate;
mod tls;
mod view;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ferry_acme::Certs;
use ferry_pki::DevCa;
use ferry_store::Store;
use ferry_types::{Hostname, ResourceId};
use rand::RngCore;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use api_port::{ApiIo, ApiService};
pub use config::EdgeConfig;
pub use sockets::{Handover, Inherited};
pub use view::{AgentCommand, CommandError, EdgeView, LiveSession, LiveTunnel};

use crate::auth_limit::AuthLimiter;
use crate::bind_token::BindSigner;
use crate::front::PortRole;
use crate::pre_auth::PreAuthGate;
use crate::registry::{AgentSession, Registry};
use crate::sockets::role;

/// Why the edge did not start. Each is fatal: the binary reports it and exits.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// A listener could not be bound: another process holds the port, a port below 1024
    /// without the privilege, or an address this host does not have.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address as configured (port 0 included), not one the system picked.
        addr: SocketAddr,
        /// The system's reason, such as `AddrInUse` or `PermissionDenied`.
        #[source]
        source: std::io::Error,
    },
    /// rustls refused the edge's TLS settings; a bug rather than something to configure.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// Reading or creating the bind-token key, which every node on the database shares,
    /// or reading the DNS zones' data, failed in the store.
    #[error("store: {0}")]
    Store(#[from] ferry_store::StoreError),
    /// The DNS server's UDP or TCP socket could not be bound.
    #[error(transparent)]
    Dns(#[from] ferry_dns::DnsError),
    /// The node-to-node TLS settings could not be made from the installation's CA.
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
}

/// The addresses the edge ended up on (ports picked at run time included).
#[derive(Clone, Debug)]
pub struct EdgeAddrs {
    /// The shared TLS port: HTTPS and TLS endpoints, and agents unless they have their own.
    pub https: SocketAddr,
    /// The plain-HTTP port.
    pub http: SocketAddr,
    /// Where agents dial: the separate agent port when one is configured, else `https`.
    pub agent_ingress: SocketAddr,
    /// The TCP endpoints' port range as configured, first and last included; ports are
    /// bound only when an endpoint takes one.
    pub tcp_ports: (u16, u16),
    /// The DNS server's address (UDP and TCP), when DNS is served.
    pub dns: Option<SocketAddr>,
    /// Where other nodes reach this one, when `--cluster-addr` was given.
    pub cluster: Option<SocketAddr>,
    /// Where Prometheus scrapes, when `--metrics-addr` was given.
    pub metrics: Option<SocketAddr>,
}

/// A running edge.
pub struct EdgeHandle {
    /// Where the listeners ended up, for the start-up banner and for tests that asked for
    /// port 0.
    pub addrs: EdgeAddrs,
    shared: Arc<Shared>,
    dns: Option<ferry_dns::DnsServer>,
    handover: Mutex<Option<Handover>>,
}

pub(crate) struct Shared {
    pub config: EdgeConfig,
    pub registry: Registry,
    pub store: Store,
    pub signer: BindSigner,
    pub auth_limiter: AuthLimiter,
    pub pre_auth: Arc<PreAuthGate>,
    pub https_port: u16,
    pub http_port: u16,
    pub agent_tls: Arc<ServerConfig>,
    pub https_tls: Arc<ServerConfig>,
    /// What both TLS configurations present, reloaded when the store's certificates change.
    pub certs: Arc<Certs>,
    /// Wakes the certificate reloader ([`EdgeView::certificates_changed`]).
    pub certs_changed: Notify,
    /// Fires when the edge starts draining: listeners stop, HTTP connections finish.
    pub shutdown: CancellationToken,
    /// Second handles on the TCP endpoints' listening sockets, by port, for a successor.
    pub tcp_listeners: Mutex<HashMap<u16, std::os::fd::OwnedFd>>,
    /// TCP endpoints' sockets a predecessor handed over, until their agents bind them here.
    pub inherited_tcp: Mutex<HashMap<u16, std::net::TcpListener>>,
    /// Set when a drain begins, before anything else: `/readyz` answers 503 from then on.
    pub draining: std::sync::atomic::AtomicBool,
    /// Public connections in flight, which a drain waits for.
    pub tracker: TaskTracker,
    sessions: Mutex<HashMap<ResourceId, Arc<AgentSession>>>,
    /// Domains of the store's agent ingresses (owned like `config.ingress_domains`); the
    /// control plane replaces them through [`EdgeView`] whenever they change.
    agent_ingresses: RwLock<Vec<Hostname>>,
    /// What the DNS server answers, when it runs.
    dns: Option<Arc<dns::DnsFeed>>,
    /// This node's row among the nodes sharing the database.
    membership: Arc<membership::Membership>,
    /// The control plane, for connections to `config.api_domain`.
    pub api: std::sync::OnceLock<ApiService>,
    /// This node's end of the node-to-node sessions.
    cluster: Arc<cluster::Cluster>,
}

impl Shared {
    /// Names that belong to the agent ingress. ngrok's agents send the `server_addr` host as
    /// SNI and none for an IP address.
    pub fn is_ingress_name(&self, sni: Option<&str>) -> bool {
        let Some(name) = sni else { return true };
        if self.config.dev && name == "localhost" {
            return true;
        }
        let Ok(h) = Hostname::parse(name) else {
            return false;
        };
        let owns = |d: &Hostname| *d == h || h.is_below(d);
        self.config.ingress_domains.iter().any(owns)
            || self
                .agent_ingresses
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(owns)
    }

    pub async fn remember_session(&self, s: Arc<AgentSession>) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(s.id.clone(), s.clone());
        held::session_started(self, &s).await;
    }

    /// The authenticated session `id`, while it lasts.
    pub fn session(&self, id: &ResourceId) -> Option<Arc<AgentSession>> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Every authenticated session now.
    pub fn sessions_now(&self) -> Vec<Arc<AgentSession>> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn forget_session(&self, id: &ResourceId) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// How often the certificates are read again without being told: the safety net for a
/// change notice that never came (another node's write, a missed call).
const CERT_RELOAD_EVERY: Duration = Duration::from_secs(30);

/// Reloads the served certificates when told they changed, and every [`CERT_RELOAD_EVERY`].
async fn reload_certificates(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = shared.certs_changed.notified() => {}
            _ = tokio::time::sleep(CERT_RELOAD_EVERY) => {}
        }
        if let Err(e) = shared.certs.reload(&shared.store).await {
            tracing::warn!(error = %e, "cannot reload certificates; serving the ones loaded before");
        }
    }
}

/// How often the agent ingress domains are read again: another node's API may have added
/// one, whose agents this node must then take by SNI.
const INGRESS_RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Reads the agent ingress domains every [`INGRESS_RELOAD_EVERY`] (this node's own API sets
/// them at once through [`EdgeView::set_agent_ingresses`]).
async fn reload_agent_ingresses(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = tokio::time::sleep(INGRESS_RELOAD_EVERY) => {}
        }
        match shared.store.agent_ingress_domains().await {
            Ok(domains) => EdgeView::new(shared.clone()).set_agent_ingresses(&domains),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the agent ingress domains; keeping the ones known")
            }
        }
    }
}

const BIND_KEY_SETTING: &str = "bind_token_key";

/// How long a drain waits for its agents to take the word to move or restart.
const HANDOFF_WAIT: Duration = Duration::from_secs(3);

impl EdgeHandle {
    /// Binds every listener and starts serving.
    /// Binds every listener, or takes the one `inherited` holds for its role, and starts
    /// serving.
    pub async fn start(
        config: EdgeConfig,
        store: Store,
        ca: DevCa,
        mut inherited: Inherited,
    ) -> Result<Self, EdgeError> {
        let mut handover = Handover::default();
        let (given, kept) = (&mut inherited, &mut handover);
        let https = sockets::listen(role::HTTPS, config.https_listen, given, kept).await?;
        let http = sockets::listen(role::HTTP, config.http_listen, given, kept).await?;
        let agents = match config.agent_listen {
            Some(a) => Some(sockets::listen(role::AGENTS, a, given, kept).await?),
            None => None,
        };
        let cluster = match config.cluster_listen {
            Some(a) => Some(sockets::listen(role::CLUSTER, a, given, kept).await?),
            None => None,
        };
        let metrics = match config.metrics_listen {
            Some(a) => Some(sockets::listen(role::METRICS, a, given, kept).await?),
            None => None,
        };
        let metrics_addr = match (&metrics, config.metrics_listen) {
            (Some(l), Some(asked)) => Some(local(l, asked)?),
            _ => None,
        };
        let cluster_addr = match (&cluster, config.cluster_listen) {
            (Some(l), Some(asked)) => Some(local(l, asked)?),
            _ => None,
        };
        let https_addr = local(&https, config.https_listen)?;
        let http_addr = local(&http, config.http_listen)?;
        let agent_addr = match &agents {
            Some(l) => local(l, config.https_listen)?,
            None => https_addr,
        };

        let mut fresh = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        let key_hex: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
        let key = store.setting_or_insert(BIND_KEY_SETTING, &key_hex).await?;

        let provider = tls::provider();
        let mut default_names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
            https_addr.ip().to_string(),
        ];
        default_names.extend(config.ingress_domains.iter().map(|d| d.to_string()));
        default_names.dedup();
        let node_to_node = Arc::new(cluster::Cluster::new(
            &ca,
            &config.node_name,
            provider.clone(),
        )?);
        let certs = Certs::new(provider.clone(), ca, default_names, config.dev);
        certs.reload(&store).await?;
        let agent_tls = tls::server_config(provider.clone(), certs.agent_resolver(), &[])?;
        let https_tls = tls::server_config(
            provider,
            certs.public_resolver(),
            &[b"h2", b"http/1.1", ferry_acme::ACME_TLS_ALPN],
        )?;

        let membership = membership::Membership::join(&config, cluster_addr, store.clone()).await?;
        // The zones are read before any socket answers, so that the first query already
        // gets the store's names rather than a REFUSED.
        let dns_feed = match config.dns_listen {
            Some(_) => {
                let feed = Arc::new(dns::DnsFeed::new(&config, store.clone()));
                feed.refresh().await?;
                Some(feed)
            }
            None => None,
        };
        let dns_server = match (config.dns_listen, &dns_feed) {
            (Some(listen), Some(feed)) => {
                let (udp, tcp) = match (
                    inherited.take_udp(role::DNS_UDP),
                    inherited.take_tcp(role::DNS_TCP),
                ) {
                    (Some(udp), Some(Ok(tcp))) => (
                        udp,
                        tcp.into_std().map_err(|source| EdgeError::Listen {
                            addr: listen,
                            source,
                        })?,
                    ),
                    _ => ferry_dns::DnsServer::bind(listen).await?,
                };
                let dup = |source| EdgeError::Listen {
                    addr: listen,
                    source,
                };
                handover.keep(role::DNS_UDP, &udp).map_err(dup)?;
                handover.keep(role::DNS_TCP, &tcp).map_err(dup)?;
                Some(ferry_dns::DnsServer::serve_sockets(
                    udp,
                    tcp,
                    listen,
                    feed.zones(),
                )?)
            }
            _ => None,
        };
        let inherited_tcp = inherited.take_tcp_endpoints();
        let left = inherited.left();
        if !left.is_empty() {
            tracing::warn!(
                ?left,
                "sockets were passed for roles this edge does not serve; they stay unused"
            );
        }

        let shared = Arc::new(Shared {
            auth_limiter: AuthLimiter::new(config.auth_failures_per_minute),
            pre_auth: PreAuthGate::new(
                config.max_unauthenticated_per_source,
                config.max_unauthenticated,
            ),
            https_port: https_addr.port(),
            http_port: http_addr.port(),
            registry: Registry::default(),
            signer: BindSigner::new(key.into_bytes()),
            store,
            agent_tls,
            https_tls,
            certs,
            certs_changed: Notify::new(),
            shutdown: CancellationToken::new(),
            draining: std::sync::atomic::AtomicBool::new(false),
            tcp_listeners: Mutex::new(HashMap::new()),
            inherited_tcp: Mutex::new(inherited_tcp),
            tracker: TaskTracker::new(),
            sessions: Mutex::new(HashMap::new()),
            agent_ingresses: RwLock::new(Vec::new()),
            dns: dns_feed.clone(),
            membership: membership.clone(),
            api: std::sync::OnceLock::new(),
            cluster: node_to_node.clone(),
            config,
        });
        let hints = match shared.store.change_feed().await {
            Ok(feed) => feed,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for the other nodes' changes; reading them every second instead");
                None
            }
        };
        if let Some(window) = shared.config.predecessor_window {
            match held::expect_predecessors_agents(&shared, window).await {
                Ok(names) => tracing::info!(names, "waiting for the previous process's agents"),
                Err(error) => {
                    tracing::warn!(%error, "cannot read the names the previous process served; requests for them may meet 404 until their agents bind here")
                }
            }
        }
        membership.spawn_renewals(dns_feed.clone(), hints);
        if let Some(feed) = dns_feed {
            feed.spawn_safety_net(shared.shutdown.clone());
        }
        if let Some(l) = cluster {
            tokio::spawn(cluster::serve(shared.clone(), node_to_node, l));
        }
        if let Some(l) = metrics {
            tokio::spawn(metrics::serve(shared.clone(), l));
        }
        tokio::spawn(front::serve_tls_port(
            shared.clone(),
            https,
            PortRole::Shared,
        ));
        tokio::spawn(front::serve_http_port(shared.clone(), http));
        if let Some(l) = agents {
            tokio::spawn(front::serve_tls_port(
                shared.clone(),
                l,
                PortRole::AgentsOnly,
            ));
        }
        tokio::spawn(reload_certificates(shared.clone()));
        tokio::spawn(reload_agent_ingresses(shared.clone()));
        let sweeper = shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(15));
            loop {
                tokio::select! {
                    _ = tick.tick() => sweeper.registry.sweep(),
                    _ = sweeper.shutdown.cancelled() => break,
                }
            }
        });
        Ok(Self {
            addrs: EdgeAddrs {
                https: https_addr,
                http: http_addr,
                agent_ingress: agent_addr,
                tcp_ports: shared.config.tcp_ports,
                dns: dns_server.as_ref().map(|d| d.local_addr()),
                cluster: cluster_addr,
                metrics: metrics_addr,
            },
            shared,
            dns: dns_server,
            handover: Mutex::new(Some(handover)),
        })
    }

    /// New handles on every listening socket, by role, for a process taking over
    /// (SIGUSR2). An error once the edge began to drain: its sockets are closing.
    pub fn successor_sockets(&self) -> std::io::Result<Vec<(String, std::os::fd::OwnedFd)>> {
        let mut sockets = match &*self.handover.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(kept) => kept.duplicate()?,
            None => return Err(std::io::Error::other("the edge is draining")),
        };
        let endpoints = self
            .shared
            .tcp_listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (port, fd) in endpoints.iter() {
            sockets.push((format!("{}{port}", sockets::TCP_ENDPOINT), fd.try_clone()?));
        }
        Ok(sockets)
    }

    /// A successor takes over under this node's name (`on`), or failed to (`!on`): this
    /// process stops renewing its registration meanwhile, or resumes.
    pub fn set_handing_over(&self, on: bool) {
        self.shared.membership.set_handing_over(on);
    }

    /// Stops taking new connections and streams, lets the running ones finish until
    /// `deadline`, then closes every agent session.
    pub async fn drain(self, deadline: Duration) {
        self.shared
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // Unless a successor took them, the listening sockets close with their accept loops:
        // a connection must be refused, not queued where nobody will accept it.
        drop(
            self.handover
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        // A draining node leaves DNS at once, its own and the other nodes', so that
        // resolvers move on to the others.
        self.shared.membership.drain().await;
        if let Some(dns) = &self.dns {
            dns.stop();
        }
        self.shared.shutdown.cancel();
        // With the listeners closed, the agents are asked to go elsewhere: Ferry's move to
        // their next server_addr now (where their tunnels' names follow them) while this node
        // finishes their open streams; ngrok's agents that take the restart command get it,
        // as ngrok's own edge sends it; the others reconnect when their session closes at
        // the end of the drain.
        let mut told = tokio::task::JoinSet::new();
        for s in self.shared.sessions_now() {
            let view = self.view();
            told.spawn(async move {
                if s.client.is_ferry() {
                    match ferry_transport::open_typed(&s.open, ferry_proto::StreamType::MOVE, &[])
                        .await
                    {
                        Ok(mut stream) => {
                            let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
                        }
                        Err(error) => {
                            tracing::debug!(session = %s.id, %error, "could not ask an agent to move")
                        }
                    }
                } else if s.restart_unsupported.as_deref() == Some("") {
                    if let Err(error) = view
                        .command_here(s.id.as_str(), AgentCommand::Restart)
                        .await
                    {
                        tracing::debug!(session = %s.id, %error, "could not ask an agent to restart");
                    }
                }
            });
        }
        // The word reaches every agent before a drain with nothing open ends their sessions;
        // an agent that does not answer holds the drain up by no more than this.
        let _ = tokio::time::timeout(HANDOFF_WAIT, async {
            while told.join_next().await.is_some() {}
        })
        .await;
        self.shared.tracker.close();
        let open = self.shared.tracker.len();
        tracing::info!(open, "draining: waiting for open connections");
        if tokio::time::timeout(deadline, self.shared.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.shared.tracker.len(),
                "drain deadline reached; closing the rest"
            );
        }
        for s in self.shared.sessions_now() {
            s.kill.kill();
        }
        self.shared.membership.leave().await;
    }

    /// Endpoints bound now, offline ones not counted.
    pub fn tunnel_count(&self) -> usize {
        self.shared.registry.tunnel_count()
    }

    /// A handle on the live state, for the control plane (through the binary).
    pub fn view(&self) -> EdgeView {
        EdgeView::new(self.shared.clone())
    }
}

fn local(l: &TcpListener, asked: SocketAddr) -> Result<SocketAddr, EdgeError> {
    l.local_addr().map_err(|source| EdgeError::Listen {
        addr: asked,
        source,
    })
}
