//! Pending DNS-01 challenges: the TXT values Ferry's own DNS answers while a CA validates a
//! certificate order. The ACME job adds one before telling the CA it is ready and removes it
//! once the order is done; the edge reads them all whenever it rebuilds its zones. Kept in
//! the store so that a restart mid-validation keeps answering, and so that every node on a
//! shared database answers the same.

use crate::{now_rfc3339, Store, StoreError};

/// One pending challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsChallenge {
    /// Where the TXT record is answered, lower-case without a final dot: a reserved domain's
    /// `acme_challenge_cname_target`, or `_acme-challenge.<agent ingress domain>`.
    pub name: String,
    /// The TXT value the CA expects (the key authorization's digest).
    pub value: String,
    /// When it was added (RFC 3339), so that a job can sweep challenges it forgot.
    pub created_at: String,
}

/// The form names are stored in, so that `X.Example.` and `x.example` are one name.
fn normal(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl Store {
    /// Publishes `value` as a TXT record at `name`. Adding the same pair again changes
    /// nothing; several values at one name are all answered (a wildcard and its base name
    /// validated in one order share `_acme-challenge`). The DNS server serves it once the
    /// edge rebuilds its zones (`EdgeView::refresh_dns`).
    pub async fn add_dns_challenge(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dns_challenges (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT(name, value) DO NOTHING",
        )
        .bind(normal(name))
        .bind(value.to_string())
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Withdraws one value at `name`; true when it was there.
    pub async fn remove_dns_challenge(&self, name: &str, value: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM dns_challenges WHERE name = $1 AND value = $2")
            .bind(normal(name))
            .bind(value.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Withdraws every value at `name` (an order abandoned, a domain deleted); returns how
    /// many there were.
    pub async fn remove_dns_challenges_at(&self, name: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM dns_challenges WHERE name = $1")
            .bind(normal(name))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Every pending challenge, by name then value.
    pub async fn dns_challenges(&self) -> Result<Vec<DnsChallenge>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT name, value, created_at FROM dns_challenges ORDER BY name, value",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, value, created_at)| DnsChallenge {
                name,
                value,
                created_at,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing;

    #[tokio::test]
    async fn challenges_are_added_listed_and_removed_on_both_databases() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let backend = store.backend();
            assert!(store.dns_challenges().await.unwrap().is_empty());
            let at = "abc.acme-challenge.ferry.example";
            store.add_dns_challenge(at, "one").await.unwrap();
            // Another spelling of the same name, and the same pair twice.
            store
                .add_dns_challenge("ABC.Acme-Challenge.ferry.example.", "two")
                .await
                .unwrap();
            store.add_dns_challenge(at, "one").await.unwrap();
            store
                .add_dns_challenge("_acme-challenge.connect.example.test", "three")
                .await
                .unwrap();
            let all = store.dns_challenges().await.unwrap();
            let pairs: Vec<(&str, &str)> = all
                .iter()
                .map(|c| (c.name.as_str(), c.value.as_str()))
                .collect();
            assert_eq!(
                pairs,
                [
                    ("_acme-challenge.connect.example.test", "three"),
                    (at, "one"),
                    (at, "two"),
                ],
                "{backend:?}"
            );
            assert!(all.iter().all(|c| c.created_at.ends_with('Z')));

            assert!(store.remove_dns_challenge(at, "one").await.unwrap());
            assert!(!store.remove_dns_challenge(at, "one").await.unwrap());
            assert_eq!(store.dns_challenges().await.unwrap().len(), 2);
            assert_eq!(
                store
                    .remove_dns_challenges_at("_ACME-challenge.connect.example.test.")
                    .await
                    .unwrap(),
                1
            );
            let left = store.dns_challenges().await.unwrap();
            assert_eq!(left.len(), 1, "{backend:?}");
            assert_eq!(left[0].value, "two");
        }
    }
}
