use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ferry_types::Hostname;

/// Everything an edge node needs to start. Defaults suit `ferry edge --dev` on loopback.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    /// Dev mode: any name may bind without a reservation, and the agent ingress also accepts
    /// agents that send no SNI or `localhost`.
    pub dev: bool,
    /// The public TLS port: HTTPS and TLS endpoints, and the agent ingress unless
    /// `agent_listen` names its own.
    pub https_listen: SocketAddr,
    /// The plain-HTTP port for `http://` endpoints.
    pub http_listen: SocketAddr,
    /// A separate agent ingress port, if wanted.
    pub agent_listen: Option<SocketAddr>,
    /// The address TCP endpoints' listeners bind to.
    pub tcp_ip: IpAddr,
    /// A name whose connections on the public TLS port are the REST API's
    /// (`--api-domain`), once the control plane has been attached
    /// ([`crate::EdgeView::serve_api`]).
    pub api_domain: Option<Hostname>,
    /// The first and last port (both included) TCP endpoints may take; each is bound only
    /// while an endpoint holds it, and reserved addresses are drawn from the same range.
    pub tcp_ports: (u16, u16),
    /// The host TCP endpoints advertise in `tcp://host:port`.
    pub tcp_public_host: String,
    /// Names that belong to the agent ingress: `connect.example.com` owns itself and every
    /// name below it (`tunnel.us.connect.example.com`).
    pub ingress_domains: Vec<Hostname>,
    /// The base under which agents that ask for no name get a random one; a DNS zone of
    /// its own when DNS is served (reserved domains' CNAME and ACME challenge targets).
    pub base_domain: Hostname,
    /// Where the authoritative DNS server listens, UDP and TCP on one port (port 0: one the
    /// system picks); `None` serves no DNS.
    pub dns_listen: Option<SocketAddr>,
    /// Where Prometheus scrapes `/metrics` without authentication (port 0: one the system
    /// picks); `None`: only the API's `/metrics`, behind an API key.
    pub metrics_listen: Option<SocketAddr>,
    /// The TTL of the DNS answers, in seconds (negative answers and challenge records get
    /// at most 5 s).
    pub dns_ttl: u32,
    /// This node's public addresses: what DNS answers for `tunnel.<region>.<domain>`, the
    /// CNAME targets and the name servers inside Ferry's zones.
    pub public_ips: Vec<IpAddr>,
    /// The regions agents may dial (`tunnel.<region>.<domain>`); the first is this node's,
    /// which it reports to agents.
    pub regions: Vec<String>,
    /// This node's name among the nodes sharing the database (`--node-name`), unique there.
    pub node_name: String,
    /// Where other nodes reach this one (`--cluster-addr`); `None` binds nothing.
    pub cluster_listen: Option<SocketAddr>,
    /// The name servers of Ferry's zones (an agent ingress's `ns_targets`).
    pub ns_targets: Vec<String>,
    /// How long a public client may take to send its ClientHello or request head.
    pub handshake_timeout: Duration,
    /// How long the edge waits for an upstream's response head before a 504.
    pub upstream_timeout: Duration,
    /// How long a public connection may sit idle before the edge closes it.
    pub idle_timeout: Duration,
    /// Edge-side heartbeat towards agents: the pause after an echo before the next beat. A
    /// dead agent is noticed within `heartbeat_interval + heartbeat_tolerance`.
    pub heartbeat_interval: Duration,
    /// How long one beat's echo may take before the edge closes the session, its tunnels
    /// going offline.
    pub heartbeat_tolerance: Duration,
    /// Proxy streams per agent session. ngrok's SDKs kill the whole session beyond 512
    /// concurrent streams, heartbeat and RPC streams included. The edge frees a slot when it
    /// drops its end of a stream, normally once the SDK's FIN has arrived, but the SDK
    /// forgets the stream only once the task serving it has run again and dropped it; under
    /// load a whole cap's worth of streams can be finished on the wire and still counted
    /// there. Twice this cap, plus a few RPC streams, stays under 512. It is a margin, not
    /// an exact count: a stream the edge gives up on early (an error, the idle timeout) stays
    /// counted at the SDK until the SDK's upstream ends it too, since muxado has no reset for
    /// the edge to send.
    pub max_streams_per_session: usize,
    /// The same bound for Ferry's own agent, which has no such limit of its own.
    pub max_streams_per_ferry_session: usize,
    /// How long a public connection waits for a free stream slot before it is refused.
    pub stream_wait: Duration,
    /// Tunnels one agent session may hold: one more bind is refused (`ERR_FERRY_308`), while
    /// re-binding a tunnel the session already holds is not.
    pub max_tunnels_per_session: usize,
    /// The largest request head (request line and headers) a public client may send, per
    /// request on HTTP/1.1 (which buffers at least 8 KiB anyway) and per header list on
    /// HTTP/2; a bigger one is refused before it reaches an agent.
    pub max_header_bytes: usize,
    /// Delay between a bind reply and the first proxy stream for agents known to drop
    /// streams that arrive before they have registered the tunnel (ngrok's SDKs).
    pub sdk_bind_settle: Duration,
    /// How long an offline endpoint keeps its name and port for the agent to come back.
    pub offline_grace: Duration,
    /// Failed authentications per source address per minute before the edge slows that
    /// address's lookups down (it never refuses a token that verifies).
    pub auth_failures_per_minute: u32,
    /// How long a new agent connection has to authenticate.
    pub auth_deadline: Duration,
    /// Agent connections that have not authenticated yet, per source address (IPv6: per
    /// /64); more are closed at once, before their TLS handshake.
    pub max_unauthenticated_per_source: usize,
    /// The same bound over all sources, so that many addresses together cannot hold more.
    pub max_unauthenticated: usize,
    /// This process takes over from another under the same node name (an upgrade in
    /// place): for this long, a request for a name that process served waits for its
    /// agent to bind here instead of meeting a 404. Set before the first connection is
    /// accepted, so none meets the gap.
    pub predecessor_window: Option<Duration>,
}

impl EdgeConfig {
    /// This node's region: the first configured, `local` when none is.
    pub fn region(&self) -> &str {
        self.regions.first().map_or("local", String::as_str)
    }

    /// Loopback on ports picked at run time, dev mode on.
    #[allow(clippy::expect_used, reason = "the base domain is a valid literal")]
    pub fn dev_defaults() -> Self {
        let lo: IpAddr = IpAddr::from([127, 0, 0, 1]);
        Self {
            dev: true,
            https_listen: SocketAddr::new(lo, 0),
            http_listen: SocketAddr::new(lo, 0),
            agent_listen: None,
            tcp_ip: lo,
            api_domain: None,
            tcp_ports: (20000, 29999),
            tcp_public_host: lo.to_string(),
            ingress_domains: Vec::new(),
            base_domain: Hostname::parse("ferry.localhost").expect("valid literal"),
            dns_listen: None,
            metrics_listen: None,
            predecessor_window: None,
            dns_ttl: 60,
            public_ips: vec![lo],
            regions: vec!["local".into()],
            node_name: "local".into(),
            cluster_listen: None,
            ns_targets: vec!["ns1.ferry.localhost".into(), "ns2.ferry.localhost".into()],
            handshake_timeout: Duration::from_secs(10),
            upstream_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_tolerance: Duration::from_secs(10),
            max_streams_per_session: 240,
            max_streams_per_ferry_session: 4000,
            stream_wait: Duration::from_secs(10),
            max_tunnels_per_session: 256,
            max_header_bytes: 64 * 1024,
            sdk_bind_settle: Duration::from_millis(250),
            offline_grace: Duration::from_secs(600),
            auth_failures_per_minute: 20,
            auth_deadline: Duration::from_secs(10),
            max_unauthenticated_per_source: 64,
            max_unauthenticated: 2048,
        }
    }
}
