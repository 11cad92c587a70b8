//! The agent's families (`ferry_agent_...`).

use std::sync::LazyLock;

use prometheus::core::Collector;
use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge};

use crate::family::{both_ways, counter, counter_vec, each, gauge, histogram, LATENCY};
use crate::STATUS_CLASSES;

/// The agent's counters and gauges.
pub struct Agent {
    /// `ferry_agent_session_up`: 1 while the session with the edge is up, else 0.
    pub session_up: IntGauge,
    /// `ferry_agent_reconnects_total`: sessions started again after one was lost.
    pub reconnects: IntCounter,
    /// `ferry_agent_heartbeat_latency_seconds`: round trips of heartbeats to the edge.
    pub heartbeat: Histogram,
    /// `ferry_agent_streams_open`: proxy streams from the edge being served now.
    pub streams_open: IntGauge,
    /// `ferry_agent_streams_total{proto}`: proxy streams served, by the tunnel's protocol.
    pub streams: IntCounterVec,
    /// `ferry_agent_bytes_total{proto, direction}`: bytes towards the upstream (`in`) and
    /// back (`out`).
    pub bytes: IntCounterVec,
    /// `ferry_agent_upstream_dial_failures_total{proto}`: upstreams that could not be
    /// reached.
    pub dial_failures: IntCounterVec,
    /// `ferry_agent_http_requests_total{class}`: HTTP requests answered, by status class.
    pub http_requests: IntCounterVec,
}

static AGENT: LazyLock<Agent> = LazyLock::new(|| {
    // The agent's kinds of tunnel: an HTTP tunnel's streams are `http` whether its public
    // side is HTTP or HTTPS.
    const PROTOS: [&str; 3] = ["http", "tcp", "tls"];
    let protos = each(&PROTOS);
    Agent {
        session_up: gauge(
            "ferry_agent_session_up",
            "1 while the agent's session with the edge is up, else 0.",
        ),
        reconnects: counter(
            "ferry_agent_reconnects_total",
            "Sessions with the edge started again after one was lost.",
        ),
        heartbeat: histogram(
            "ferry_agent_heartbeat_latency_seconds",
            "Round trips of the agent's heartbeats to the edge.",
            LATENCY,
        ),
        streams_open: gauge(
            "ferry_agent_streams_open",
            "Proxy streams from the edge being served now.",
        ),
        streams: counter_vec(
            "ferry_agent_streams_total",
            "Proxy streams from the edge, by the tunnel's protocol.",
            &["proto"],
            &protos,
        ),
        bytes: counter_vec(
            "ferry_agent_bytes_total",
            "Bytes towards the upstream (in) and back (out), by the tunnel's protocol.",
            &["proto", "direction"],
            &both_ways(&PROTOS),
        ),
        dial_failures: counter_vec(
            "ferry_agent_upstream_dial_failures_total",
            "Connections to the upstream that failed, by the tunnel's protocol.",
            &["proto"],
            &protos,
        ),
        http_requests: counter_vec(
            "ferry_agent_http_requests_total",
            "HTTP requests the upstream (or the agent for it) answered, by status class.",
            &["class"],
            &each(&STATUS_CLASSES),
        ),
    }
});

/// The agent's families.
pub fn agent() -> &'static Agent {
    &AGENT
}

pub(crate) fn families() -> Vec<Box<dyn Collector>> {
    let a = agent();
    vec![
        Box::new(a.session_up.clone()),
        Box::new(a.reconnects.clone()),
        Box::new(a.heartbeat.clone()),
        Box::new(a.streams_open.clone()),
        Box::new(a.streams.clone()),
        Box::new(a.bytes.clone()),
        Box::new(a.dial_failures.clone()),
        Box::new(a.http_requests.clone()),
    ]
}
