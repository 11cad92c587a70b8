//! The dashboard's signed-in browsers. Kept in the store, not in one process's memory, so
//! that a restart signs no one out and a browser sent to any node of a shared database stays
//! signed in. Rows are found by the SHA-256 of the session ID: a copy of the database does
//! not hand out live sessions. The control plane decides what a session is worth (its API
//! key still exists); the store keeps the times and applies the expiry it is given.

use crate::{Sealed, Store, StoreError};

/// A live session, as [`Store::touch_dashboard_session`] finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardSession {
    /// The API key the browser signed in with.
    pub api_key_id: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

/// How long sessions last, in seconds: the control plane's rule, applied by the store's reads.
#[derive(Clone, Copy, Debug)]
pub struct SessionExpiry {
    /// A session unused this long is over.
    pub idle: i64,
    /// A session is over this long after sign-in, however busy.
    pub lifetime: i64,
}

/// `last_seen` is written at most this often (seconds), so that reading pages does not
/// write the database on every request; the idle limit is hours.
const TOUCH_EVERY: i64 = 60;

impl Store {
    /// Records a new session; sessions already over are swept on the way, so the table holds
    /// live ones only.
    pub async fn start_dashboard_session(
        &self,
        id_hash: &str,
        api_key_id: &str,
        csrf: &str,
        now: i64,
        expiry: SessionExpiry,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dashboard_sessions WHERE last_seen <= $1 OR created_at <= $2")
            .bind(now - expiry.idle)
            .bind(now - expiry.lifetime)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO dashboard_sessions (id_hash, api_key_id, csrf, created_at, last_seen) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id_hash.to_string())
        .bind(api_key_id.to_string())
        .bind(csrf.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live session with this hash, marked as used at `now`; a session found over is
    /// deleted and `None`.
    pub async fn touch_dashboard_session(
        &self,
        id_hash: &str,
        now: i64,
        expiry: SessionExpiry,
    ) -> Result<Option<DashboardSession>, StoreError> {
        let row: Option<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT api_key_id, csrf, created_at, last_seen FROM dashboard_sessions \
             WHERE id_hash = $1",
        )
        .bind(id_hash.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some((api_key_id, csrf, created_at, last_seen)) = row else {
            return Ok(None);
        };
        if now - last_seen >= expiry.idle || now - created_at >= expiry.lifetime {
            self.end_dashboard_session(id_hash).await?;
            return Ok(None);
        }
        if now - last_seen >= TOUCH_EVERY {
            sqlx::query("UPDATE dashboard_sessions SET last_seen = $2 WHERE id_hash = $1")
                .bind(id_hash.to_string())
                .bind(now)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(DashboardSession { api_key_id, csrf }))
    }

    /// Ends the session with this hash (sign-out); true when there was one.
    pub async fn end_dashboard_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM dashboard_sessions WHERE id_hash = $1")
            .bind(id_hash.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session signed in with `api_key_id` (the key was deleted); returns how many.
    pub async fn end_dashboard_sessions_of(&self, api_key_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM dashboard_sessions WHERE api_key_id = $1")
            .bind(api_key_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Keeps `secret` (sealed) for the next read of `page` by this session, replacing any
    /// secret still waiting.
    pub async fn show_once(
        &self,
        id_hash: &str,
        page: &str,
        id: &str,
        secret: &str,
    ) -> Result<(), StoreError> {
        let sealed = self.seal(secret)?;
        sqlx::query(
            "UPDATE dashboard_sessions SET shown_page = $2, shown_id = $3, shown_token = $4 \
             WHERE id_hash = $1",
        )
        .bind(id_hash.to_string())
        .bind(page.to_string())
        .bind(id.to_string())
        .bind(sealed.stored().to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The secret waiting for `page` as `(id, secret)`, which is then gone for good: of two
    /// reads at once (two tabs, two nodes), only one gets it.
    pub async fn take_shown(
        &self,
        id_hash: &str,
        page: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT shown_id, shown_token FROM dashboard_sessions \
             WHERE id_hash = $1 AND shown_page = $2 AND shown_token <> ''",
        )
        .bind(id_hash.to_string())
        .bind(page.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, stored)) = row else {
            return Ok(None);
        };
        let taken = sqlx::query(
            "UPDATE dashboard_sessions SET shown_page = '', shown_id = '', shown_token = '' \
             WHERE id_hash = $1 AND shown_token = $2",
        )
        .bind(id_hash.to_string())
        .bind(stored.clone())
        .execute(&self.pool)
        .await?;
        if taken.rows_affected() == 0 {
            return Ok(None);
        }
        let secret = self.unseal(&id, &Sealed::from_stored(stored))?;
        Ok(Some((id, secret)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    const EXPIRY: SessionExpiry = SessionExpiry {
        idle: 100,
        lifetime: 1000,
    };

    #[tokio::test]
    async fn sessions_expire_idle_and_old_and_end_with_their_key_on_both_databases() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let b = store.backend();
            store
                .start_dashboard_session("h1", "ak_1", "c1", 0, EXPIRY)
                .await
                .unwrap();
            let live = store
                .touch_dashboard_session("h1", 99, EXPIRY)
                .await
                .unwrap();
            assert_eq!(
                live,
                Some(DashboardSession {
                    api_key_id: "ak_1".into(),
                    csrf: "c1".into()
                }),
                "{b:?}"
            );
            // Used at 99, so still live at 198; not at 99 + 100.
            assert!(store
                .touch_dashboard_session("h1", 198, EXPIRY)
                .await
                .unwrap()
                .is_some());
            assert_eq!(
                store
                    .touch_dashboard_session("h1", 298, EXPIRY)
                    .await
                    .unwrap(),
                None,
                "{b:?}: idle"
            );
            // Found over, it is gone for good.
            assert_eq!(
                store
                    .touch_dashboard_session("h1", 200, EXPIRY)
                    .await
                    .unwrap(),
                None
            );

            // However busy, over after its lifetime.
            store
                .start_dashboard_session("h2", "ak_1", "c2", 1000, EXPIRY)
                .await
                .unwrap();
            for t in (1060..2000).step_by(60) {
                assert!(store
                    .touch_dashboard_session("h2", t, EXPIRY)
                    .await
                    .unwrap()
                    .is_some());
            }
            assert_eq!(
                store
                    .touch_dashboard_session("h2", 2000, EXPIRY)
                    .await
                    .unwrap(),
                None,
                "{b:?}: lifetime"
            );

            // Sign-out and a deleted key.
            for (h, key) in [("h3", "ak_1"), ("h4", "ak_1"), ("h5", "ak_2")] {
                store
                    .start_dashboard_session(h, key, "c", 3000, EXPIRY)
                    .await
                    .unwrap();
            }
            assert!(store.end_dashboard_session("h3").await.unwrap());
            assert!(!store.end_dashboard_session("h3").await.unwrap());
            assert_eq!(store.end_dashboard_sessions_of("ak_1").await.unwrap(), 1);
            assert!(store
                .touch_dashboard_session("h4", 3001, EXPIRY)
                .await
                .unwrap()
                .is_none());
            assert!(store
                .touch_dashboard_session("h5", 3001, EXPIRY)
                .await
                .unwrap()
                .is_some());
        }
    }

    #[tokio::test]
    async fn a_secret_is_kept_sealed_and_taken_once_by_its_page_on_both_databases() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let b = store.backend();
            store
                .start_dashboard_session("h", "ak_1", "c", 0, EXPIRY)
                .await
                .unwrap();
            store
                .show_once("h", "authtokens", "cr_1", "the-token")
                .await
                .unwrap();
            let stored: String = sqlx::query_scalar("SELECT shown_token FROM dashboard_sessions")
                .fetch_one(&store.pool)
                .await
                .unwrap();
            assert!(!stored.contains("the-token"), "{b:?}: sealed");
            assert_eq!(store.take_shown("h", "api_keys").await.unwrap(), None);
            assert_eq!(
                store.take_shown("h", "authtokens").await.unwrap(),
                Some(("cr_1".into(), "the-token".into())),
                "{b:?}"
            );
            assert_eq!(store.take_shown("h", "authtokens").await.unwrap(), None);
        }
    }
}
