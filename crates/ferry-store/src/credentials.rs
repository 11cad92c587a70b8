use ferry_types::{ResourceId, Secret};
use sqlx::Row;

use crate::secret::{self, TokenError};
use crate::{now_rfc3339, Store, StoreError};

/// An authtoken as the control plane and the edge see it; the secret itself is never stored.
#[derive(Clone, Debug)]
pub struct Credential {
    pub id: ResourceId,
    pub description: String,
    pub metadata: String,
    /// `bind:` rules; empty means unrestricted.
    pub acl: Vec<String>,
    pub owner_id: String,
    pub created_at: String,
}

#[derive(Clone, Debug, Default)]
pub struct NewCredential {
    pub description: String,
    pub metadata: String,
    pub acl: Vec<String>,
    pub owner_id: String,
}

impl Store {
    /// Creates an authtoken and returns it with its plaintext token, which exists only here.
    pub async fn create_credential(
        &self,
        new: NewCredential,
    ) -> Result<(Credential, Secret), StoreError> {
        let id = ResourceId::generate("cr");
        let issued = secret::issue(&id);
        let created_at = now_rfc3339();
        let acl = serde_json::to_string(&new.acl).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO credentials (id, secret_hash, description, metadata, acl, owner_id, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.as_str())
        .bind(&issued.hash)
        .bind(&new.description)
        .bind(&new.metadata)
        .bind(&acl)
        .bind(&new.owner_id)
        .bind(&created_at)
        .execute(&self.pool)
        .await?;
        Ok((
            Credential {
                id,
                description: new.description,
                metadata: new.metadata,
                acl: new.acl,
                owner_id: new.owner_id,
                created_at,
            },
            issued.token,
        ))
    }

    /// Finds the credential an authtoken belongs to. `Ok(Err(_))` when the token is not even
    /// shaped like one; `Ok(Ok(None))` when it is shaped right but unknown or wrong.
    pub async fn verify_authtoken(
        &self,
        token: &str,
    ) -> Result<Result<Option<Credential>, TokenError>, StoreError> {
        let (body, secret) = match secret::split(token) {
            Ok(parts) => parts,
            Err(e) => return Ok(Err(e)),
        };
        let id = format!("cr_{body}");
        let row = sqlx::query(
            "SELECT id, secret_hash, description, metadata, acl, owner_id, created_at
             FROM credentials WHERE id = ?",
        )
        .bind(&id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            // Hash anyway so that unknown IDs cost the same time as wrong secrets.
            let _ = secret::matches(secret, &[0u8; 32]);
            return Ok(Ok(None));
        };
        let stored: Vec<u8> = row.try_get("secret_hash")?;
        if !secret::matches(secret, &stored) {
            return Ok(Ok(None));
        }
        Ok(Ok(Some(credential_from_row(&row)?)))
    }
}

fn credential_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Credential, StoreError> {
    let id: String = row.try_get("id")?;
    let acl_json: String = row.try_get("acl")?;
    let acl = serde_json::from_str(&acl_json).map_err(|e| StoreError::Corrupt {
        id: id.clone(),
        why: format!("acl is not a JSON list of strings: {e}"),
    })?;
    Ok(Credential {
        id: ResourceId::parse(&id, "cr").map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            why: e.to_string(),
        })?,
        description: row.try_get("description")?,
        metadata: row.try_get("metadata")?,
        acl,
        owner_id: row.try_get("owner_id")?,
        created_at: row.try_get("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_verify_across_reopen_and_wrong_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.db");
        let store = Store::open_sqlite(&path).await.unwrap();
        let (cred, token) = store
            .create_credential(NewCredential {
                acl: vec!["bind:*.example.test".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        drop(store);
        let store = Store::open_sqlite(&path).await.unwrap();
        let found = store
            .verify_authtoken(token.expose())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(found.id, cred.id);
        assert_eq!(found.acl, vec!["bind:*.example.test".to_string()]);
        let wrong = format!("{}_nope", cred.id.body());
        assert!(store
            .verify_authtoken(&wrong)
            .await
            .unwrap()
            .unwrap()
            .is_none());
        assert!(store.verify_authtoken("garbage").await.unwrap().is_err());
    }
}
