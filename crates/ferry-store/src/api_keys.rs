//! API keys for the REST API, shaped like authtokens (`FIRSTPART_SECONDPART`).

use ferry_types::{ResourceId, Secret};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::secret::{self, TokenError};
use crate::{now_rfc3339, Listed, Page, Store, StoreError};

#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: ResourceId,
    pub description: String,
    pub metadata: String,
    pub owner_id: String,
    pub created_at: String,
}

const COLUMNS: &str = "id, description, metadata, owner_id, created_at";

impl Store {
    /// Creates an API key for the REST API and returns its plaintext token, shown only once.
    pub async fn create_api_key(
        &self,
        description: &str,
        metadata: &str,
        owner_id: &str,
    ) -> Result<(ApiKey, Secret), StoreError> {
        let id = ResourceId::generate("ak");
        let issued = secret::issue(&id);
        let created_at = now_rfc3339();
        sqlx::query(
            "INSERT INTO api_keys (id, secret_hash, description, metadata, owner_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(issued.hash.clone())
        .bind(description.to_string())
        .bind(metadata.to_string())
        .bind(owner_id.to_string())
        .bind(created_at.clone())
        .execute(&self.pool)
        .await?;
        Ok((
            ApiKey {
                id,
                description: description.into(),
                metadata: metadata.into(),
                owner_id: owner_id.into(),
                created_at,
            },
            issued.token,
        ))
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        self.get_row("api_keys", COLUMNS, id, decode).await
    }

    pub async fn list_api_keys(&self, page: &Page) -> Result<Listed<ApiKey>, StoreError> {
        self.list_page("api_keys", COLUMNS, page, decode).await
    }

    pub async fn update_api_key(&self, k: &ApiKey) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_keys SET description = $1, metadata = $2 WHERE id = $3")
            .bind(k.description.clone())
            .bind(k.metadata.clone())
            .bind(k.id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_api_key(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_row("api_keys", id).await
    }

    /// The API key a bearer token belongs to, compared in constant time. `Ok(Err(_))` when
    /// the token is not shaped like one; `Ok(Ok(None))` when unknown or wrong.
    pub async fn verify_api_key(
        &self,
        token: &str,
    ) -> Result<Result<Option<ApiKey>, TokenError>, StoreError> {
        let (body, secret) = match secret::split(token) {
            Ok(parts) => parts,
            Err(e) => return Ok(Err(e)),
        };
        let row = sqlx::query(&format!(
            "SELECT secret_hash, {COLUMNS} FROM api_keys WHERE id = $1"
        ))
        .bind(format!("ak_{body}"))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            let _ = secret::matches(secret, &[0u8; 32]);
            return Ok(Ok(None));
        };
        let stored: Vec<u8> = row.try_get("secret_hash")?;
        if !secret::matches(secret, &stored) {
            return Ok(Ok(None));
        }
        Ok(Ok(Some(decode(&row)?)))
    }
}

fn decode(row: &AnyRow) -> Result<ApiKey, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(ApiKey {
        id: ResourceId::parse(&id, "ak").map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            why: e.to_string(),
        })?,
        description: row.try_get("description")?,
        metadata: row.try_get("metadata")?,
        owner_id: row.try_get("owner_id")?,
        created_at: row.try_get("created_at")?,
    })
}
