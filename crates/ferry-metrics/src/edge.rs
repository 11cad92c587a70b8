//! The edge's families (`ferry_edge_...`), and [`Snapshot`], what the edge computes when
//! scraped.

use std::sync::LazyLock;

use prometheus::core::Collector;
use prometheus::{Histogram, IntCounterVec, IntGauge};

use crate::family::{both_ways, counter_vec, each, gauge, gauges, histogram, LATENCY};
use crate::{IN, OUT, STATUS_CLASSES};

/// The bind protocols, each counted from the start.
const PROTOS: [&str; 4] = ["http", "https", "tcp", "tls"];

/// The edge's counters and gauges, updated where the events happen.
pub struct Edge {
    /// `ferry_edge_binds_total{proto}`: tunnels bound (binds and re-binds).
    pub binds: IntCounterVec,
    /// `ferry_edge_bind_refusals_total{code}`: binds refused, by Ferry error code.
    pub bind_refusals: IntCounterVec,
    /// `ferry_edge_auth_failures_total{code}`: agent authentications refused, by code.
    pub auth_failures: IntCounterVec,
    /// `ferry_edge_proxy_streams_open`: proxy streams to agents open now.
    pub proxy_streams_open: IntGauge,
    /// `ferry_edge_proxy_streams_opened_total{proto}`: proxy streams opened to agents.
    pub proxy_streams_opened: IntCounterVec,
    /// `ferry_edge_data_streams_total{proto}`: of those, the ones carried on a data connection
    /// of their own rather than on the session.
    pub data_streams: IntCounterVec,
    /// `ferry_edge_data_connections_idle`: data connections agents have left idle here now.
    pub data_connections_idle: IntGauge,
    /// `ferry_edge_bytes_total{proto, direction}`: bytes of public connections carried to
    /// (`in`) and from (`out`) agents, by the tunnel's protocol.
    pub bytes: IntCounterVec,
    /// `ferry_edge_http_requests_total{class}`: HTTP requests answered, by status class.
    pub http_requests: IntCounterVec,
    /// `ferry_edge_http_request_duration_seconds`: from a request's head to its response's.
    pub http_duration: Histogram,
    /// `ferry_edge_tls_handshakes_total{listener}`: TLS handshakes completed, on the public
    /// port (`public`), by agents (`agent`) and by other nodes (`node`).
    pub tls_handshakes: IntCounterVec,
    /// `ferry_edge_tls_handshake_failures_total{listener}`: TLS handshakes that failed.
    pub tls_handshake_failures: IntCounterVec,
    /// `ferry_edge_carried_streams_total{direction}`: public connections carried to the
    /// node holding their tunnel (`out`) or received from another node (`in`).
    pub carried_streams: IntCounterVec,
}

/// The listeners of [`Edge::tls_handshakes`].
pub const LISTENERS: [&str; 3] = ["public", "agent", "node"];

static EDGE: LazyLock<Edge> = LazyLock::new(|| {
    let protos = each(&PROTOS);
    let listeners = each(&LISTENERS);
    Edge {
        binds: counter_vec(
            "ferry_edge_binds_total",
            "Tunnels bound, binds and re-binds, by protocol.",
            &["proto"],
            &protos,
        ),
        bind_refusals: counter_vec(
            "ferry_edge_bind_refusals_total",
            "Binds refused, by Ferry error code (docs/ERRORS.md).",
            &["code"],
            &[],
        ),
        auth_failures: counter_vec(
            "ferry_edge_auth_failures_total",
            "Agent authentications refused, by Ferry error code.",
            &["code"],
            &[],
        ),
        proxy_streams_open: gauge(
            "ferry_edge_proxy_streams_open",
            "Proxy streams to agents open now.",
        ),
        proxy_streams_opened: counter_vec(
            "ferry_edge_proxy_streams_opened_total",
            "Proxy streams opened to agents, by the tunnel's protocol.",
            &["proto"],
            &protos,
        ),
        data_streams: counter_vec(
            "ferry_edge_data_streams_total",
            "Proxy streams carried on a data connection of their own, by the tunnel's protocol.",
            &["proto"],
            &protos,
        ),
        data_connections_idle: gauge(
            "ferry_edge_data_connections_idle",
            "Data connections Ferry agents have left idle at this edge now.",
        ),
        bytes: counter_vec(
            "ferry_edge_bytes_total",
            "Bytes of public connections towards agents (in) and back (out), by protocol.",
            &["proto", "direction"],
            &both_ways(&PROTOS),
        ),
        http_requests: counter_vec(
            "ferry_edge_http_requests_total",
            "HTTP requests answered on the public ports, by status class.",
            &["class"],
            &each(&STATUS_CLASSES),
        ),
        http_duration: histogram(
            "ferry_edge_http_request_duration_seconds",
            "Time from an HTTP request's head to its response's head.",
            LATENCY,
        ),
        tls_handshakes: counter_vec(
            "ferry_edge_tls_handshakes_total",
            "TLS handshakes completed, by listener (public, agent, node).",
            &["listener"],
            &listeners,
        ),
        tls_handshake_failures: counter_vec(
            "ferry_edge_tls_handshake_failures_total",
            "TLS handshakes that failed, by listener (public, agent, node).",
            &["listener"],
            &listeners,
        ),
        carried_streams: counter_vec(
            "ferry_edge_carried_streams_total",
            "Public connections carried to the node holding their tunnel (out) or from one (in).",
            &["direction"],
            &each(&[IN, OUT]),
        ),
    }
});

/// The edge's families.
pub fn edge() -> &'static Edge {
    &EDGE
}

pub(crate) fn families() -> Vec<Box<dyn Collector>> {
    let e = edge();
    vec![
        Box::new(e.binds.clone()),
        Box::new(e.bind_refusals.clone()),
        Box::new(e.auth_failures.clone()),
        Box::new(e.proxy_streams_open.clone()),
        Box::new(e.proxy_streams_opened.clone()),
        Box::new(e.data_streams.clone()),
        Box::new(e.data_connections_idle.clone()),
        Box::new(e.bytes.clone()),
        Box::new(e.http_requests.clone()),
        Box::new(e.http_duration.clone()),
        Box::new(e.tls_handshakes.clone()),
        Box::new(e.tls_handshake_failures.clone()),
        Box::new(e.carried_streams.clone()),
    ]
}

/// What the edge reads from its live state and its store when scraped, rather than keeping
/// up to date on every change.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// This node's region, the `region` label of sessions and tunnels.
    pub region: String,
    /// Authenticated agent sessions, by the kind of client (`ferry`, `ngrok-go`...).
    pub sessions: Vec<(String, u64)>,
    /// Bound tunnels, by protocol.
    pub tunnels: Vec<(String, u64)>,
    /// Certificates by state: managed ones `issued`, `pending` or `failing` (pending with an
    /// error code), uploaded ones `uploaded`.
    pub certificates: Vec<(String, u64)>,
    /// Each served certificate: its ID, its first name and the seconds until it expires
    /// (negative once it has).
    pub expiry: Vec<CertificateExpiry>,
    /// Seconds since this node last renewed its lease.
    pub lease_age_seconds: f64,
    /// Nodes live on the database at the last renewal, this one included.
    pub live_nodes: u64,
}

/// One row of [`Snapshot::expiry`].
#[derive(Debug)]
pub struct CertificateExpiry {
    /// The certificate's ID (`cert_...`).
    pub id: String,
    /// The first name it covers.
    pub name: String,
    /// Seconds until its `not_after`.
    pub seconds: f64,
}

impl Snapshot {
    pub(crate) fn families(&self) -> Vec<Box<dyn Collector>> {
        let region = &self.region;
        let count = |rows: &[(String, u64)]| -> Vec<(Vec<String>, f64)> {
            rows.iter()
                .map(|(k, n)| (vec![k.clone(), region.clone()], *n as f64))
                .collect()
        };
        vec![
            gauges(
                "ferry_edge_sessions",
                "Authenticated agent sessions now, by client and this node's region.",
                &["client", "region"],
                count(&self.sessions),
            ),
            gauges(
                "ferry_edge_tunnels",
                "Tunnels bound now, by protocol and this node's region.",
                &["proto", "region"],
                count(&self.tunnels),
            ),
            gauges(
                "ferry_edge_certificates",
                "Certificates by state: managed ones issued, pending or failing; uploaded.",
                &["state"],
                self.certificates
                    .iter()
                    .map(|(s, n)| (vec![s.clone()], *n as f64)),
            ),
            gauges(
                "ferry_edge_certificate_expiry_seconds",
                "Seconds until each certificate in the store expires (negative once it has).",
                &["id", "name"],
                self.expiry
                    .iter()
                    .map(|c| (vec![c.id.clone(), c.name.clone()], c.seconds)),
            ),
            gauges(
                "ferry_edge_lease_age_seconds",
                "Seconds since this node last renewed its lease on the database (5 s lease).",
                &[],
                [(vec![], self.lease_age_seconds)],
            ),
            gauges(
                "ferry_edge_nodes_live",
                "Nodes live on the database at the last renewal, this one included.",
                &[],
                [(vec![], self.live_nodes as f64)],
            ),
        ]
    }
}
