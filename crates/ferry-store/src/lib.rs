//! Ferry's state. This is the only crate that speaks SQL; the edge, the control plane, DNS and
//! ACME meet here instead of importing each other. SQLite in the data folder is the embedded
//! default; PostgreSQL serves several nodes. Both run the same queries through sqlx's `Any`
//! driver (`$1` placeholders, which SQLite accepts too), and each has its own migration folder
//! because their column types differ.
#![warn(missing_docs)]

mod agent_ingresses;
mod api_keys;
mod backup;
mod bot_users;
mod cert_jobs;
mod cert_orders;
mod certificate_authorities;
mod changes;
mod credentials;
mod dashboard_sessions;
mod dns_challenges;
mod error;
mod health;
mod held;
mod nodes;
mod page;
mod record;
mod reserved_addrs;
mod reserved_domains;
mod sealed;
mod secret;
mod settings;
mod timed;
mod tls_certificates;

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, Connection, Executor};

pub use agent_ingresses::{AgentIngress, NewAgentIngress};
pub use api_keys::{ApiKey, NewApiKey};
pub use backup::backup_sqlite;
pub use bot_users::{BotUser, NewBotUser};
pub use cert_jobs::{CertJob, NewCertJob, INSTALLATION, ISSUED, PENDING};
pub use certificate_authorities::{CertificateAuthority, NewCertificateAuthority};
pub use changes::{ChangeFeed, Hint};
pub use credentials::{Credential, NewCredential};
pub use dashboard_sessions::{DashboardSession, SessionExpiry};
pub use dns_challenges::DnsChallenge;
pub use error::{DbCause, DbError, StoreError};
pub use held::{HeldName, HeldSession, Holder};
pub use nodes::{Node, NodeState};
pub use page::{Listed, Page};
pub use record::{Cell, Column, Fields, Record, Table, Unique};
pub use reserved_addrs::{NewReservedAddr, ReservedAddr};
pub use reserved_domains::{NewReservedDomain, ReservedDnsTargets, ReservedDomain};
pub use sealed::{Sealed, SealingKey, SealingKeyError, KEY_FILE};
pub use secret::{IssuedSecret, TokenError};
pub use tls_certificates::{NewTlsCertificate, TlsCertificate};

/// Which database is behind the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A file in the data folder (`sqlite://` or the default `ferry.db`): one node only.
    Sqlite,
    /// A server (`postgres://` or `postgresql://`) that several edge nodes can share.
    Postgres,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: timed::TimedPool,
    backend: Backend,
    /// Seals private keys; set by [`Store::with_sealing_key`].
    sealing: Option<SealingKey>,
    /// A PostgreSQL server's URL, for the connection that listens for change hints.
    url: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the SQLite file at `path` and runs migrations. WAL with
    /// `synchronous=FULL`: an acknowledged write survives a SIGKILL of the edge.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        // SQLite says only "unable to open database file" when it cannot create or write the
        // file; opening it here first gets the system's reason (a read-only mount, a
        // permission, no space left).
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(sqlx::Error::Io)?;
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
        // The pool retries a connection whose set-up fails until its acquire timeout, then
        // reports only that it timed out. Setting up and migrating on one connection of our
        // own first reports the database's real error at start-up.
        let mut first = connect_first(&opts).await?;
        if backend == Backend::Sqlite {
            first.execute(SQLITE_SETUP).await?;
        }
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        refuse_newer_schema(&mut first, &migrator).await?;
        migrator.run(&mut first).await?;
        first.close().await?;
        let mut pool = AnyPoolOptions::new().acquire_timeout(CONNECT_TIMEOUT);
        if backend == Backend::Sqlite {
            pool = pool.max_connections(4).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SQLITE_SETUP).await?;
                    Ok(())
                })
            });
        } else {
            pool = pool.max_connections(8);
        }
        let pool = pool.connect_with(opts).await?;
        Ok(Self {
            pool: timed::TimedPool(pool),
            backend,
            sealing: None,
            url: (backend == Backend::Postgres).then(|| url.to_string()),
        })
    }

    /// Which database this store opened, for messages and tests whose advice differs between
    /// a file and a server.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Every value of the one text column `sql` selects, with `args` bound to `$1`, `$2`…:
    /// the lists and look-ups outside the generic records (agent ingress domains, reserved
    /// addresses, an authtoken's owner, a setting) are all such reads, so they are written
    /// once here. A look-up by a unique column answers at most one value.
    pub(crate) async fn column(
        &self,
        sql: &'static str,
        args: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        let mut query = sqlx::query_scalar(sql);
        for arg in args {
            query = query.bind(arg.to_string());
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

/// Refuses a database whose schema history names a migration this build does not carry: a
/// newer Ferry migrated it. sqlx's migrator would refuse too, but only as "migration N was
/// previously applied but is missing", which does not tell the operator to upgrade. Creating
/// the history table when it is missing (a new database) is the only write, and the
/// migrations that follow would make it anyway.
async fn refuse_newer_schema(
    conn: &mut AnyConnection,
    migrator: &sqlx::migrate::Migrator,
) -> Result<(), StoreError> {
    use sqlx::migrate::Migrate;
    conn.ensure_migrations_table().await?;
    let applied = conn.list_applied_migrations().await?;
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match applied.iter().map(|m| m.version).max() {
        Some(found) if found > known => Err(StoreError::NewerSchema { found, known }),
        _ => Ok(()),
    }
}

/// How long start-up waits for the database, and a request for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const SQLITE_SETUP: &str =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;";

/// The first connection, retried while the server refuses or says it is starting, as the pool
/// would (PostgreSQL started alongside the edge), but ending with the server's own error.
async fn connect_first(opts: &AnyConnectOptions) -> Result<AnyConnection, sqlx::Error> {
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let mut backoff = Duration::from_millis(50);
    loop {
        let attempt = tokio::time::timeout_at(deadline, AnyConnection::connect_with(opts)).await;
        let error = match attempt {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(e)) => e,
            Err(_) => {
                return Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no answer from the database within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                )))
            }
        };
        let starting = match &error {
            sqlx::Error::Io(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
            sqlx::Error::Database(d) => d.code().as_deref() == Some("57P03"),
            _ => false,
        };
        if !starting || tokio::time::Instant::now() + backoff >= deadline {
            return Err(error);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
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
#[cfg(any(test, feature = "testing"))]
#[allow(clippy::expect_used, clippy::unwrap_used)]
pub mod testing {
    use super::*;
    use rand::Rng;
    use sqlx::Connection;

    /// Used when `FERRY_TEST_POSTGRES_URL` is unset: the server scripts/test.sh starts, with
    /// the `postgres` superuser, which tests need to create and drop databases.
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

    /// Ends, from the server's side, every connection on the database at `url` that listens
    /// for change hints (`pg_terminate_backend`), as a network cut or a server restart
    /// would; returns how many.
    pub async fn terminate_listeners(url: &str) -> u64 {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
        let killed: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'ferry-listen' AND datname = current_database()",
        )
        .fetch_all(&mut conn)
        .await
        .expect("pg_terminate_backend");
        killed.into_iter().filter(|(k,)| *k).count() as u64
    }

    /// A store on an existing, migrated database whose connections each run `setup` first
    /// (one connection at a time): how tests put a real database into a real failing state,
    /// such as `PRAGMA max_page_count` for a full disk or a read-only session.
    pub async fn store_with(url: &str, setup: &'static str) -> Store {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(setup).await?;
                    Ok(())
                })
            })
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("test store at {url}: {e}"));
        Store {
            pool: timed::TimedPool(pool),
            backend,
            sealing: Some(SealingKey::generate()),
            url: None,
        }
    }

    /// Writes rows into `store` until a write fails, and returns that failure: with
    /// `PRAGMA max_page_count` capping a SQLite file, the full disk a test needs.
    pub async fn fill_until_full(store: &Store) -> StoreError {
        for i in 0..10_000 {
            if let Err(e) = store
                .create_api_key(&"x".repeat(500), &i.to_string(), "")
                .await
            {
                return e;
            }
        }
        panic!("the capped database never filled up")
    }

    /// One store of each kind, for tests that must pass on both.
    pub async fn both() -> (ScratchDir, Vec<Store>) {
        let dir = ScratchDir::new();
        let sqlite = Store::open_sqlite(&dir.path.join("ferry.db"))
            .await
            .expect("open sqlite")
            .with_sealing_key(SealingKey::generate());
        let pg = Store::open(&fresh_postgres_url().await)
            .await
            .expect("open postgres")
            .with_sealing_key(SealingKey::generate());
        (dir, vec![sqlite, pg])
    }

    /// A temporary folder, removed on drop (kept here so the helper needs no dev-dependency
    /// in the library's public API).
    pub struct ScratchDir {
        /// A fresh folder under the system's temporary folder, unique to this process and
        /// call; it exists once [`ScratchDir::new`] returns.
        pub path: std::path::PathBuf,
    }

    impl ScratchDir {
        /// Creates the folder; panics when the temporary folder is not writable, since no
        /// test that wants one could run.
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
