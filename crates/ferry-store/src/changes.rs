//! Hints that what the nodes hold, or which nodes live, has changed, so that each node
//! refreshes its view at once rather than at its next periodic reconcile. PostgreSQL's
//! `LISTEN/NOTIFY` carries them (migration 0009's triggers), behind [`ChangeFeed`] so that
//! another engine could take its place. A hint is never the only path to correctness: a
//! lost connection is reported as [`Hint::Resync`], and nodes reconcile periodically.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::{Store, StoreError};

/// The channel migration 0009's triggers notify.
const CHANNEL: &str = "ferry_held";

/// What a feed says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// Something changed; read it again.
    Changed,
    /// Hints may have been missed (the connection was lost, or is new): read everything.
    Resync,
}

/// A source of [`Hint`]s.
pub trait ChangeFeed: Send {
    /// The next hint; waits for one.
    fn next(&mut self) -> Pin<Box<dyn Future<Output = Hint> + Send + '_>>;
}

/// `LISTEN ferry_held` on a connection of its own, named `ferry-listen` in
/// `pg_stat_activity`.
struct PgChanges {
    listener: PgListener,
}

impl ChangeFeed for PgChanges {
    fn next(&mut self) -> Pin<Box<dyn Future<Output = Hint> + Send + '_>> {
        Box::pin(async move {
            match self.listener.try_recv().await {
                Ok(Some(_)) => Hint::Changed,
                // The connection was lost; the next call connects and listens again.
                Ok(None) => Hint::Resync,
                // The server is away: try again in a second, and read everything then.
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Hint::Resync
                }
            }
        })
    }
}

impl Store {
    /// A feed of change hints, where the database has one (PostgreSQL); `None` for SQLite,
    /// whose single node has nobody to hear from.
    pub async fn change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        let Some(url) = &self.url else {
            return Ok(None);
        };
        let opts: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(opts.application_name("ferry-listen"));
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(PgChanges { listener })))
    }
}
