use ferry_types::{ResourceId, Secret};

use crate::secret;
use crate::{now_rfc3339, Store, StoreError};

impl Store {
    /// Creates an API key for the REST API and returns its plaintext token, shown only once.
    pub async fn create_api_key(
        &self,
        description: &str,
    ) -> Result<(ResourceId, Secret), StoreError> {
        let id = ResourceId::generate("ak");
        let issued = secret::issue(&id);
        sqlx::query(
            "INSERT INTO api_keys (id, secret_hash, description, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(id.as_str())
        .bind(&issued.hash)
        .bind(description)
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok((id, issued.token))
    }
}
