//! This node's place among the nodes sharing the database: its row, held by a lease on the
//! database's clock. The node registers at start, renews every [`RENEW_EVERY`] and, while its
//! own lease is healthy, deletes the rows of nodes dead for longer than [`SWEEP_GRACE`]; a
//! node killed outright drops out of the live list when its [`LEASE`] passes, well within the
//! 10 s the contract promises. The live list each renewal reads is kept here for the API's
//! region names, and the DNS zones are rebuilt when it differs from the one they were built
//! from.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferry_store::{ChangeFeed, HeldName, HeldSession, Hint, Holder, Node, Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::dns::DnsFeed;
use crate::EdgeConfig;

/// How long a renewal keeps this node live.
const LEASE: Duration = Duration::from_secs(5);
/// How often the lease is renewed: a few renewals may fail (a slow database) before it passes.
const RENEW_EVERY: Duration = Duration::from_secs(1);
/// Every how many renewals what the other nodes hold is read without a hint: the periodic
/// reconcile behind `LISTEN/NOTIFY`.
const RECONCILE_EVERY: u32 = 5;
/// How long after a hint the read waits, so that a burst of hints costs one read.
const HINT_SETTLE: Duration = Duration::from_millis(20);
/// How long a dead node's row stays before a live node deletes it. Dead rows are never
/// served (the live list reads the lease); this only keeps the table small.
const SWEEP_GRACE: Duration = Duration::from_secs(5);

/// The sessions and names the other live nodes hold.
#[derive(Clone, Default)]
pub(crate) struct Elsewhere {
    pub(crate) sessions: Vec<HeldSession>,
    pub(crate) names: Vec<HeldName>,
}

pub(crate) struct Membership {
    store: Store,
    name: String,
    region: String,
    public_addrs: Vec<String>,
    cluster_addr: String,
    /// The registration this process holds; renewals quote it.
    epoch: AtomicI64,
    /// The live nodes as of the last renewal.
    live: RwLock<Vec<Node>>,
    /// Since when every renewal has succeeded.
    healthy_since: HealthySince,
    /// When the lease was last registered or renewed: `ferry_edge_lease_age_seconds`.
    renewed_at: std::sync::Mutex<std::time::Instant>,
    /// What the other live nodes held as of the last renewal, for the API's lists.
    elsewhere: RwLock<Elsewhere>,
    /// Ends the renewals at the end of a drain (not at its start: a draining node stays live
    /// while its streams finish).
    stop: CancellationToken,
    /// Set while a successor process takes over under the same name (SIGUSR2): this
    /// process must not take the row back from it by registering again.
    handing_over: AtomicBool,
}

impl Membership {
    /// Registers this node and reads the live list once, so that the first DNS answers and
    /// API pages already know the other nodes.
    pub(crate) async fn join(
        config: &EdgeConfig,
        cluster_addr: Option<std::net::SocketAddr>,
        store: Store,
    ) -> Result<Arc<Self>, StoreError> {
        let public_addrs: Vec<String> = config.public_ips.iter().map(|ip| ip.to_string()).collect();
        let cluster_addr = cluster_addr.map(|a| a.to_string()).unwrap_or_default();
        let region = config.region().to_string();
        let epoch = store
            .register_node(
                &config.node_name,
                &region,
                &public_addrs,
                &cluster_addr,
                LEASE,
            )
            .await?;
        let live = store.live_nodes().await?;
        Ok(Arc::new(Self {
            store,
            name: config.node_name.clone(),
            region,
            public_addrs,
            cluster_addr,
            epoch: AtomicI64::new(epoch),
            healthy_since: HealthySince::default(),
            renewed_at: std::sync::Mutex::new(std::time::Instant::now()),
            live: RwLock::new(live),
            elsewhere: RwLock::default(),
            stop: CancellationToken::new(),
            handing_over: AtomicBool::new(false),
        }))
    }

    /// This process's current registration, which holds the sessions and names it records.
    pub(crate) fn holder(&self) -> Holder {
        Holder {
            node: self.name.clone(),
            epoch: self.epoch.load(Ordering::Relaxed),
        }
    }

    /// What the other live nodes held as of the last renewal (at most a second old).
    pub(crate) fn elsewhere(&self) -> Elsewhere {
        self.elsewhere
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether any other node was live at the last renewal.
    pub(crate) fn has_peers(&self) -> bool {
        self.live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|n| n.name != self.name)
    }

    /// Where the most specific of `patterns` (a host, then the wildcards above it) is held
    /// by another node, as of the last read: `Some(Some(addr))` to carry there, `Some(None)`
    /// when its holder cannot be reached (no cluster address), `None` when no other node
    /// was known to hold any of them. Read under the lock, without copying the list: this
    /// runs for every public connection this node does not serve.
    pub(crate) fn cached_holder(&self, patterns: &[String]) -> Option<Option<String>> {
        let elsewhere = self.elsewhere.read().unwrap_or_else(|p| p.into_inner());
        patterns.iter().find_map(|p| {
            elsewhere
                .names
                .iter()
                .find(|n| n.name == *p)
                .map(|n| (!n.cluster_addr.is_empty()).then(|| n.cluster_addr.clone()))
        })
    }

    /// How long ago the lease was last registered or renewed: past [`LEASE`], the other
    /// nodes count this one dead.
    pub(crate) fn lease_age(&self) -> Duration {
        self.renewed_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// The live nodes as of the last renewal.
    pub(crate) fn live(&self) -> Vec<Node> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Renews until [`Membership::leave`], rebuilding `dns` whenever the live list changes.
    /// What the other nodes hold is read again when `hints` says it changed (or may have
    /// been missed), and every [`RECONCILE_EVERY`] renewals regardless; without a feed
    /// (SQLite: one node), at every renewal.
    pub(crate) fn spawn_renewals(
        self: Arc<Self>,
        dns: Option<Arc<DnsFeed>>,
        mut hints: Option<Box<dyn ChangeFeed>>,
    ) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RENEW_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            let mut renewals = 0u32;
            loop {
                let hinted = tokio::select! {
                    _ = tick.tick() => None,
                    h = next_hint(&mut hints) => Some(h),
                    _ = self.stop.cancelled() => break,
                };
                let result = match hinted {
                    Some(hint) => {
                        if hint == Hint::Resync {
                            tracing::debug!("change hints may have been missed; reading what the nodes hold again");
                        }
                        // A burst of writes sends a burst of hints: one read for them all.
                        tokio::time::sleep(HINT_SETTLE).await;
                        self.refresh().await
                    }
                    None => {
                        renewals = renewals.wrapping_add(1);
                        let reconcile = hints.is_none() || renewals.is_multiple_of(RECONCILE_EVERY);
                        self.renew(reconcile).await
                    }
                };
                match result {
                    Ok(live) => {
                        if let Some(feed) = &dns {
                            if let Err(error) = feed.nodes_seen(&live).await {
                                tracing::warn!(%error, "could not rebuild the DNS zones after the live nodes changed");
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, node = %self.name, "could not renew this node's lease or read the other nodes; retrying in 1 s");
                    }
                }
            }
        });
    }

    /// Reads the live nodes and what the other nodes hold, keeps both and returns the
    /// nodes.
    async fn refresh(&self) -> Result<Vec<Node>, StoreError> {
        let live = self.store.live_nodes().await?;
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = live.clone();
        self.read_elsewhere().await?;
        Ok(live)
    }

    async fn read_elsewhere(&self) -> Result<(), StoreError> {
        let mut sessions = self.store.held_sessions().await?;
        let mut names = self.store.held_names().await?;
        sessions.retain(|s| s.node != self.name);
        names.retain(|n| n.node != self.name);
        *self.elsewhere.write().unwrap_or_else(|p| p.into_inner()) = Elsewhere { sessions, names };
        Ok(())
    }

    /// One renewal: extends the lease (registering again when the row was lost), sweeps dead
    /// rows and reads the live list, which it keeps and returns.
    async fn renew(&self, reconcile: bool) -> Result<Vec<Node>, StoreError> {
        if self.handing_over.load(Ordering::Relaxed) {
            return Ok(self.live());
        }
        let old_epoch = self.epoch.load(Ordering::Relaxed);
        let renewed = self
            .store
            .renew_node_lease(&self.name, old_epoch, LEASE)
            .await
            .inspect_err(|_| self.healthy_since.set(None))?;
        if renewed {
            // Only a node that has held its lease without a break for longer than any other
            // node's lease and grace sweeps: after the database itself was away, every node's
            // lease passed at once, and the first back must not delete the others before
            // they have had a renewal of their own to come back.
            let healthy = self.healthy_since.get_or_start();
            if healthy.elapsed() >= LEASE + SWEEP_GRACE {
                self.store.sweep_expired_nodes(SWEEP_GRACE).await?;
                self.store.sweep_dead_holdings().await?;
            }
        } else {
            self.healthy_since.set(None);
            tracing::warn!(node = %self.name, "this node's lease was lost (a stall, or another process under its name); registering again");
            let epoch = self
                .store
                .register_node(
                    &self.name,
                    &self.region,
                    &self.public_addrs,
                    &self.cluster_addr,
                    LEASE,
                )
                .await?;
            self.epoch.store(epoch, Ordering::Relaxed);
            // This process still serves what it held: the sessions and names go on under the
            // new registration, except names another node took meanwhile.
            self.store
                .carry_over_holdings(&self.holder(), old_epoch)
                .await?;
        }
        *self.renewed_at.lock().unwrap_or_else(|p| p.into_inner()) = std::time::Instant::now();
        let live = self.store.live_nodes().await?;
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = live.clone();
        if reconcile {
            self.read_elsewhere().await?;
        }
        Ok(live)
    }

    /// Stops (or, when the successor failed, resumes) renewing this registration, which the
    /// successor replaces with its own under the same name.
    pub(crate) fn set_handing_over(&self, on: bool) {
        self.handing_over.store(on, Ordering::Relaxed);
    }

    /// The start of a drain: this node leaves DNS answers on every node.
    pub(crate) async fn drain(&self) {
        let epoch = self.epoch.load(Ordering::Relaxed);
        if let Err(error) = self.store.set_node_draining(&self.name, epoch).await {
            tracing::warn!(%error, "could not mark this node draining; other nodes drop it when its lease passes");
        }
    }

    /// The end of a clean drain: no more renewals, and the row goes at once rather than when
    /// its lease passes.
    pub(crate) async fn leave(&self) {
        self.stop.cancel();
        let epoch = self.epoch.load(Ordering::Relaxed);
        if let Err(error) = self.store.delete_node(&self.name, epoch).await {
            tracing::warn!(%error, "could not remove this node's row; other nodes drop it when its lease passes");
        }
    }
}

/// Since when a node's renewals have all succeeded; `None` after a failure.
#[derive(Default)]
struct HealthySince(std::sync::Mutex<Option<std::time::Instant>>);

impl HealthySince {
    fn set(&self, at: Option<std::time::Instant>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    /// The start of the current healthy run, which begins now if there was none.
    fn get_or_start(&self) -> std::time::Instant {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(std::time::Instant::now)
    }
}

/// The next hint of `feed`, or never when there is none.
async fn next_hint(feed: &mut Option<Box<dyn ChangeFeed>>) -> Hint {
    match feed {
        Some(f) => f.next().await,
        None => std::future::pending().await,
    }
}
