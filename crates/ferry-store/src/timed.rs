//! The one place every query passes: the store's pool, wrapped so that each query's time
//! (waiting for a connection included, as the caller waits for it too) is recorded in
//! `ferry_store_query_duration_seconds` by kind of statement. The store runs no transactions,
//! so every statement goes through here.

use std::time::Instant;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::StreamExt;
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{Any, AnyPool, Describe, Either, Error, Execute, Executor};

/// The store's connection pool; `&TimedPool` runs queries as `&AnyPool` does.
#[derive(Clone, Debug)]
pub(crate) struct TimedPool(pub(crate) AnyPool);

impl std::ops::Deref for TimedPool {
    type Target = AnyPool;

    fn deref(&self) -> &AnyPool {
        &self.0
    }
}

/// Records the query's time when dropped: when its stream ends or its caller stops reading.
struct Timer<'q> {
    sql: &'q str,
    start: Instant,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        ferry_metrics::store::query_done(self.sql, self.start.elapsed());
    }
}

impl<'p> Executor<'p> for &'_ TimedPool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let timer = Timer {
            sql: query.sql(),
            start: Instant::now(),
        };
        self.0
            .fetch_many(query)
            .map(move |item| {
                let _ = &timer;
                item
            })
            .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<AnyRow>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let timer = Timer {
            sql: query.sql(),
            start: Instant::now(),
        };
        let pool = self.0.clone();
        Box::pin(async move {
            let answer = pool.fetch_optional(query).await;
            drop(timer);
            answer
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, Error>>
    where
        'p: 'e,
    {
        self.0.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, Error>>
    where
        'p: 'e,
    {
        self.0.describe(sql)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::ScratchDir;
    use crate::{ApiKey, Store};

    /// `ferry_store_query_duration_seconds_count{op}` as the edge's scrape shows it.
    fn count(op: &str) -> u64 {
        let text = ferry_metrics::edge_text(&Default::default());
        let prefix = format!("ferry_store_query_duration_seconds_count{{op=\"{op}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn every_query_through_the_pool_is_timed() {
        let dir = ScratchDir::new();
        let store = Store::open_sqlite(&dir.path.join("ferry.db"))
            .await
            .unwrap();
        let (selects, inserts) = (count("select"), count("insert"));
        store.all::<ApiKey>().await.unwrap();
        store.create_api_key("", "", "").await.unwrap();
        assert!(count("select") > selects);
        assert!(count("insert") > inserts);
    }
}
