use crate::{Store, StoreError};

impl Store {
    /// The value stored under `key` in the `settings` table, shared by every node on the same
    /// database (the bind-token key), or `None` when no node has set it.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut found = self
            .column("SELECT value FROM settings WHERE key = $1", &[key])
            .await?;
        Ok(found.pop())
    }

    /// Stores `value` unless the key already has one, and returns whichever value is kept, so
    /// that two nodes racing to create a node secret agree on one.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT(key) DO NOTHING",
        )
        .bind(key.to_string())
        .bind(value.to_string())
        .execute(&self.pool)
        .await?;
        Ok(self
            .setting(key)
            .await?
            .unwrap_or_else(|| value.to_string()))
    }
}
