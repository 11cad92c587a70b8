//! `ferry edge backup --data-dir DIR --out FILE`: a consistent copy of the SQLite store of a
//! running edge (`ferry_store::backup_sqlite`), and what else a restore needs.

use std::path::Path;

use ferry_store::{StoreError, KEY_FILE};

use super::usage;

/// Copies `data_dir`'s store to `out`; refuses a PostgreSQL store (`database_url`), which
/// pg_dump backs up, and an existing `out`. `key_file` is `--secret-key-file`, if given.
pub async fn run(
    data_dir: &Path,
    database_url: Option<&str>,
    key_file: Option<&Path>,
    out: &Path,
) -> anyhow::Result<()> {
    if database_url.is_some() {
        return Err(usage(StoreError::BackupNeedsPgDump.to_string()));
    }
    let db = data_dir.join("ferry.db");
    match ferry_store::backup_sqlite(&db, out).await {
        Ok(()) => {}
        Err(e @ (StoreError::BackupExists(_) | StoreError::NoStore(_))) => {
            return Err(usage(e.to_string()))
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("backing up {}", db.display()))),
    }
    println!("backed up {} to {}", db.display(), out.display());
    // The store's private keys are sealed with this key: a copy without it restores every
    // row but the certificates' keys.
    if std::env::var_os("FERRY_SECRET_KEY").is_none() && key_file.is_none() {
        eprintln!(
            "keep {} with the backup: it seals the store's private keys (unless FERRY_SECRET_KEY or --secret-key-file gives the key)",
            data_dir.join(KEY_FILE).display()
        );
    }
    Ok(())
}
