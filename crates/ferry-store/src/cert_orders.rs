//! The ACME orders placed, by registered domain, for pacing new orders under the CA's limit
//! per registered domain. Kept in the store so that a restart, or another node on the same
//! database, counts the same orders.

use crate::{Store, StoreError};

impl Store {
    /// Records an order for `registered_domain` placed at `at` (RFC 3339, UTC).
    pub async fn record_cert_order(
        &self,
        registered_domain: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO cert_orders (registered_domain, ordered_at) VALUES ($1, $2)")
            .bind(registered_domain.to_string())
            .bind(at.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The times of the orders for `registered_domain` placed after `since` (RFC 3339,
    /// UTC), oldest first; older ones are forgotten on the way.
    pub async fn cert_orders_since(
        &self,
        registered_domain: &str,
        since: &str,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query("DELETE FROM cert_orders WHERE ordered_at <= $1")
            .bind(since.to_string())
            .execute(&self.pool)
            .await?;
        self.column(
            "SELECT ordered_at FROM cert_orders WHERE registered_domain = $1 ORDER BY ordered_at",
            &[registered_domain],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::testing;

    #[tokio::test]
    async fn orders_are_counted_per_domain_and_forgotten_when_old() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            for at in [
                "2026-11-20T00:00:00Z",
                "2026-11-30T00:00:00Z",
                "2026-12-01T00:00:00Z",
            ] {
                store.record_cert_order("example.com", at).await.unwrap();
            }
            store
                .record_cert_order("example.org", "2026-12-01T00:00:00Z")
                .await
                .unwrap();
            let recent = store
                .cert_orders_since("example.com", "2026-11-25T00:00:00Z")
                .await
                .unwrap();
            assert_eq!(recent, ["2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z"]);
        }
    }
}
