//! The feed of the DNS server: zones rebuilt from the store and the edge's configuration,
//! at start, whenever someone says the data changed ([`crate::EdgeView::refresh_dns`]: the
//! control plane after a write, the ACME job after publishing a challenge), and every few
//! seconds as a safety net for a change made elsewhere (another node on the same database, a
//! missed call). Each rebuild reads everything and swaps the new zones in whole; the zones
//! are small, and a whole read cannot be half-applied.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use ferry_dns::{Challenge, IngressZone, Region, Skipped, Snapshot, ZoneSet, Zones};
use ferry_store::{Node, NodeState};
use ferry_store::{Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::EdgeConfig;

/// How often the zones are rebuilt without being told to.
pub(crate) const SAFETY_NET: Duration = Duration::from_secs(10);

/// The SOA minimum and the TTL of challenge TXT records (at most the configured TTL): short,
/// because a CA asks again soon after a challenge record appears or changes.
const NEGATIVE_TTL: u32 = 5;

pub(crate) struct DnsFeed {
    store: Store,
    zones: Zones,
    base_domain: String,
    ns_targets: Vec<String>,
    regions: Vec<String>,
    public_ips: Vec<IpAddr>,
    ttl: u32,
    /// One rebuild at a time, so that the zones of an older read never replace those of a
    /// newer one.
    rebuild: tokio::sync::Mutex<()>,
    /// What the last rebuild left out, so that the log says it once, not every 10 s.
    skipped: Mutex<Vec<Skipped>>,
    /// The live nodes the zones in service were built from, which
    /// [`DnsFeed::nodes_seen`] compares with each lease renewal's list.
    nodes: Mutex<Vec<Node>>,
}

impl DnsFeed {
    pub(crate) fn new(config: &EdgeConfig, store: Store) -> Self {
        Self {
            store,
            zones: Zones::default(),
            base_domain: config.base_domain.to_string(),
            ns_targets: config.ns_targets.clone(),
            regions: config.regions.clone(),
            public_ips: config.public_ips.clone(),
            ttl: config.dns_ttl,
            rebuild: tokio::sync::Mutex::new(()),
            skipped: Mutex::new(Vec::new()),
            nodes: Mutex::new(Vec::new()),
        }
    }

    /// The zones the DNS server answers from.
    pub(crate) fn zones(&self) -> Zones {
        self.zones.clone()
    }

    /// Reads the store and serves the result from the next query on. On a store failure the
    /// zones in service stay as they were.
    pub(crate) async fn refresh(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.rebuild.lock().await;
        let nodes = self.store.live_nodes().await?;
        let snapshot = self.read(&nodes).await?;
        let (set, skipped) = ZoneSet::build(&snapshot);
        self.zones.replace(set);
        *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) = nodes;
        let mut last = self.skipped.lock().unwrap_or_else(|p| p.into_inner());
        if *last != skipped {
            for s in &skipped {
                tracing::warn!(reason = %s, "a name is left out of the DNS zones");
            }
            *last = skipped;
        }
        Ok(())
    }

    /// Rebuilds when `live` (a lease renewal's list) differs from the nodes the zones in
    /// service were built from: a node that joined, died or started draining is answered
    /// within a renewal instead of at the next safety-net rebuild.
    pub(crate) async fn nodes_seen(&self, live: &[Node]) -> Result<(), StoreError> {
        let stale = *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) != live;
        if stale {
            self.refresh().await?;
        }
        Ok(())
    }

    async fn read(&self, nodes: &[Node]) -> Result<Snapshot, StoreError> {
        let ingresses = self.store.agent_ingress_domains().await?;
        let targets = self.store.reserved_dns_targets().await?;
        let challenges = self.store.dns_challenges().await?;
        // Seconds since 1970 fit a u32 until 2106; a wrapped serial would only look older.
        let serial = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        Ok(Snapshot {
            base_domain: self.base_domain.clone(),
            ns_targets: self.ns_targets.clone(),
            agent_ingresses: ingresses
                .into_iter()
                .map(|domain| IngressZone {
                    domain,
                    ns_targets: self.ns_targets.clone(),
                })
                .collect(),
            public_ips: self.endpoint_ips(nodes),
            regions: self.regions(nodes),
            cname_targets: targets.cname_targets,
            acme_targets: targets.acme_targets,
            challenges: challenges
                .into_iter()
                .map(|c| Challenge {
                    name: c.name,
                    value: c.value,
                })
                .collect(),
            ttl: self.ttl,
            negative_ttl: NEGATIVE_TTL.min(self.ttl),
            serial,
        })
    }

    /// What endpoint names (and an agent ingress domain itself) answer: every live, active
    /// node's addresses, since any node serves any tunnel; this node's own when none is
    /// listed (a node not registered, or the only one).
    fn endpoint_ips(&self, nodes: &[Node]) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = Vec::new();
        for node in nodes.iter().filter(|n| n.state == NodeState::Active) {
            for ip in node
                .public_addrs
                .iter()
                .filter_map(|a| a.parse::<IpAddr>().ok())
            {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
        if ips.is_empty() {
            ips = self.public_ips.clone();
        }
        ips
    }

    /// Every region of the live nodes, with the addresses of its active ones (a draining
    /// node has left DNS answers), then each of this node's `--region`s that no live node
    /// names, with this node's own addresses: a node that is not registered (its row swept
    /// during a stall) still answers for itself.
    fn regions(&self, nodes: &[Node]) -> Vec<Region> {
        let mut regions: Vec<Region> = Vec::new();
        for node in nodes {
            let at = match regions.iter().position(|r| r.name == node.region) {
                Some(at) => at,
                None => {
                    regions.push(Region {
                        name: node.region.clone(),
                        public_ips: Vec::new(),
                    });
                    regions.len() - 1
                }
            };
            if node.state == NodeState::Active {
                for addr in &node.public_addrs {
                    match addr.parse::<IpAddr>() {
                        Ok(ip) if !regions[at].public_ips.contains(&ip) => {
                            regions[at].public_ips.push(ip)
                        }
                        Ok(_) => {}
                        Err(_) => {
                            tracing::warn!(node = %node.name, %addr, "a node's public address is not an IP address; left out of DNS")
                        }
                    }
                }
            }
        }
        for name in &self.regions {
            if !regions.iter().any(|r| &r.name == name) {
                regions.push(Region {
                    name: name.clone(),
                    public_ips: self.public_ips.clone(),
                });
            }
        }
        regions
    }

    /// Rebuilds every [`SAFETY_NET`] until `shutdown`.
    pub(crate) fn spawn_safety_net(self: std::sync::Arc<Self>, shutdown: CancellationToken) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAFETY_NET);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(error) = self.refresh().await {
                            tracing::warn!(%error, "could not refresh the DNS zones from the store; answering from the last ones");
                        }
                    }
                    _ = shutdown.cancelled() => break,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use ferry_dns::proto::op::ResponseCode;
    use ferry_dns::proto::rr::{Name, RecordType};
    use ferry_store::testing::ScratchDir;
    use ferry_store::{NewAgentIngress, NewReservedDomain, ReservedDomain};
    use serde_json::json;

    use super::*;

    fn answer(feed: &DnsFeed, name: &str, t: RecordType) -> ferry_dns::Answer {
        feed.zones()
            .current()
            .answer(&Name::from_ascii(name).unwrap(), t)
    }

    /// What the store holds is what a refresh serves: agent ingresses, reserved domains'
    /// targets and challenges, added and removed.
    #[tokio::test]
    async fn a_refresh_serves_what_the_store_holds_now() {
        let dir = ScratchDir::new();
        let store = Store::open_sqlite(&dir.path.join("ferry.db"))
            .await
            .unwrap();
        let mut config = EdgeConfig::dev_defaults();
        config.regions = vec!["eu".into()];
        let feed = DnsFeed::new(&config, store.clone());
        feed.refresh().await.unwrap();
        let soa = answer(&feed, "ferry.localhost.", RecordType::SOA);
        assert_eq!(soa.answers.len(), 1);
        let tunnel = "tunnel.eu.connect.example.test.";
        assert_eq!(
            answer(&feed, tunnel, RecordType::A).code,
            ResponseCode::Refused
        );

        store
            .create::<ferry_store::AgentIngress>(NewAgentIngress {
                description: String::new(),
                metadata: String::new(),
                domain: "connect.example.test".into(),
                cert_policy: json!(null),
                ..Default::default()
            })
            .await
            .unwrap();
        let acme = "k.acme-challenge.ferry.localhost.";
        let domain = store
            .create::<ReservedDomain>(NewReservedDomain {
                description: String::new(),
                metadata: String::new(),
                domain: "*.c.example.test".into(),
                region: String::new(),
                certificate_id: String::new(),
                cert_policy: json!(null),
                cname_target: "a.b.cname.ferry.localhost".into(),
                acme_target: acme.trim_end_matches('.').into(),
                resolves_to: json!([]),
                ..Default::default()
            })
            .await
            .unwrap();
        store.add_dns_challenge(acme, "digest").await.unwrap();
        // Not served before the refresh...
        assert_eq!(
            answer(&feed, "a.b.cname.ferry.localhost.", RecordType::A).code,
            ResponseCode::NXDomain
        );
        feed.refresh().await.unwrap();
        // ...and at once after it.
        assert_eq!(answer(&feed, tunnel, RecordType::A).answers.len(), 1);
        let a = answer(&feed, "a.b.cname.ferry.localhost.", RecordType::A);
        assert_eq!(a.answers.len(), 1);
        assert_eq!(answer(&feed, acme, RecordType::TXT).answers.len(), 1);

        store.remove_dns_challenge(acme, "digest").await.unwrap();
        feed.refresh().await.unwrap();
        let nodata = answer(&feed, acme, RecordType::TXT);
        assert_eq!(
            (nodata.code, nodata.answers.len(), nodata.authority.len()),
            (ResponseCode::NoError, 0, 1)
        );

        store
            .delete::<ReservedDomain>(domain.id.as_str())
            .await
            .unwrap();
        feed.refresh().await.unwrap();
        assert_eq!(
            answer(&feed, "a.b.cname.ferry.localhost.", RecordType::A).code,
            ResponseCode::NXDomain
        );
    }
}
