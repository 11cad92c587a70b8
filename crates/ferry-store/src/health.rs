//! Whether the database answers now, for the edge's readiness check.

use std::time::Duration;

use crate::{Store, StoreError};

/// How long a readiness probe waits for the database: a load balancer's own check times out
/// after a few seconds, and a hung database must read as "not ready", not as a hung probe.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

impl Store {
    /// One round trip to the database through the pool.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let query = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&self.pool);
        match tokio::time::timeout(PING_TIMEOUT, query).await {
            Ok(answer) => answer.map(drop).map_err(StoreError::from),
            Err(_) => Err(StoreError::from(sqlx::Error::PoolTimedOut)),
        }
    }
}
