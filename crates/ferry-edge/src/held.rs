//! What this node tells the other nodes it holds: each agent session from Auth to its end,
//! and each tunnel's public name, claimed in the database before the registry serves it, so
//! that no two nodes serve one name and any node can list, or carry a connection to, what
//! another holds.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_store::{HeldName, HeldSession};

use crate::registry::{AgentSession, Tunnel};
use crate::Shared;

/// The name a tunnel is claimed under: its host pattern, or its public URL for a TCP
/// address (each node has its own TCP host, so the URL is what must be unique).
pub(crate) fn claim_key(tunnel: &Tunnel) -> String {
    match &tunnel.host {
        Some(h) => h.to_string(),
        None => tunnel.public_url.clone(),
    }
}

/// Records a session that just authenticated. A failure is logged, not fatal: the session
/// serves here either way and is missing only from other nodes' lists.
pub(crate) async fn session_started(shared: &Shared, s: &AgentSession) {
    let row = HeldSession {
        id: s.id.to_string(),
        node: String::new(),
        credential_id: s.credential.to_string(),
        remote: s.remote.to_string(),
        os: s.os.clone(),
        agent_version: s.agent_version.clone(),
        metadata: s.metadata.clone(),
        client_type: s.client.to_string(),
        started_at_ms: unix_ms(s.started_at),
    };
    let holder = shared.membership.holder();
    if let Err(error) = shared.store.hold_session(&holder, &row).await {
        tracing::warn!(%error, session = %s.id, "could not record the session for the other nodes");
    }
}

/// Forgets a session that ended, and gives up its tunnels' names.
pub(crate) async fn session_ended(
    shared: &Shared,
    s: &AgentSession,
    tunnels: &[std::sync::Arc<Tunnel>],
) {
    let holder = shared.membership.holder();
    for t in tunnels {
        release(shared, t).await;
    }
    if let Err(error) = shared.store.release_session(&holder, s.id.as_str()).await {
        tracing::warn!(%error, session = %s.id, "could not remove the ended session's row; it goes when this node's lease does");
    }
}

/// Claims the tunnel's name for this node. `Ok(false)`: another live node serves it.
pub(crate) async fn claim(shared: &Shared, t: &Tunnel) -> Result<bool, ferry_store::StoreError> {
    let row = HeldName {
        name: claim_key(t),
        tunnel_id: t.id.to_string(),
        session_id: t.session.id.to_string(),
        node: String::new(),
        cluster_addr: String::new(),
        public_url: t.public_url.clone(),
        proto: t.proto.to_string(),
        metadata: t.metadata.clone(),
        forwards_to: t.forwards_to.clone(),
        started_at_ms: unix_ms(t.started_at),
    };
    shared
        .store
        .claim_name(&shared.membership.holder(), &row)
        .await
}

/// Gives up the tunnel's name, unless it has moved to another node since.
pub(crate) async fn release(shared: &Shared, t: &Tunnel) {
    let holder = shared.membership.holder();
    if let Err(error) = shared
        .store
        .release_name(&holder, &claim_key(t), t.id.as_str())
        .await
    {
        tracing::warn!(%error, tunnel = %t.id, "could not give up the tunnel's name; it goes when this node's lease does");
    }
}

/// A time as Unix milliseconds, for rows other nodes show.
pub(crate) fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// This process took over from another under the same node name (an upgrade in
/// place): for `window`, a request for a name that process served waits for its agent
/// to bind here instead of meeting a 404. Returns how many names are expected.
pub(crate) async fn expect_predecessors_agents(
    shared: &Arc<Shared>,
    window: Duration,
) -> Result<usize, ferry_store::StoreError> {
    let me = shared.membership.holder();
    let names = shared.store.names_held_before(&me.node, me.epoch).await?;
    let hosts: Vec<_> = names
        .iter()
        .filter_map(|n| ferry_types::HostPattern::parse(n).ok())
        .collect();
    let count = hosts.len();
    shared
        .registry
        .expect_hosts(hosts, std::time::Instant::now() + window);
    // A TCP endpoint's socket whose agent did not come back stops queueing connections
    // nobody will accept.
    let shared = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(window).await;
        let left = std::mem::take(
            &mut *shared
                .inherited_tcp
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        if !left.is_empty() {
            let ports: Vec<u16> = left.keys().copied().collect();
            tracing::info!(
                ?ports,
                "closing TCP endpoints no agent bound again after the upgrade"
            );
        }
    });
    Ok(count)
}
