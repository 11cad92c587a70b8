//! Authtokens (ngrok's "credentials"): the agent presents one, the edge checks it here.

use ferry_types::{ResourceId, Secret};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::page::json_column;
use crate::secret::{self, TokenError};
use crate::{now_rfc3339, Listed, Page, Store, StoreError};

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

const COLUMNS: &str = "id, description, metadata, acl, owner_id, created_at";

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
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(issued.hash.clone())
        .bind(new.description.clone())
        .bind(new.metadata.clone())
        .bind(acl)
        .bind(new.owner_id.clone())
        .bind(created_at.clone())
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

    pub async fn credential(&self, id: &str) -> Result<Option<Credential>, StoreError> {
        self.get_row("credentials", COLUMNS, id, decode).await
    }

    pub async fn list_credentials(&self, page: &Page) -> Result<Listed<Credential>, StoreError> {
        self.list_page("credentials", COLUMNS, page, decode).await
    }

    /// The IDs of the authtokens `owner_id` owns (a bot's, when it is deactivated).
    pub async fn credentials_owned_by(&self, owner_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM credentials WHERE owner_id = $1")
                .bind(owner_id.to_string())
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Writes the changeable fields of `c` back.
    pub async fn update_credential(&self, c: &Credential) -> Result<(), StoreError> {
        let acl = serde_json::to_string(&c.acl).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "UPDATE credentials SET description = $1, metadata = $2, acl = $3 WHERE id = $4",
        )
        .bind(c.description.clone())
        .bind(c.metadata.clone())
        .bind(acl)
        .bind(c.id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_credential(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_row("credentials", id).await
    }

    /// Finds the credential an authtoken belongs to. `Ok(Err(_))` when the token is not even
    /// shaped like one; `Ok(Ok(None))` when it is shaped right but unknown, wrong, or owned by
    /// a deactivated bot user.
    pub async fn verify_authtoken(
        &self,
        token: &str,
    ) -> Result<Result<Option<Credential>, TokenError>, StoreError> {
        let (body, secret) = match secret::split(token) {
            Ok(parts) => parts,
            Err(e) => return Ok(Err(e)),
        };
        let id = format!("cr_{body}");
        let row = sqlx::query(&format!(
            "SELECT secret_hash, {COLUMNS} FROM credentials WHERE id = $1"
        ))
        .bind(id)
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
        let credential = decode(&row)?;
        if credential.owner_id.starts_with("bot_") {
            match self.bot_user(&credential.owner_id).await? {
                Some(bot) if !bot.active => return Ok(Ok(None)),
                _ => {}
            }
        }
        Ok(Ok(Some(credential)))
    }
}

fn decode(row: &AnyRow) -> Result<Credential, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(Credential {
        acl: json_column(row, &id, "acl")?,
        id: ResourceId::parse(&id, "cr").map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            why: e.to_string(),
        })?,
        description: row.try_get("description")?,
        metadata: row.try_get("metadata")?,
        owner_id: row.try_get("owner_id")?,
        created_at: row.try_get("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

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

    #[tokio::test]
    async fn deactivated_bot_tokens_and_deleted_tokens_stop_verifying_on_both_databases() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let bot = store.create_bot_user("b", true).await.unwrap();
            let (cred, token) = store
                .create_credential(NewCredential {
                    owner_id: bot.id.to_string(),
                    ..Default::default()
                })
                .await
                .unwrap();
            let ok = store
                .verify_authtoken(token.expose())
                .await
                .unwrap()
                .unwrap();
            assert!(ok.is_some(), "{:?}", store.backend());
            let mut off = bot.clone();
            off.active = false;
            store.update_bot_user(&off).await.unwrap();
            let gone = store
                .verify_authtoken(token.expose())
                .await
                .unwrap()
                .unwrap();
            assert!(gone.is_none(), "{:?}", store.backend());
            assert_eq!(
                store.credentials_owned_by(bot.id.as_str()).await.unwrap(),
                vec![cred.id.to_string()]
            );
            assert!(store.delete_credential(cred.id.as_str()).await.unwrap());
            assert!(!store.delete_credential(cred.id.as_str()).await.unwrap());
        }
    }
}
