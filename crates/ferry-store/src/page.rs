//! Newest-first paging by ID, as ngrok's lists do: IDs begin with their creation time, so
//! "created before X" is "ID sorts below X".

use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// One page request: at most `limit` items created before `before_id`.
#[derive(Clone, Debug)]
pub struct Page {
    pub before_id: Option<String>,
    pub limit: u32,
}

/// A page of results, and whether older items remain.
#[derive(Clone, Debug)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub more: bool,
}

impl Store {
    /// The rows of `select` (a `SELECT ... FROM table`) for one page, and one more when older
    /// rows remain.
    pub(crate) async fn page_rows(
        &self,
        select: &str,
        page: &Page,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let fetch = i64::from(page.limit) + 1;
        let rows = match &page.before_id {
            Some(before) => {
                sqlx::query(&format!("{select} WHERE id < $1 ORDER BY id DESC LIMIT $2"))
                    .bind(before.clone())
                    .bind(fetch)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!("{select} ORDER BY id DESC LIMIT $1"))
                    .bind(fetch)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        Ok(rows)
    }
}
