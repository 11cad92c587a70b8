//! Newest-first paging by ID, as ngrok's lists do: IDs begin with their creation time, so
//! "created before X" is "ID sorts below X".

use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// One page request: at most `limit` items created before `before_id`.
#[derive(Clone, Debug)]
pub struct Page {
    /// ngrok's `before_id`: any ID of the table's kind, not necessarily one that still
    /// exists, since only its order is compared. `None` starts at the newest.
    pub before_id: Option<String>,
    /// ngrok's `limit`; the control plane keeps it within 1 to 100. The store reads one row
    /// more to learn whether older ones remain.
    pub limit: u32,
}

/// A page of results, and whether older items remain.
#[derive(Clone, Debug)]
pub struct Listed<T> {
    /// At most [`Page::limit`] items, newest first.
    pub items: Vec<T>,
    /// Older items remain: the control plane then answers a `next_page_uri` with the last
    /// item's ID as `before_id`.
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
