//! The edge nodes sharing this database, each holding its row by a lease. Every time here is
//! read from the database's own clock (PostgreSQL's `clock_timestamp()`, SQLite's `'now'`),
//! never from a node's: nodes whose clocks disagree still agree on which leases have passed,
//! since they all ask the one server. Times are Unix milliseconds.

use std::time::Duration;

use crate::{Backend, Store, StoreError};

/// Whether a live node takes new work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Serving: DNS answers its addresses.
    Active,
    /// Leaving (SIGTERM): still live while its open streams finish, out of DNS answers.
    Draining,
}

impl NodeState {
    fn as_str(self) -> &'static str {
        match self {
            NodeState::Active => "active",
            NodeState::Draining => "draining",
        }
    }
}

/// A node whose lease has not passed, as [`Store::live_nodes`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `--node-name`, unique in the database.
    pub name: String,
    /// The node's own region (its first `--region`).
    pub region: String,
    /// What DNS answers for the node (`--public-ip`), as given.
    pub public_addrs: Vec<String>,
    /// Where other nodes reach it (`--cluster-addr`, as bound); empty when it has none.
    pub cluster_addr: String,
    /// Serving or draining.
    pub state: NodeState,
    /// Grows at each registration under this name.
    pub epoch: i64,
}

impl Store {
    /// The database's clock now, in Unix milliseconds, as an SQL expression.
    pub(crate) fn now_ms(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        }
    }

    /// Registers the node `name` (or takes its row over: a restart under the same name) with
    /// a lease of `lease` from now, active; returns the new epoch, which renewals quote. A
    /// new row's epoch is the database's clock, not 1: a process whose row was swept during
    /// a stall must not find its old epoch valid again on a row registered since.
    pub async fn register_node(
        &self,
        name: &str,
        region: &str,
        public_addrs: &[String],
        cluster_addr: &str,
        lease: Duration,
    ) -> Result<i64, StoreError> {
        let now = self.now_ms();
        let sql = format!(
            "INSERT INTO nodes (name, region, public_addrs, cluster_addr, state, epoch, \
             lease_until, registered_at) VALUES ($1, $2, $3, $4, 'active', {now}, {now} + $5, {now}) \
             ON CONFLICT (name) DO UPDATE SET region = excluded.region, \
             public_addrs = excluded.public_addrs, cluster_addr = excluded.cluster_addr, \
             state = 'active', epoch = nodes.epoch + 1, lease_until = excluded.lease_until, \
             registered_at = excluded.registered_at RETURNING epoch"
        );
        let addrs = serde_json::Value::from(public_addrs.to_vec()).to_string();
        let epoch: i64 = sqlx::query_scalar(&sql)
            .bind(name.to_string())
            .bind(region.to_string())
            .bind(addrs)
            .bind(cluster_addr.to_string())
            .bind(millis(lease))
            .fetch_one(&self.pool)
            .await?;
        Ok(epoch)
    }

    /// Extends the lease of `name` to `lease` from now, if the row is still this
    /// registration's (`epoch`) and its lease has not passed. False means the node has been
    /// taken for dead (or replaced) and must register again before it counts as live.
    pub async fn renew_node_lease(
        &self,
        name: &str,
        epoch: i64,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let sql = format!(
            "UPDATE nodes SET lease_until = {now} + $3 \
             WHERE name = $1 AND epoch = $2 AND lease_until > {now}"
        );
        let done = sqlx::query(&sql)
            .bind(name.to_string())
            .bind(epoch)
            .bind(millis(lease))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Marks `name` as draining: it leaves DNS answers while its lease keeps it live. Only
    /// the registration `epoch`'s row: a process that replaced this one under the same name
    /// (an upgrade in place) stays active.
    pub async fn set_node_draining(&self, name: &str, epoch: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE nodes SET state = $3 WHERE name = $1 AND epoch = $2")
            .bind(name.to_string())
            .bind(epoch)
            .bind(NodeState::Draining.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes the row of `name`, at the end of a clean drain: the node is gone at once
    /// instead of after its lease. Only the registration `epoch`'s row, as for
    /// [`Store::set_node_draining`].
    pub async fn delete_node(&self, name: &str, epoch: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM nodes WHERE name = $1 AND epoch = $2")
            .bind(name.to_string())
            .bind(epoch)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The nodes whose lease has not passed, by name.
    pub async fn live_nodes(&self) -> Result<Vec<Node>, StoreError> {
        let sql = format!(
            "SELECT name, region, public_addrs, cluster_addr, state, epoch FROM nodes \
             WHERE lease_until > {} ORDER BY name",
            self.now_ms()
        );
        let rows: Vec<(String, String, String, String, String, i64)> =
            sqlx::query_as(&sql).fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|(name, region, addrs, cluster_addr, state, epoch)| {
                let corrupt = |why: String| StoreError::Corrupt {
                    id: format!("nodes/{name}"),
                    why,
                };
                let public_addrs = serde_json::from_str(&addrs)
                    .map_err(|e| corrupt(format!("public_addrs {addrs:?}: {e}")))?;
                let state = match state.as_str() {
                    "active" => NodeState::Active,
                    "draining" => NodeState::Draining,
                    other => return Err(corrupt(format!("state {other:?}"))),
                };
                Ok(Node {
                    name,
                    region,
                    public_addrs,
                    cluster_addr,
                    state,
                    epoch,
                })
            })
            .collect()
    }

    /// Deletes the nodes whose lease passed more than `grace` ago (they died without a
    /// drain); returns how many.
    pub async fn sweep_expired_nodes(&self, grace: Duration) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM nodes WHERE lease_until < {} - $1",
            self.now_ms()
        );
        let done = sqlx::query(&sql)
            .bind(millis(grace))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// A duration as the milliseconds the `lease_until` column counts in (saturating: a lease of
/// centuries is as good as forever).
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    const LONG: Duration = Duration::from_secs(60);

    fn addrs(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn leases_say_which_nodes_live_on_both_databases() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let b = store.backend();
            let e1 = store
                .register_node("n1", "eu", &addrs(&["127.0.0.11"]), "127.0.0.1:7001", LONG)
                .await
                .unwrap();
            store
                .register_node("n2", "us", &addrs(&["127.0.0.12", "::1"]), "", LONG)
                .await
                .unwrap();
            // A lease so short it has passed by the next statement.
            let n3 = store
                .register_node("n3", "us", &addrs(&[]), "", Duration::from_millis(1))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;

            let live = store.live_nodes().await.unwrap();
            let names: Vec<_> = live.iter().map(|n| n.name.as_str()).collect();
            assert_eq!(names, ["n1", "n2"], "{b:?}: an expired lease is not live");
            assert_eq!(
                live[0],
                Node {
                    name: "n1".into(),
                    region: "eu".into(),
                    public_addrs: addrs(&["127.0.0.11"]),
                    cluster_addr: "127.0.0.1:7001".into(),
                    state: NodeState::Active,
                    epoch: e1,
                }
            );
            assert_eq!(live[1].public_addrs, addrs(&["127.0.0.12", "::1"]));

            // Renewing keeps the lease; a stale epoch, or an expired lease, cannot renew.
            assert!(store.renew_node_lease("n1", e1, LONG).await.unwrap());
            let e1b = store
                .register_node("n1", "eu", &addrs(&["127.0.0.11"]), "", LONG)
                .await
                .unwrap();
            assert!(e1b > e1, "{b:?}: registering again bumps the epoch");
            assert!(!store.renew_node_lease("n1", e1, LONG).await.unwrap());
            assert!(store.renew_node_lease("n1", e1b, LONG).await.unwrap());
            assert!(!store.renew_node_lease("n3", n3, LONG).await.unwrap());
            assert!(!store.renew_node_lease("gone", 1, LONG).await.unwrap());

            // A draining node is listed with its state.
            let e2 = store.live_nodes().await.unwrap()[1].epoch;
            store.set_node_draining("n2", e2 + 1).await.unwrap();
            assert_eq!(
                store.live_nodes().await.unwrap()[1].state,
                NodeState::Active,
                "{b:?}: another registration's drain"
            );
            store.set_node_draining("n2", e2).await.unwrap();
            let live = store.live_nodes().await.unwrap();
            assert_eq!(live[1].state, NodeState::Draining, "{b:?}");
            assert_eq!(live[0].state, NodeState::Active);

            // The sweep deletes only leases past the grace; a clean drain deletes its row.
            assert_eq!(store.sweep_expired_nodes(LONG).await.unwrap(), 0);
            assert_eq!(
                store.sweep_expired_nodes(Duration::ZERO).await.unwrap(),
                1,
                "{b:?}: n3"
            );
            assert!(!store.renew_node_lease("n3", n3, LONG).await.unwrap());
            // Registered again after the sweep, the name's old epoch stays stale.
            let n3b = store
                .register_node("n3", "us", &addrs(&[]), "", LONG)
                .await
                .unwrap();
            assert!(n3b > n3, "{b:?}");
            assert!(!store.renew_node_lease("n3", n3, LONG).await.unwrap());
            store.delete_node("n3", n3b).await.unwrap();
            store.delete_node("n2", e2 + 1).await.unwrap();
            assert_eq!(store.live_nodes().await.unwrap().len(), 2, "{b:?}");
            store.delete_node("n2", e2).await.unwrap();
            let names: Vec<_> = store
                .live_nodes()
                .await
                .unwrap()
                .into_iter()
                .map(|n| n.name)
                .collect();
            assert_eq!(names, ["n1"], "{b:?}");
        }
    }
}
