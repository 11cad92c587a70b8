//! What the zones are built from: plain data the edge reads from its configuration and the
//! store, so that building and answering need neither.

use std::net::IpAddr;

/// Everything the DNS server answers, as of one moment. Names are as the store and the flags
/// hold them (any case, with or without a final dot); [`crate::ZoneSet::build`] normalises
/// them and reports the ones it cannot serve.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// `--base-domain`: a zone whose apex has SOA and NS, holding every reserved domain's
    /// `cname_target` and `acme_challenge_cname_target`.
    pub base_domain: String,
    /// The base domain's name servers (the control plane's `ns_targets`).
    pub ns_targets: Vec<String>,
    /// One zone per agent ingress domain.
    pub agent_ingresses: Vec<IngressZone>,
    /// Each agent ingress domain answers `tunnel.<region>.<domain>` for each region, with
    /// that region's addresses.
    pub regions: Vec<Region>,
    /// The addresses (A and AAAA) of the CNAME targets, of each agent ingress domain itself
    /// and of the name servers that fall inside a served zone: every live node's
    /// `--public-ip`, as any node serves any tunnel.
    pub public_ips: Vec<IpAddr>,
    /// Reserved domains' `cname_target`s: each answers the public addresses.
    pub cname_targets: Vec<String>,
    /// Reserved domains' `acme_challenge_cname_target`s: each exists (NODATA rather than
    /// NXDOMAIN) and answers TXT with the challenges pending for it.
    pub acme_targets: Vec<String>,
    /// DNS-01 challenges pending now: TXT records at their names, inside any served zone
    /// (an acme target, or `_acme-challenge.<agent ingress domain>`).
    pub challenges: Vec<Challenge>,
    /// The TTL of addresses, NS and SOA records, in seconds (`--dns-ttl`).
    pub ttl: u32,
    /// The SOA minimum, which resolvers cache "no such record" for, and the TTL of challenge
    /// TXT records: both must be short, because a CA validating a challenge asks again soon
    /// after the record appears or changes.
    pub negative_ttl: u32,
    /// The SOA serial. Nothing transfers Ferry's zones, so it only has to change when they
    /// do; the edge uses the time the snapshot was read.
    pub serial: u32,
}

/// A region agents may dial, and the addresses of its serving nodes. A region whose nodes
/// all drain has none: the name exists (NODATA) while they finish.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Region {
    /// The region's name, such as `eu`.
    pub name: String,
    /// The public addresses of its active nodes.
    pub public_ips: Vec<IpAddr>,
}

/// An agent ingress domain and the name servers its NS records name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressZone {
    /// The agent ingress's `domain`, such as `connect.example.com`.
    pub domain: String,
    /// The agent ingress's `ns_targets`.
    pub ns_targets: Vec<String>,
}

/// One pending DNS-01 challenge: a TXT value at a name.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Challenge {
    /// Where the TXT record is answered.
    pub name: String,
    /// The key authorization digest the CA expects to read.
    pub value: String,
}
