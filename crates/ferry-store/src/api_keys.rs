//! API keys for the REST API, shaped like authtokens (`FIRSTPART_SECONDPART`).

use ferry_types::Secret;

use crate::record::record;
use crate::secret::TokenError;
use crate::{Store, StoreError};

record! {
    /// ngrok's `ApiKey`: a bearer key for the REST API. Its secret is stored as a hash and is
    /// shown once, in the create response.
    pub struct ApiKey, new NewApiKey {
        table: "api_keys",
        prefix: "ak",
        mutable: [description, metadata],
        unique: None,
    }
    columns {
        /// ngrok's `description`: the user's note, at most 255 bytes (the control plane
        /// checks).
        pub description: String,
        /// ngrok's `metadata`: the user's own data (often JSON), at most 4096 bytes; Ferry
        /// never reads it.
        pub metadata: String,
        /// ngrok's `owner_id`: a bot user's `bot_` ID, or empty for the operator's own account.
        pub owner_id: String,
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
        self.create_with_secret(NewApiKey {
            description: description.into(),
            metadata: metadata.into(),
            owner_id: owner_id.into(),
        })
        .await
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
