//! The zones Ferry is authoritative for, built once from a [`Snapshot`] and then only read:
//! an answer is a lookup in maps, with no I/O and no locks, and a change is a new
//! [`ZoneSet`] swapped in whole ([`crate::Zones`]).
//!
//! Every record is explicit. Nothing is a wildcard (hickory's wildcard handling has open
//! bugs, and Ferry has no name that needs one), and the names between a record and its
//! zone's apex (`us.connect.example.com` above `tunnel.us.connect.example.com`) exist
//! without records, so they answer NODATA rather than NXDOMAIN (RFC 8020).

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::rdata::{A, AAAA, NS, SOA, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};

use crate::snapshot::Snapshot;

/// How often a secondary would refresh the zone, retry, and give up; nothing transfers
/// Ferry's zones, but the SOA carries them and resolvers show them.
const SOA_REFRESH: i32 = 3600;
const SOA_RETRY: i32 = 600;
const SOA_EXPIRE: i32 = 7 * 24 * 3600;

/// The longest string a TXT record carries in one piece; longer values are split.
const TXT_CHUNK: usize = 255;

/// The zones and their records, immutable once built.
#[derive(Debug, Default)]
pub struct ZoneSet {
    /// By apex: lower-case, fully qualified.
    zones: HashMap<Name, Zone>,
}

#[derive(Debug)]
struct Zone {
    /// The SOA record answered in the authority section of a negative answer.
    soa: Record,
    /// Every name that exists in the zone, the apex included, with its records (none for
    /// an acme target without a pending challenge, or a name between a record and the apex).
    nodes: HashMap<Name, Vec<Rr>>,
}

/// One record's data, its owner being the node that holds it.
#[derive(Clone, Debug, PartialEq)]
struct Rr {
    ttl: u32,
    data: RData,
}

/// A name in the snapshot that the zone set leaves out. The rest is still served, so the
/// edge logs these and goes on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    /// The name does not parse as a DNS name (a label over 63 bytes, a name over 255, an
    /// empty one).
    #[error("{what} {name:?} is not a DNS name: {why}")]
    BadName {
        /// What the name is, such as `cname target`.
        what: &'static str,
        /// The name as the snapshot had it.
        name: String,
        /// Why it does not parse.
        why: String,
    },
    /// The name is under none of the zones, so answering it would claim authority over a
    /// name Ferry was never delegated; it happens when `--base-domain` changed after a
    /// reserved domain got its targets.
    #[error("{what} {name:?} is outside every zone this server answers for")]
    OutsideZones {
        /// What the name is, such as `cname target`.
        what: &'static str,
        /// The name as the snapshot had it.
        name: String,
    },
}

/// What the zones say to one question: the parts of a response that depend on the data.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// `NoError` (with records, or NODATA without), `NXDomain` for a name that does not
    /// exist in a zone, `Refused` for a name outside every zone (and for the questions
    /// [`crate::respond`] does not take).
    pub code: ResponseCode,
    /// The AA flag: set when the name is inside one of the zones.
    pub authoritative: bool,
    /// The records of the asked type at the asked name, owned by the name as asked.
    pub answers: Vec<Record>,
    /// The zone's SOA on a negative answer (NXDOMAIN or NODATA), for negative caching.
    pub authority: Vec<Record>,
    /// The addresses of name servers named in the answer, where Ferry serves them.
    pub additional: Vec<Record>,
}

impl Answer {
    /// An answer with no records and without the AA flag: a refusal or an error code.
    pub fn empty(code: ResponseCode) -> Self {
        Self {
            code,
            authoritative: false,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }
}

impl ZoneSet {
    /// Builds the zones of `snapshot`, and says which of its names were left out and why.
    pub fn build(snapshot: &Snapshot) -> (Self, Vec<Skipped>) {
        let mut b = Builder {
            set: ZoneSet::default(),
            skipped: Vec::new(),
            s: snapshot,
        };
        // Every zone first, so that each name then goes to the most specific one (an agent
        // ingress domain under the base domain is a zone of its own).
        let base = b.parse("base domain", &snapshot.base_domain);
        if let Some(apex) = &base {
            let ns = b.parse_all("name server", &snapshot.ns_targets);
            b.zone(apex, &ns);
        }
        let mut ingresses = Vec::new();
        for ingress in &snapshot.agent_ingresses {
            if let Some(apex) = b.parse("agent ingress domain", &ingress.domain) {
                let ns = b.parse_all("name server", &ingress.ns_targets);
                b.zone(&apex, &ns);
                ingresses.push(apex);
            }
        }

        let addresses = b.addresses(&snapshot.public_ips);
        for apex in &ingresses {
            // The domain itself answers every live node: an agent given only the domain
            // reaches the installation wherever a node lives (region names stay pinned).
            let name = apex.to_string();
            b.add("agent ingress domain", &name, apex, addresses.clone());
            for region in &snapshot.regions {
                let name = format!("tunnel.{}.{apex}", region.name);
                if let Some(n) = b.parse("tunnel name", &name) {
                    let addresses = b.addresses(&region.public_ips);
                    b.add("tunnel name", &name, &n, addresses);
                }
            }
        }
        for target in &snapshot.cname_targets {
            if let Some(n) = b.parse("cname target", target) {
                b.add("cname target", target, &n, addresses.clone());
            }
        }
        for target in &snapshot.acme_targets {
            if let Some(n) = b.parse("acme challenge target", target) {
                b.add("acme challenge target", target, &n, Vec::new());
            }
        }
        for c in &snapshot.challenges {
            if let Some(n) = b.parse("challenge name", &c.name) {
                let txt = Rr {
                    ttl: snapshot.negative_ttl,
                    data: RData::TXT(TXT::new(chunks(&c.value))),
                };
                b.add("challenge name", &c.name, &n, vec![txt]);
            }
        }
        // Glue: the addresses of the name servers that are names in Ferry's own zones (the
        // default ns1 and ns2 under the base domain).
        let mut servers: Vec<Name> = Vec::new();
        for zone in b.set.zones.values() {
            for rr in zone.nodes.values().flatten() {
                if let RData::NS(NS(target)) = &rr.data {
                    if !servers.contains(target) {
                        servers.push(target.clone());
                    }
                }
            }
        }
        for server in servers {
            if b.set.zone_of(&server).is_some() {
                b.add(
                    "name server",
                    &server.to_ascii(),
                    &server,
                    addresses.clone(),
                );
            }
        }
        b.set.add_empty_non_terminals();
        (b.set, b.skipped)
    }

    /// Answers a question of class IN: `name` in any case, as it came off the wire.
    pub fn answer(&self, name: &Name, rtype: RecordType) -> Answer {
        let key = canonical(name);
        let Some(zone) = self.zone_of(&key) else {
            return Answer::empty(ResponseCode::Refused);
        };
        let negative = |code| Answer {
            code,
            authoritative: true,
            answers: Vec::new(),
            authority: vec![zone.soa.clone()],
            additional: Vec::new(),
        };
        let Some(rrs) = zone.nodes.get(&key) else {
            return negative(ResponseCode::NXDomain);
        };
        let answers: Vec<Record> = rrs
            .iter()
            .filter(|rr| rtype == RecordType::ANY || rr.data.record_type() == rtype)
            .map(|rr| Record::from_rdata(name.clone(), rr.ttl, rr.data.clone()))
            .collect();
        if answers.is_empty() {
            return negative(ResponseCode::NoError);
        }
        let additional = answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(NS(target)) => Some(self.addresses_of(target)),
                _ => None,
            })
            .flatten()
            .collect();
        Answer {
            code: ResponseCode::NoError,
            authoritative: true,
            answers,
            authority: Vec::new(),
            additional,
        }
    }

    /// The apexes of the zones, lower-case and fully qualified, in no particular order.
    pub fn apexes(&self) -> impl Iterator<Item = &Name> {
        self.zones.keys()
    }

    /// The most specific zone `name` (canonical) is at or under.
    fn zone_of(&self, name: &Name) -> Option<&Zone> {
        (0..=usize::from(name.num_labels()))
            .rev()
            .find_map(|labels| self.zones.get(&name.trim_to(labels)))
    }

    /// The A and AAAA records at `name`, for the additional section.
    fn addresses_of(&self, name: &Name) -> Vec<Record> {
        let key = canonical(name);
        let Some(rrs) = self.zone_of(&key).and_then(|z| z.nodes.get(&key)) else {
            return Vec::new();
        };
        rrs.iter()
            .filter(|rr| matches!(rr.data, RData::A(_) | RData::AAAA(_)))
            .map(|rr| Record::from_rdata(key.clone(), rr.ttl, rr.data.clone()))
            .collect()
    }

    /// Makes every name between a node and its zone's apex exist, without records.
    fn add_empty_non_terminals(&mut self) {
        for (apex, zone) in &mut self.zones {
            let top = usize::from(apex.num_labels());
            let names: Vec<Name> = zone.nodes.keys().cloned().collect();
            for name in names {
                for labels in (top + 1)..usize::from(name.num_labels()) {
                    zone.nodes.entry(name.trim_to(labels)).or_default();
                }
            }
        }
    }
}

struct Builder<'s> {
    set: ZoneSet,
    skipped: Vec<Skipped>,
    s: &'s Snapshot,
}

impl Builder<'_> {
    /// `raw` as a canonical name, or `None` (and a note) when it is not one.
    fn parse(&mut self, what: &'static str, raw: &str) -> Option<Name> {
        let trimmed = raw.trim().trim_end_matches('.');
        if trimmed.is_empty() {
            self.skipped.push(Skipped::BadName {
                what,
                name: raw.to_string(),
                why: "it is empty".into(),
            });
            return None;
        }
        match Name::from_ascii(trimmed) {
            Ok(n) => Some(canonical(&n)),
            Err(e) => {
                self.skipped.push(Skipped::BadName {
                    what,
                    name: raw.to_string(),
                    why: e.to_string(),
                });
                None
            }
        }
    }

    fn parse_all(&mut self, what: &'static str, raw: &[String]) -> Vec<Name> {
        raw.iter().filter_map(|r| self.parse(what, r)).collect()
    }

    /// Creates the zone at `apex` with its SOA and NS records, or adds the NS records to the
    /// zone already there (an agent ingress domain that is the base domain itself).
    fn zone(&mut self, apex: &Name, ns: &[Name]) {
        let ttl = self.s.ttl;
        let zone = self.set.zones.entry(apex.clone()).or_insert_with(|| {
            let mname = ns.first().cloned().unwrap_or_else(|| apex.clone());
            let rname = apex
                .prepend_label("hostmaster")
                .unwrap_or_else(|_| apex.clone());
            let soa = SOA::new(
                mname,
                rname,
                self.s.serial,
                SOA_REFRESH,
                SOA_RETRY,
                SOA_EXPIRE,
                self.s.negative_ttl,
            );
            let record = Record::from_rdata(apex.clone(), ttl, RData::SOA(soa.clone()));
            let mut nodes = HashMap::new();
            nodes.insert(
                apex.clone(),
                vec![Rr {
                    ttl,
                    data: RData::SOA(soa),
                }],
            );
            Zone { soa: record, nodes }
        });
        let apex_rrs = zone.nodes.entry(apex.clone()).or_default();
        for n in ns {
            push_new(
                apex_rrs,
                Rr {
                    ttl,
                    data: RData::NS(NS(n.clone())),
                },
            );
        }
    }

    /// Addresses as A and AAAA data.
    fn addresses(&self, ips: &[IpAddr]) -> Vec<Rr> {
        ips.iter()
            .map(|ip| Rr {
                ttl: self.s.ttl,
                data: match ip {
                    IpAddr::V4(v4) => RData::A(A(*v4)),
                    IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
                },
            })
            .collect()
    }

    /// Makes `name` exist with `rrs` (added to what it has), in the most specific zone it is
    /// under; a name under none is noted and left out.
    fn add(&mut self, what: &'static str, raw: &str, name: &Name, rrs: Vec<Rr>) {
        let apex = (0..=usize::from(name.num_labels()))
            .rev()
            .map(|labels| name.trim_to(labels))
            .find(|cut| self.set.zones.contains_key(cut));
        let Some(zone) = apex.and_then(|a| self.set.zones.get_mut(&a)) else {
            self.skipped.push(Skipped::OutsideZones {
                what,
                name: raw.to_string(),
            });
            return;
        };
        let node = zone.nodes.entry(name.clone()).or_default();
        for rr in rrs {
            push_new(node, rr);
        }
    }
}

fn push_new(rrs: &mut Vec<Rr>, rr: Rr) {
    if !rrs.contains(&rr) {
        rrs.push(rr);
    }
}

/// The form names are kept in: lower-case and fully qualified.
fn canonical(name: &Name) -> Name {
    let mut n = name.to_lowercase();
    n.set_fqdn(true);
    n
}

/// `value` in pieces a TXT string can carry, split on character boundaries.
fn chunks(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut piece = String::new();
    for c in value.chars() {
        if piece.len() + c.len_utf8() > TXT_CHUNK {
            out.push(std::mem::take(&mut piece));
        }
        piece.push(c);
    }
    if !piece.is_empty() || out.is_empty() {
        out.push(piece);
    }
    out
}
