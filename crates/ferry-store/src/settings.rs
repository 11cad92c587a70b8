use crate::sealed::Sealed;
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

impl Store {
    /// A secret kept in the settings table (an ACME account's key), unsealed, or `None` when
    /// none is stored.
    pub async fn secret_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.setting(key).await? {
            Some(sealed) => self.unseal(key, &Sealed::from_stored(sealed)).map(Some),
            None => Ok(None),
        }
    }

    /// Seals and stores `plain` under `key` unless a value is stored already, and returns the
    /// value kept, unsealed: two nodes racing agree on the first.
    pub async fn secret_setting_or_insert(
        &self,
        key: &str,
        plain: &str,
    ) -> Result<String, StoreError> {
        let sealed = self.seal(plain)?;
        let kept = self.setting_or_insert(key, sealed.stored()).await?;
        self.unseal(key, &Sealed::from_stored(kept))
    }
}
