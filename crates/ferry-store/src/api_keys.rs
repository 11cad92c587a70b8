//! API keys for the REST API, shaped like authtokens (`FIRSTPART_SECONDPART`).

use ferry_types::{ResourceId, Secret};

use crate::record::{Cell, Fields, Record, Table};
use crate::secret::TokenError;
use crate::{now_rfc3339, Store, StoreError};

#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: ResourceId,
    pub description: String,
    pub metadata: String,
    pub owner_id: String,
    pub created_at: String,
}

impl Record for ApiKey {
    const TABLE: Table = Table {
        name: "api_keys",
        prefix: "ak",
        columns: &["id", "description", "metadata", "owner_id", "created_at"],
        mutable: &["description", "metadata"],
    };

    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn cells(&self) -> Vec<Cell> {
        vec![
            (&self.id).into(),
            (&self.description).into(),
            (&self.metadata).into(),
            (&self.owner_id).into(),
            (&self.created_at).into(),
        ]
    }

    fn decode(f: &Fields<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: f.id(),
            description: f.text("description")?,
            metadata: f.text("metadata")?,
            owner_id: f.text("owner_id")?,
            created_at: f.text("created_at")?,
        })
    }
}

impl Store {
    /// Creates an API key for the REST API and returns its plaintext token, shown only once.
    pub async fn create_api_key(
        &self,
        description: &str,
        metadata: &str,
        owner_id: &str,
    ) -> Result<(ApiKey, Secret), StoreError> {
        let key = ApiKey {
            id: ResourceId::generate(ApiKey::TABLE.prefix),
            description: description.into(),
            metadata: metadata.into(),
            owner_id: owner_id.into(),
            created_at: now_rfc3339(),
        };
        let token = self.insert_with_secret(&key).await?;
        Ok((key, token))
    }

    /// The API key a bearer token belongs to. `Ok(Err(_))` when the token is not shaped like
    /// one; `Ok(Ok(None))` when unknown or wrong.
    pub async fn verify_api_key(
        &self,
        token: &str,
    ) -> Result<Result<Option<ApiKey>, TokenError>, StoreError> {
        self.verify_secret(token).await
    }
}
