//! Ferry's state. This is the only crate that speaks SQL; the edge, the control plane, DNS and
//! ACME meet here instead of importing each other. SQLite in the data folder is the embedded
//! default; PostgreSQL serves several nodes. Both run the same queries through sqlx's `Any`
//! driver (`$1` placeholders, which SQLite accepts too), and each has its own migration folder
//! because their column types differ.

mod agent_ingresses;
mod api_keys;
mod bot_users;
mod certificate_authorities;
mod credentials;
mod page;
mod reserved_addrs;
mod reserved_domains;
mod secret;
mod settings;
mod tls_certificates;

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use agent_ingresses::{AgentIngress, NewAgentIngress};
pub use api_keys::ApiKey;
pub use bot_users::BotUser;
pub use certificate_authorities::{CertificateAuthority, NewCertificateAuthority};
pub use credentials::{Credential, NewCredential};
pub use page::{Listed, Page};
pub use reserved_addrs::{NewReservedAddr, ReservedAddr};
pub use reserved_domains::{NewReservedDomain, ReservedDomain};
pub use secret::{IssuedSecret, TokenError};
pub use tls_certificates::{NewTlsCertificate, TlsCertificate};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row {id} is corrupt: {why}")]
    Corrupt { id: String, why: String },
    #[error("{what} {value:?} already exists")]
    Duplicate { what: &'static str, value: String },
    #[error("unsupported database URL {0:?}: expected postgres://... or sqlite://...")]
    UnsupportedUrl(String),
}

/// Which database is behind the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens (creating if needed) the SQLite file at `path` and runs migrations. WAL with
    /// `synchronous=FULL`: an acknowledged write survives a SIGKILL of the edge.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        Self::open(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Opens `url` (`postgres://...` or `sqlite://...`) and runs migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let opts: AnyConnectOptions = url.parse()?;
        let mut pool = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            pool = pool.max_connections(4).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;",
                    )
                    .await?;
                    Ok(())
                })
            });
        } else {
            pool = pool.max_connections(8);
        }
        let pool = pool.connect_with(opts).await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Self { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Maps a unique-constraint violation to [`StoreError::Duplicate`].
pub(crate) fn unique(what: &'static str, value: &str) -> impl FnOnce(sqlx::Error) -> StoreError {
    let value = value.to_string();
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Duplicate { what, value }
        }
        _ => StoreError::Db(e),
    }
}

pub(crate) fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Test helpers: a fresh database of each kind. PostgreSQL tests each create their own
/// database (`ferry_test_<random>`) on the server named by `FERRY_TEST_POSTGRES_URL` (default
/// the local server, user `postgres`), so they can run in parallel.
#[doc(hidden)]
pub mod testing {
    use super::*;
    use rand::Rng;
    use sqlx::Connection;

    pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    /// The admin URL of the test PostgreSQL server.
    pub fn postgres_admin_url() -> String {
        std::env::var("FERRY_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into())
    }

    /// Creates an empty database and returns its URL. Panics when PostgreSQL is not there:
    /// scripts/test.sh provides one, and a silently skipped database is a lie.
    pub async fn fresh_postgres_url() -> String {
        sqlx::any::install_default_drivers();
        let admin = postgres_admin_url();
        let name: String = format!(
            "ferry_test_{}",
            (0..12)
                .map(|_| char::from(
                    b"abcdefghijklmnopqrstuvwxyz0123456789"[rand::thread_rng().gen_range(0..36)]
                ))
                .collect::<String>()
        );
        let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL for tests at {admin}: {e} (scripts/test.sh starts one; or set FERRY_TEST_POSTGRES_URL)")
        });
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("CREATE DATABASE");
        match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("FERRY_TEST_POSTGRES_URL {admin:?} has no database path"),
        }
    }

    /// One store of each kind, for tests that must pass on both.
    pub async fn both() -> (ScratchDir, Vec<Store>) {
        let dir = ScratchDir::new();
        let sqlite = Store::open_sqlite(&dir.path.join("ferry.db"))
            .await
            .expect("open sqlite");
        let pg = Store::open(&fresh_postgres_url().await)
            .await
            .expect("open postgres");
        (dir, vec![sqlite, pg])
    }

    /// A temporary folder, removed on drop (kept here so the helper needs no dev-dependency
    /// in the library's public API).
    pub struct ScratchDir {
        pub path: std::path::PathBuf,
    }

    impl ScratchDir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!(
                "ferry-store-test-{}-{}",
                std::process::id(),
                rand::random::<u64>()
            ));
            std::fs::create_dir_all(&path).expect("temp dir");
            Self { path }
        }
    }

    impl Default for ScratchDir {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
