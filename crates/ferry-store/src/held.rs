//! What each node holds: its agent sessions and its tunnels' public names. The REST API of
//! any node lists every node's sessions and tunnels from here, and a node that receives a
//! connection for a name it does not serve finds here the node that does. A row counts while
//! the registration that wrote it (node and epoch) holds its lease, read on the database's
//! clock like every lease; a name's row is the claim on it, so two nodes can never both hand
//! out one name.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::record::{self, Cell::Int, Cell::Text};
use crate::{Store, StoreError};

/// One registration of one node, as [`Store::register_node`] returned its epoch: what every
/// row this process writes is held by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// `--node-name`.
    pub node: String,
    /// The registration's epoch.
    pub epoch: i64,
}

/// An agent session as the cluster sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldSession {
    /// The `ts_` ID.
    pub id: String,
    /// The node that holds it (filled in when read).
    pub node: String,
    /// The `cr_` ID of its authtoken.
    pub credential_id: String,
    /// The agent's address as its node saw it.
    pub remote: String,
    /// Auth's OS, version and metadata, the agent's words.
    pub os: String,
    /// Auth's `Extra.Version`.
    pub agent_version: String,
    /// Auth's `Extra.Metadata`.
    pub metadata: String,
    /// `ferry`, `ngrok-rust`...
    pub client_type: String,
    /// When Auth succeeded, Unix milliseconds on the holding node's clock (shown, never
    /// compared).
    pub started_at_ms: i64,
}

/// A tunnel's public name as the cluster sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldName {
    /// The host pattern (`app.example.com`, `*.example.com`) or `tcp://host:port`.
    pub name: String,
    /// The tunnel's ID.
    pub tunnel_id: String,
    /// The `ts_` ID of the session serving it.
    pub session_id: String,
    /// The node that holds it (filled in when read).
    pub node: String,
    /// Where that node takes node-to-node sessions (filled in when read).
    pub cluster_addr: String,
    /// What a public client dials.
    pub public_url: String,
    /// `http`, `https`, `tls` or `tcp`.
    pub proto: String,
    /// The bind's metadata and `ForwardsTo`, for the tunnel list.
    pub metadata: String,
    /// The bind's `ForwardsTo`.
    pub forwards_to: String,
    /// When the bind succeeded, Unix milliseconds on the holding node's clock.
    pub started_at_ms: i64,
}

const SESSION_COLUMNS: &str =
    "id, node, credential_id, remote, os, agent_version, metadata, client_type, started_at";
const NAME_COLUMNS: &str = "h.name, h.tunnel_id, h.session_id, h.node, n.cluster_addr, \
                            h.public_url, h.proto, h.metadata, h.forwards_to, h.started_at";

impl Store {
    /// The condition that the registration which wrote the row `table` (aliased) still holds
    /// its lease.
    fn holder_live(&self, table: &str) -> String {
        format!(
            "EXISTS (SELECT 1 FROM nodes n WHERE n.name = {table}.node AND n.epoch = {table}.epoch \
             AND n.lease_until > {})",
            self.now_ms()
        )
    }

    /// Records a session `by` holds (a new one, or one moved here).
    pub async fn hold_session(&self, by: &Holder, s: &HeldSession) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO held_sessions (id, node, epoch, credential_id, remote, os, \
             agent_version, metadata, client_type, started_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET node = excluded.node, epoch = excluded.epoch",
        );
        let cells = [
            Text(s.id.clone()),
            Text(by.node.clone()),
            Int(by.epoch),
            Text(s.credential_id.clone()),
            Text(s.remote.clone()),
            Text(s.os.clone()),
            Text(s.agent_version.clone()),
            Text(s.metadata.clone()),
            Text(s.client_type.clone()),
            Int(s.started_at_ms),
        ];
        cells
            .into_iter()
            .fold(query, record::bind)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets a session `by` held, once it ended.
    pub async fn release_session(&self, by: &Holder, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM held_sessions WHERE id = $1 AND node = $2")
            .bind(id.to_string())
            .bind(by.node.clone())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Claims `n.name` for `by`, in one statement: free, held by a registration whose lease
    /// passed, or held by the same tunnel (an agent that proved its tunnel ID moving here from
    /// a draining or cut-off node) or the same session. Nothing is claimed while `by`'s own
    /// lease has passed: a node cut off from the database hands out no name until it has
    /// registered again. False: a live node holds the name for another tunnel.
    pub async fn claim_name(&self, by: &Holder, n: &HeldName) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let holder_live = self.holder_live("held_names");
        let sql = format!(
            "INSERT INTO held_names (name, tunnel_id, session_id, node, epoch, public_url, proto, \
             metadata, forwards_to, started_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM nodes \
             WHERE name = $4 AND epoch = $5 AND lease_until > {now}) \
             ON CONFLICT (name) DO UPDATE SET tunnel_id = excluded.tunnel_id, \
             session_id = excluded.session_id, node = excluded.node, epoch = excluded.epoch, \
             public_url = excluded.public_url, proto = excluded.proto, \
             metadata = excluded.metadata, forwards_to = excluded.forwards_to, \
             started_at = excluded.started_at \
             WHERE held_names.tunnel_id = excluded.tunnel_id \
             OR held_names.session_id = excluded.session_id OR NOT {holder_live}"
        );
        let cells = [
            Text(n.name.clone()),
            Text(n.tunnel_id.clone()),
            Text(n.session_id.clone()),
            Text(by.node.clone()),
            Int(by.epoch),
            Text(n.public_url.clone()),
            Text(n.proto.clone()),
            Text(n.metadata.clone()),
            Text(n.forwards_to.clone()),
            Int(n.started_at_ms),
        ];
        let done = cells
            .into_iter()
            .fold(sqlx::query(&sql), record::bind)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Gives `name` up, if `by` still holds it for `tunnel_id` (the tunnel may have moved to
    /// another node since).
    pub async fn release_name(
        &self,
        by: &Holder,
        name: &str,
        tunnel_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM held_names WHERE name = $1 AND tunnel_id = $2 AND node = $3")
            .bind(name.to_string())
            .bind(tunnel_id.to_string())
            .bind(by.node.clone())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every live registration's sessions, by ID.
    pub async fn held_sessions(&self) -> Result<Vec<HeldSession>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM held_sessions s WHERE {} ORDER BY id",
            self.holder_live("s")
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(session).collect()
    }

    /// The names `node`'s registrations before `epoch` held, live or not: what a process
    /// that took over under the same name (an upgrade in place) expects its predecessor's
    /// agents to bind again.
    pub async fn names_held_before(
        &self,
        node: &str,
        epoch: i64,
    ) -> Result<Vec<String>, StoreError> {
        let names = sqlx::query_scalar(
            "SELECT name FROM held_names WHERE node = $1 AND epoch < $2 ORDER BY name",
        )
        .bind(node.to_string())
        .bind(epoch)
        .fetch_all(&self.pool)
        .await?;
        Ok(names)
    }

    /// Every live registration's names, by name.
    pub async fn held_names(&self) -> Result<Vec<HeldName>, StoreError> {
        self.names_where("TRUE", &[]).await
    }

    /// The live holders among `names` (a host and the wildcards above it), in no order.
    pub async fn holders_of(&self, names: &[String]) -> Result<Vec<HeldName>, StoreError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        self.names_where(&format!("h.name IN ({})", list.join(", ")), names)
            .await
    }

    async fn names_where(
        &self,
        filter: &str,
        args: &[String],
    ) -> Result<Vec<HeldName>, StoreError> {
        let sql = format!(
            "SELECT {NAME_COLUMNS} FROM held_names h JOIN nodes n ON n.name = h.node \
             AND n.epoch = h.epoch WHERE n.lease_until > {} AND {filter} ORDER BY h.name",
            self.now_ms()
        );
        let mut query = sqlx::query(&sql);
        for a in args {
            query = query.bind(a.clone());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(name).collect()
    }

    /// Moves what `by`'s earlier registration held to `by`: the same process registered again
    /// after its lease passed (a stall, the database away), and still serves those sessions.
    /// Names another node took meanwhile stay with it.
    pub async fn carry_over_holdings(&self, by: &Holder, old_epoch: i64) -> Result<(), StoreError> {
        for table in ["held_sessions", "held_names"] {
            sqlx::query(&format!(
                "UPDATE {table} SET epoch = $1 WHERE node = $2 AND epoch = $3"
            ))
            .bind(by.epoch)
            .bind(by.node.clone())
            .bind(old_epoch)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Deletes the rows of registrations that are gone: their node was swept, or registered
    /// again without carrying them over (a restart). Rows of a lease that merely passed stay
    /// (they count for nothing meanwhile), so that a node back from a stall can carry them
    /// over. Returns how many.
    pub async fn sweep_dead_holdings(&self) -> Result<u64, StoreError> {
        let mut swept = 0;
        for table in ["held_sessions", "held_names"] {
            let done = sqlx::query(&format!(
                "DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM nodes n \
                 WHERE n.name = {table}.node AND n.epoch = {table}.epoch)"
            ))
            .execute(&self.pool)
            .await?;
            swept += done.rows_affected();
        }
        Ok(swept)
    }
}

fn session(r: &AnyRow) -> Result<HeldSession, StoreError> {
    Ok(HeldSession {
        id: r.try_get("id")?,
        node: r.try_get("node")?,
        credential_id: r.try_get("credential_id")?,
        remote: r.try_get("remote")?,
        os: r.try_get("os")?,
        agent_version: r.try_get("agent_version")?,
        metadata: r.try_get("metadata")?,
        client_type: r.try_get("client_type")?,
        started_at_ms: r.try_get("started_at")?,
    })
}

fn name(r: &AnyRow) -> Result<HeldName, StoreError> {
    Ok(HeldName {
        name: r.try_get("name")?,
        tunnel_id: r.try_get("tunnel_id")?,
        session_id: r.try_get("session_id")?,
        node: r.try_get("node")?,
        cluster_addr: r.try_get("cluster_addr")?,
        public_url: r.try_get("public_url")?,
        proto: r.try_get("proto")?,
        metadata: r.try_get("metadata")?,
        forwards_to: r.try_get("forwards_to")?,
        started_at_ms: r.try_get("started_at")?,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testing;

    const LONG: Duration = Duration::from_secs(60);

    fn held(name: &str, tunnel: &str, session: &str) -> HeldName {
        HeldName {
            name: name.into(),
            tunnel_id: tunnel.into(),
            session_id: session.into(),
            node: String::new(),
            cluster_addr: String::new(),
            public_url: format!("https://{name}"),
            proto: "https".into(),
            metadata: String::new(),
            forwards_to: String::new(),
            started_at_ms: 1,
        }
    }

    async fn node(store: &Store, name: &str, lease: Duration) -> Holder {
        let epoch = store
            .register_node(name, "eu", &[], &format!("{name}:1"), lease)
            .await
            .unwrap();
        Holder {
            node: name.into(),
            epoch,
        }
    }

    #[tokio::test]
    async fn one_name_one_holder_until_its_lease_passes() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let b = store.backend();
            let n1 = node(&store, "n1", LONG).await;
            let n2 = node(&store, "n2", LONG).await;
            let app = held("app.example.com", "tn_1", "ts_1");
            assert!(store.claim_name(&n1, &app).await.unwrap(), "{b:?}");
            let other = held("app.example.com", "tn_2", "ts_2");
            assert!(
                !store.claim_name(&n2, &other).await.unwrap(),
                "{b:?}: a live node holds it"
            );
            // The same tunnel, proven, moves to another node (its old node drains).
            let moved = held("app.example.com", "tn_1", "ts_3");
            assert!(store.claim_name(&n2, &moved).await.unwrap(), "{b:?}");
            let found = store
                .holders_of(&["app.example.com".into(), "*.example.com".into()])
                .await
                .unwrap();
            assert_eq!(found.len(), 1, "{b:?}");
            assert_eq!(
                (found[0].node.as_str(), found[0].cluster_addr.as_str()),
                ("n2", "n2:1")
            );
            // n1 letting go of a name that moved leaves it where it is.
            store
                .release_name(&n1, "app.example.com", "tn_1")
                .await
                .unwrap();
            assert_eq!(store.held_names().await.unwrap().len(), 1, "{b:?}");

            // A holder whose lease passed gives way; one cut off claims nothing.
            let short = node(&store, "n3", Duration::from_millis(1)).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(
                !store
                    .claim_name(&short, &held("b.example.com", "tn_4", "ts_4"))
                    .await
                    .unwrap(),
                "{b:?}: a node whose lease passed hands out nothing"
            );
            let short = node(&store, "n3", LONG).await;
            assert!(store
                .claim_name(&short, &held("b.example.com", "tn_4", "ts_4"))
                .await
                .unwrap());
            let restarted = node(&store, "n3", LONG).await;
            assert!(
                store
                    .claim_name(&n1, &held("b.example.com", "tn_5", "ts_5"))
                    .await
                    .unwrap(),
                "{b:?}: the old registration of a restarted node holds nothing"
            );
            assert_eq!(store.sweep_dead_holdings().await.unwrap(), 0, "{b:?}");

            // Sessions: listed while their registration lives, carried over by the same
            // process registering again.
            let s = HeldSession {
                id: "ts_9".into(),
                node: String::new(),
                credential_id: "cr_1".into(),
                remote: "127.0.0.1:5".into(),
                os: "linux".into(),
                agent_version: "1".into(),
                metadata: String::new(),
                client_type: "ferry".into(),
                started_at_ms: 7,
            };
            store.hold_session(&restarted, &s).await.unwrap();
            let again = node(&store, "n3", LONG).await;
            assert!(store.held_sessions().await.unwrap().is_empty(), "{b:?}");
            store
                .carry_over_holdings(&again, restarted.epoch)
                .await
                .unwrap();
            let listed = store.held_sessions().await.unwrap();
            assert_eq!(listed.len(), 1, "{b:?}");
            assert_eq!(listed[0].node, "n3");
            store.release_session(&again, "ts_9").await.unwrap();
            assert!(store.held_sessions().await.unwrap().is_empty(), "{b:?}");
        }
    }

    #[tokio::test]
    async fn nodes_racing_for_one_name_leave_one_winner() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let mut claims = Vec::new();
            for i in 0..8 {
                let by = node(&store, &format!("r{i}"), LONG).await;
                let store = store.clone();
                claims.push(tokio::spawn(async move {
                    let name = held("race.example.com", &format!("tn_{i}"), &format!("ts_{i}"));
                    store.claim_name(&by, &name).await.unwrap()
                }));
            }
            let mut won = 0;
            for c in claims {
                won += usize::from(c.await.unwrap());
            }
            assert_eq!(won, 1, "{:?}", store.backend());
        }
    }
}
