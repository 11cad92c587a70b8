//! Ferry's authoritative DNS server. Customers delegate their agent ingress domain to Ferry
//! (NS) and point their own names at Ferry's targets (CNAME), so Ferry answers for:
//!
//! - each agent ingress domain: SOA, NS (its `ns_targets`), and the addresses of
//!   `tunnel.<region>.<domain>` for each region;
//! - the base domain: SOA and NS at the apex, the addresses of every reserved domain's
//!   `cname_target`, the TXT values of the DNS-01 challenges pending at each
//!   `acme_challenge_cname_target` (NODATA, never NXDOMAIN, when none is pending), and the
//!   addresses of the name servers that fall inside it.
//!
//! Everything else is REFUSED. The crate does no storage: the edge reads a [`Snapshot`]
//! from its store and configuration, [`ZoneSet::build`] turns it into zones (pure, in
//! `zones.rs`), [`respond`] answers a decoded request from them (pure, in `respond.rs`), and
//! [`DnsServer`] runs hickory-server's UDP and TCP loops over whatever zones [`Zones`] holds
//! now, so a change is served at once.
#![warn(missing_docs)]

mod respond;
mod server;
mod snapshot;
mod zones;

#[cfg(test)]
mod tests;

pub use hickory_server::proto;
pub use respond::{answer_packet, respond, Reply, MAX_UDP_PAYLOAD};
pub use server::{DnsError, DnsServer, Zones};
pub use snapshot::{Challenge, IngressZone, Region, Snapshot};
pub use zones::{Answer, Skipped, ZoneSet};
