//! `ferry edge backup`: a consistent copy of a live SQLite store, taken without stopping the
//! edge. `VACUUM INTO` reads the database in one read transaction, so the copy holds every
//! write committed before it began and none half-done, while the edge goes on writing (WAL
//! lets readers and the writer proceed together). The copy is a plain database file, without
//! a `-wal`, ready to be put in place of `ferry.db`.

use std::path::Path;

use sqlx::{AnyConnection, Connection, Executor};

use crate::StoreError;

/// Copies the SQLite database at `db` into the new file `out`, synced to disk before this
/// returns. Opens `db` without creating it and without running migrations: a `ferry` binary
/// newer than the running edge must not migrate the live store under it.
pub async fn backup_sqlite(db: &Path, out: &Path) -> Result<(), StoreError> {
    if !db.is_file() {
        return Err(StoreError::NoStore(db.to_path_buf()));
    }
    if out.exists() {
        return Err(StoreError::BackupExists(out.to_path_buf()));
    }
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&format!("sqlite://{}?mode=rw", db.display())).await?;
    // The edge may hold the write lock for a moment; VACUUM INTO waits as its queries do.
    conn.execute("PRAGMA busy_timeout=5000;").await?;
    sqlx::query("VACUUM INTO $1")
        .bind(out.display().to_string())
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    std::fs::File::open(out)
        .and_then(|f| f.sync_all())
        .map_err(sqlx::Error::Io)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::Store;

    #[tokio::test]
    async fn a_backup_opens_as_a_store_with_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ferry.db");
        let store = Store::open_sqlite(&db).await.unwrap();
        let (key, before) = store.create_api_key("before", "", "").await.unwrap();
        let out = dir.path().join("copy.db");
        backup_sqlite(&db, &out).await.unwrap();
        // The live store stays usable while and after the copy is taken.
        let (_, after) = store.create_api_key("after", "", "").await.unwrap();
        let restored = Store::open_sqlite(&out).await.unwrap();
        let found = restored.verify_api_key(before.expose()).await.unwrap();
        assert_eq!(found.unwrap().map(|k| k.id), Some(key.id));
        let later = restored.verify_api_key(after.expose()).await.unwrap();
        assert!(later.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_backup_never_overwrites_and_needs_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ferry.db");
        let out = dir.path().join("copy.db");
        let missing = backup_sqlite(&db, &out).await.unwrap_err();
        assert!(matches!(missing, StoreError::NoStore(_)), "{missing}");
        assert!(!db.exists(), "a backup must not create the store");
        Store::open_sqlite(&db).await.unwrap();
        std::fs::write(&out, "keep me").unwrap();
        let exists = backup_sqlite(&db, &out).await.unwrap_err();
        assert!(matches!(exists, StoreError::BackupExists(_)), "{exists}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    }

    /// A schema version this build does not know is refused by name, and the database is
    /// left as it was.
    async fn newer_schema_is_refused(url: &str) {
        Store::open(url).await.unwrap().pool.close().await;
        let mut conn = AnyConnection::connect(url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, $1, 0)",
        )
        .bind(vec![0u8; 48])
        .execute(&mut conn)
        .await
        .unwrap();
        let err = match Store::open(url).await {
            Ok(_) => panic!("a newer schema was opened"),
            Err(e) => e,
        };
        let msg = err.to_string();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 9999, .. }),
            "{msg}"
        );
        assert!(
            msg.contains("9999") && msg.contains("upgrade Ferry"),
            "{msg}"
        );
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(versions.last(), Some(&9999));
    }

    #[tokio::test]
    async fn newer_schema_is_refused_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ferry.db");
        std::fs::File::create(&db).unwrap();
        newer_schema_is_refused(&format!("sqlite://{}", db.display())).await;
    }

    #[tokio::test]
    async fn newer_schema_is_refused_postgres() {
        newer_schema_is_refused(&crate::testing::fresh_postgres_url().await).await;
    }
}
