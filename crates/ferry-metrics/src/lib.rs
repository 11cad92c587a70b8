//! Ferry's Prometheus metrics: every family is defined here, once, in the module of the part
//! that updates it ([`edge`], [`agent`], [`dns`], [`acme`], [`store`]), and written in
//! Prometheus' text format by [`edge_text`] or [`agent_text`].
//!
//! The families are process-wide statics, as Prometheus' own clients keep a default registry:
//! a counter is bumped where the event happens (a bind refused deep in the edge, a query in
//! the store) without a handle threaded through every constructor, and the crates that count
//! depend on this one only, never on each other. A process runs one edge or one agent, so one
//! set of families per process is exact; what is cheaper to compute when scraped than to keep
//! up to date (sessions, certificates, the lease) is passed to [`edge_text`] as
//! [`edge::Snapshot`] by the edge itself.
//!
//! Label sets are bounded: a protocol, a status class, an error code, a DNS response code;
//! never a client address or a request path.
#![warn(missing_docs)]

pub mod acme;
pub mod agent;
mod counted;
pub mod dns;
pub mod edge;
mod family;
pub mod store;

use prometheus::{Encoder, Registry, TextEncoder};

pub use counted::Counted;
pub use prometheus::{Histogram, IntCounter, IntGauge};

/// The `Content-Type` of [`edge_text`] and [`agent_text`]: Prometheus' text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The status class label of an HTTP status: `2xx` for 204, `other` outside 100-599.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// The `direction` of bytes towards the far end: from the public client towards the agent
/// at the edge, from the edge towards the upstream at the agent.
pub const IN: &str = "in";
/// The `direction` of bytes coming back: towards the public client, towards the edge.
pub const OUT: &str = "out";

/// The status classes counted from the start, so that a dashboard's query finds each at 0
/// before the first request.
pub(crate) const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// An edge's scrape: the families of the edge, its DNS server, its ACME jobs and its store,
/// with what the edge computed for this scrape.
pub fn edge_text(snapshot: &edge::Snapshot) -> String {
    let mut collectors = edge::families();
    collectors.extend(dns::families());
    collectors.extend(acme::families());
    collectors.extend(store::families());
    collectors.extend(snapshot.families());
    encode("edge", collectors)
}

/// An agent's scrape.
pub fn agent_text() -> String {
    encode("agent", agent::families())
}

/// The families in text format, sorted by name. A family the registry refuses (a name used
/// twice: a mistake in this crate, which its tests catch) is left out with a comment line
/// saying why, so a scrape still carries the rest.
fn encode(role: &str, mut collectors: Vec<Box<dyn prometheus::core::Collector>>) -> String {
    let registry = Registry::new();
    let mut out = Vec::new();
    collectors.push(family::build_info(role));
    for c in collectors {
        if let Err(e) = registry.register(c) {
            out.extend(format!("# ferry: a family was left out: {e}\n").into_bytes());
        }
    }
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut out) {
        out.extend(format!("# ferry: the metrics could not be written: {e}\n").into_bytes());
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
