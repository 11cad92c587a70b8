//! Store failures, sorted by what an operator can do about them: a full disk needs space, a
//! read-only database needs write access, an unreachable one needs the database back. Only
//! the rest is a bug to report, so only the rest may say "internal error".

use std::fmt;
use std::io;

use ferry_types::ErrorCode;
use sqlx::error::DatabaseError;
use sqlx::migrate::MigrateError;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;

use crate::Backend;

/// Why a store operation failed. The database's own failures carry a [`DbCause`] for the
/// operator; the rest are the caller's to answer (a duplicate) or a bug to report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A query failed. The message carries the database's words after the cause because many
    /// callers log or answer this error alone, without its chain; a printer that walks the
    /// chain should skip a source whose text the message already holds.
    #[error("{cause}: {source}")]
    Db {
        /// What the operator can do about it, and so the error code an API client sees.
        cause: DbCause,
        /// The database's own error, with its code for the log.
        #[source]
        source: DbError,
    },
    /// Applying the schema failed, at start-up.
    #[error("{cause} while migrating the schema: {source}")]
    Migration {
        /// As for [`StoreError::Db`]: a read-only standby, for one, fails here first.
        cause: DbCause,
        /// The database's answer to the migration's statement.
        #[source]
        source: DbError,
    },
    /// The schema history in the database is not this build's: an older binary on a newer
    /// database, or an edited migration.
    #[error("the database's schema history does not match this build: {0}")]
    Migrate(#[source] MigrateError),
    /// The database was migrated by a newer Ferry: it records a schema version this build
    /// does not know. Refused before any statement that could change it, since running an
    /// older binary's queries on a newer schema could lose data.
    #[error("the database's schema is version {found}, from a newer Ferry; this build knows versions up to {known}: upgrade Ferry (or restore a backup taken before the upgrade)")]
    NewerSchema {
        /// The newest migration the database records.
        found: i64,
        /// The newest migration this build carries.
        known: i64,
    },
    /// `ferry edge backup` was pointed at a PostgreSQL store, which its own tools back up.
    #[error("the store is a PostgreSQL database: back it up with pg_dump (ferry edge backup copies the SQLite store of a data dir)")]
    BackupNeedsPgDump,
    /// The backup's destination already exists; a backup never overwrites a file.
    #[error("{0} already exists: a backup never overwrites a file; choose another --out")]
    BackupExists(std::path::PathBuf),
    /// The data dir holds no store to back up.
    #[error("no SQLite store at {0}: is --data-dir the edge's data dir?")]
    NoStore(std::path::PathBuf),
    /// A row read back does not decode: edited by hand, or written by a build that stores a
    /// column differently. Every read of the row, or of a page that holds it, fails until the
    /// row is fixed or deleted.
    #[error("stored row {id} is corrupt: {why}")]
    Corrupt {
        /// The row's `id` as stored (itself the defect when it lacks the table's prefix),
        /// for the operator to find the row.
        id: String,
        /// Which column is wrong and how, in words.
        why: String,
    },
    /// A create met a value another row already holds in the table's unique column (a domain
    /// reserved twice): the client's mistake, answered 409, not the database's failure.
    #[error("{what} {value:?} already exists")]
    Duplicate {
        /// The resource's name for people, from [`crate::Unique::what`].
        what: &'static str,
        /// The clashing value as the new row would have stored it (a domain lower-cased).
        value: String,
    },
    /// The URL given to [`crate::Store::open`] (`--database-url`) is neither PostgreSQL's nor
    /// SQLite's; nothing was connected.
    #[error("unsupported database URL {0:?}: expected postgres://... or sqlite://...")]
    UnsupportedUrl(String),
    /// A private key was to be sealed or unsealed by a store given no sealing key: a bug in
    /// the caller, which must call [`crate::Store::with_sealing_key`] at start-up.
    #[error("the store has no sealing key for private keys")]
    NoSealingKey,
    /// A stored private key does not open with this store's sealing key: the data folder's
    /// `secret.key` was replaced, or `FERRY_SECRET_KEY` differs from the one it was sealed
    /// with.
    #[error("the private key of {id} does not open with this sealing key (was secret.key replaced, or FERRY_SECRET_KEY changed?)")]
    Unsealing {
        /// The row whose key does not open.
        id: String,
    },
}

impl StoreError {
    /// What an operator can do about a database failure; `None` for failures that are not the
    /// database's (a duplicate name, a corrupt row, a bad URL).
    pub fn cause(&self) -> Option<DbCause> {
        match self {
            Self::Db { cause, .. } | Self::Migration { cause, .. } => Some(*cause),
            _ => None,
        }
    }

    /// The database's own error, for logs that want its code.
    pub fn db_error(&self) -> Option<&DbError> {
        match self {
            Self::Db { source, .. } | Self::Migration { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let source = DbError(e);
        Self::Db {
            cause: source.cause(),
            source,
        }
    }
}

impl From<MigrateError> for StoreError {
    fn from(e: MigrateError) -> Self {
        match e {
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => {
                let source = DbError(e);
                Self::Migration {
                    cause: source.cause(),
                    source,
                }
            }
            other => Self::Migrate(other),
        }
    }
}

/// What an operator can do about a failed database operation. Each has its own error code, so
/// that a client (or a person searching the code) learns whether to wait, make room, or report
/// a bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DbCause {
    /// No room for the write: SQLITE_FULL, PostgreSQL's `disk_full` (53100), ENOSPC or a quota.
    DiskFull,
    /// The database takes no writes: SQLITE_READONLY, a read-only mount or file, PostgreSQL's
    /// `read_only_sql_transaction` (25006, a standby).
    ReadOnly,
    /// The database cannot be reached or opened now: the pool timed out or closed, the
    /// connection failed or was cut (08xxx, 57P01-57P03), SQLITE_CANTOPEN, SQLITE_IOERR,
    /// SQLITE_BUSY beyond the busy timeout.
    Unavailable,
    /// Anything else: a bug or corruption, whose details belong in the log.
    Other,
}

impl DbCause {
    /// The catalogue code an API answer and the log carry (docs/ERRORS.md); `Other` is the
    /// plain internal error, the only one that asks for a bug report.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::DiskFull => ErrorCode::StoreDiskFull,
            Self::ReadOnly => ErrorCode::StoreReadOnly,
            Self::Unavailable => ErrorCode::StoreUnavailable,
            Self::Other => ErrorCode::Internal,
        }
    }
}

impl fmt::Display for DbCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DiskFull => "the store's disk is full",
            Self::ReadOnly => "the store is read-only",
            Self::Unavailable => "the store is unavailable",
            Self::Other => "the store failed",
        })
    }
}

/// The database's error, kept whole ([`DbError::sqlx`]) but shown in the database's own words
/// only. sqlx's errors repeat their source in their message ("error returned from database:
/// (code: 13) database or disk is full", then the same again as the source), so a printed
/// chain would say everything two or three times; this ends the chain with the innermost
/// words, said once.
#[derive(Debug)]
pub struct DbError(sqlx::Error);

impl DbError {
    /// sqlx's error whole, for a caller that needs more than the database's words (its kind,
    /// a unique violation).
    pub fn sqlx(&self) -> &sqlx::Error {
        &self.0
    }

    /// SQLite's extended result code or PostgreSQL's SQLSTATE, when the database answered.
    pub fn code(&self) -> Option<String> {
        self.0
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.into_owned())
    }

    /// Which database answered, when one did; advice differs between a file and a server.
    pub fn backend(&self) -> Option<Backend> {
        let d = self.0.as_database_error()?;
        if d.try_downcast_ref::<SqliteError>().is_some() {
            Some(Backend::Sqlite)
        } else if d.try_downcast_ref::<PgDatabaseError>().is_some() {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    fn cause(&self) -> DbCause {
        match &self.0 {
            sqlx::Error::Database(d) => database_cause(d.as_ref()),
            sqlx::Error::Io(e) => io_cause(e),
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => DbCause::Unavailable,
            _ => DbCause::Other,
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            sqlx::Error::Database(d) => f.write_str(d.message()),
            sqlx::Error::Io(e) => e.fmt(f),
            other => other.fmt(f),
        }
    }
}

/// No `source()`: the message already holds everything below (see the type's comment).
impl std::error::Error for DbError {}

fn database_cause(d: &dyn DatabaseError) -> DbCause {
    if let Some(code) = d
        .try_downcast_ref::<SqliteError>()
        .and_then(|e| e.code())
        .and_then(|c| c.parse::<i32>().ok())
    {
        return sqlite_cause(code);
    }
    match d.try_downcast_ref::<PgDatabaseError>() {
        Some(e) => postgres_cause(e.code()),
        None => DbCause::Other,
    }
}

/// SQLite reports the extended result code; its low byte is the primary one
/// (<https://www.sqlite.org/rescode.html>).
fn sqlite_cause(extended: i32) -> DbCause {
    const BUSY: i32 = 5;
    const READONLY: i32 = 8;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    match extended & 0xff {
        FULL => DbCause::DiskFull,
        READONLY => DbCause::ReadOnly,
        BUSY | IOERR | CANTOPEN => DbCause::Unavailable,
        _ => DbCause::Other,
    }
}

/// By SQLSTATE (<https://www.postgresql.org/docs/current/errcodes-appendix.html>).
fn postgres_cause(sqlstate: &str) -> DbCause {
    match sqlstate {
        "53100" => DbCause::DiskFull,
        "25006" => DbCause::ReadOnly,
        // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections, and a
        // database that no longer exists.
        "57P01" | "57P02" | "57P03" | "53300" | "3D000" => DbCause::Unavailable,
        s if s.starts_with("08") => DbCause::Unavailable,
        _ => DbCause::Other,
    }
}

fn io_cause(e: &io::Error) -> DbCause {
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => DbCause::DiskFull,
        io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied => DbCause::ReadOnly,
        _ => DbCause::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, store_with};
    use crate::Store;
    use sqlx::{Connection, Executor};

    fn assert_says_once(e: &StoreError, cause: DbCause, words: &str) {
        let text = e.to_string();
        assert_eq!(e.cause(), Some(cause), "{text}");
        assert!(text.starts_with(&cause.to_string()), "{text}");
        assert_eq!(text.matches(words).count(), 1, "{text}");
    }

    /// A migrated SQLite file in `dir`, opened again with `options` after its URL and `setup`
    /// run on its connection: how a test puts a real file into a failing state.
    async fn reopened_sqlite(dir: &std::path::Path, options: &str, setup: &'static str) -> Store {
        let path = dir.join("ferry.db");
        drop(Store::open_sqlite(&path).await.unwrap());
        store_with(&format!("sqlite://{}{options}", path.display()), setup).await
    }

    #[tokio::test]
    async fn sqlite_opened_read_only_refuses_writes_as_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = reopened_sqlite(dir.path(), "?mode=ro", "PRAGMA busy_timeout=5000").await;
        let e = store.create_api_key("x", "", "").await.unwrap_err();
        assert_says_once(
            &e,
            DbCause::ReadOnly,
            "attempt to write a readonly database",
        );
        assert_eq!(
            e.db_error().and_then(DbError::backend),
            Some(Backend::Sqlite)
        );
        assert_eq!(DbCause::ReadOnly.code(), ErrorCode::StoreReadOnly);
    }

    #[tokio::test]
    async fn sqlite_out_of_pages_is_disk_full() {
        let dir = tempfile::tempdir().unwrap();
        // max_page_count cannot go below the file's size, so this caps it where it is: the
        // first write that needs a new page meets SQLITE_FULL, as on a full volume.
        let store = reopened_sqlite(dir.path(), "", "PRAGMA max_page_count=1").await;
        let e = testing::fill_until_full(&store).await;
        assert_says_once(&e, DbCause::DiskFull, "database or disk is full");
        assert_eq!(e.db_error().and_then(DbError::code).as_deref(), Some("13"));
        assert_eq!(DbCause::DiskFull.code(), ErrorCode::StoreDiskFull);
    }

    #[tokio::test]
    async fn sqlite_file_that_cannot_be_created_names_the_system_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("ferry.db");
        let e = Store::open_sqlite(&path)
            .await
            .err()
            .expect("no folder, no store");
        assert_says_once(&e, DbCause::Unavailable, "No such file or directory");
    }

    #[tokio::test]
    async fn closed_pool_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("ferry.db"))
            .await
            .unwrap();
        store.pool.close().await;
        let e = store.get::<crate::ApiKey>("ak_x").await.unwrap_err();
        assert_says_once(&e, DbCause::Unavailable, "closed pool");
        assert_eq!(DbCause::Unavailable.code(), ErrorCode::StoreUnavailable);
    }

    #[tokio::test]
    async fn postgres_read_only_transactions_are_read_only() {
        let url = testing::fresh_postgres_url().await;
        drop(Store::open(&url).await.unwrap());
        let store = store_with(&url, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").await;
        let e = store.create_api_key("x", "", "").await.unwrap_err();
        assert_says_once(&e, DbCause::ReadOnly, "read-only transaction");
        assert_eq!(
            e.db_error().and_then(DbError::code).as_deref(),
            Some("25006")
        );
        assert_eq!(
            e.db_error().and_then(DbError::backend),
            Some(Backend::Postgres)
        );

        // A standby, or a database set read-only, refuses already at start-up.
        let name = url.rsplit('/').next().unwrap_or_default().to_string();
        let mut admin = sqlx::AnyConnection::connect(&testing::postgres_admin_url())
            .await
            .unwrap();
        admin
            .execute(
                format!("ALTER DATABASE {name} SET default_transaction_read_only = on").as_str(),
            )
            .await
            .unwrap();
        let e = Store::open(&url)
            .await
            .err()
            .expect("a read-only database opened");
        assert!(matches!(e, StoreError::Migration { .. }), "{e:?}");
        assert_says_once(&e, DbCause::ReadOnly, "read-only transaction");
    }

    #[tokio::test]
    async fn postgres_database_dropped_under_the_store_is_unavailable() {
        let url = testing::fresh_postgres_url().await;
        let store = Store::open(&url).await.unwrap();
        let name = url.rsplit('/').next().unwrap_or_default().to_string();
        let mut admin = sqlx::AnyConnection::connect(&testing::postgres_admin_url())
            .await
            .unwrap();
        admin
            .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
            .await
            .unwrap();
        let e = store.get::<crate::ApiKey>("ak_x").await.unwrap_err();
        assert_eq!(e.cause(), Some(DbCause::Unavailable), "{e}");
    }

    #[test]
    fn sqlite_extended_codes_keep_their_primary_cause() {
        // SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE, SQLITE_CANTOPEN_ISDIR
        assert_eq!(sqlite_cause(1032), DbCause::ReadOnly);
        assert_eq!(sqlite_cause(778), DbCause::Unavailable);
        assert_eq!(sqlite_cause(526), DbCause::Unavailable);
        assert_eq!(sqlite_cause(13), DbCause::DiskFull);
        // SQLITE_CONSTRAINT_UNIQUE is the caller's business, not the operator's.
        assert_eq!(sqlite_cause(2067), DbCause::Other);
    }

    #[test]
    fn postgres_connection_class_is_unavailable() {
        assert_eq!(postgres_cause("08006"), DbCause::Unavailable);
        assert_eq!(postgres_cause("57P01"), DbCause::Unavailable);
        assert_eq!(postgres_cause("53100"), DbCause::DiskFull);
        assert_eq!(postgres_cause("25006"), DbCause::ReadOnly);
        assert_eq!(postgres_cause("23505"), DbCause::Other);
    }
}
