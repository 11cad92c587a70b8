//! Authtokens (ngrok's "credentials"): the agent presents one, the edge checks it here.

use ferry_types::Secret;

use crate::record::record;
use crate::secret::TokenError;
use crate::{BotUser, Store, StoreError};

record! {
    /// An authtoken as the control plane and the edge see it; the secret itself is never
    /// stored.
    pub struct Credential, new NewCredential {
        table: "credentials",
        prefix: "cr",
        mutable: [description, metadata, acl],
        unique: None,
    }
    columns {
        /// ngrok's `description`: the user's note, at most 255 bytes (the control plane
        /// checks).
        pub description: String,
        /// ngrok's `metadata`: the user's own data (often JSON), at most 4096 bytes; Ferry
        /// never reads it.
        pub metadata: String,
        /// `bind:` rules; empty means unrestricted.
        pub acl: Vec<String>,
        /// ngrok's `owner_id`: a bot user's `bot_` ID, whose deactivation revokes the token,
        /// or empty for the operator's own account.
        pub owner_id: String,
    }
}

impl Store {
    /// Creates an authtoken and returns it with its plaintext token, which exists only here.
    pub async fn create_credential(
        &self,
        new: NewCredential,
    ) -> Result<(Credential, Secret), StoreError> {
        self.create_with_secret(new).await
    }

    /// The IDs of the authtokens `owner_id` owns (a bot's, when it is deactivated).
    pub async fn credentials_owned_by(&self, owner_id: &str) -> Result<Vec<String>, StoreError> {
        self.column(
            "SELECT id FROM credentials WHERE owner_id = $1",
            &[owner_id],
        )
        .await
    }

    /// Finds the credential an authtoken belongs to. `Ok(Err(_))` when the token is not even
    /// shaped like one; `Ok(Ok(None))` when it is shaped right but unknown, wrong, or owned by
    /// a deactivated bot user.
    pub async fn verify_authtoken(
        &self,
        token: &str,
    ) -> Result<Result<Option<Credential>, TokenError>, StoreError> {
        let credential = match self.verify_secret::<Credential>(token).await? {
            Ok(Some(c)) => c,
            other => return Ok(other),
        };
        if credential.owner_id.starts_with("bot_") {
            match self.get::<BotUser>(&credential.owner_id).await? {
                Some(bot) if !bot.active => return Ok(Ok(None)),
                _ => {}
            }
        }
        Ok(Ok(Some(credential)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    /// The credential `token` verifies as, for a token shaped like one.
    async fn verified(store: &Store, token: &str) -> Option<Credential> {
        store.verify_authtoken(token).await.unwrap().unwrap()
    }

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
        let found = verified(&store, token.expose()).await.unwrap();
        assert_eq!(found.id, cred.id);
        assert_eq!(found.acl, vec!["bind:*.example.test".to_string()]);
        let wrong = format!("{}_nope", cred.id.body());
        assert!(verified(&store, &wrong).await.is_none());
        assert!(store.verify_authtoken("garbage").await.unwrap().is_err());
    }

    #[tokio::test]
    async fn deactivated_bot_tokens_and_deleted_tokens_stop_verifying_on_both_databases() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let bot = store
                .create::<BotUser>(crate::NewBotUser {
                    name: "b".into(),
                    active: true,
                })
                .await
                .unwrap();
            let (cred, token) = store
                .create_credential(NewCredential {
                    owner_id: bot.id.to_string(),
                    ..Default::default()
                })
                .await
                .unwrap();
            let ok = verified(&store, token.expose()).await;
            assert!(ok.is_some(), "{:?}", store.backend());
            let mut off = bot.clone();
            off.active = false;
            store.update(&off).await.unwrap();
            let gone = verified(&store, token.expose()).await;
            assert!(gone.is_none(), "{:?}", store.backend());
            assert_eq!(
                store.credentials_owned_by(bot.id.as_str()).await.unwrap(),
                vec![cred.id.to_string()]
            );
            assert!(store.delete::<Credential>(cred.id.as_str()).await.unwrap());
            assert!(!store.delete::<Credential>(cred.id.as_str()).await.unwrap());
        }
    }
}
