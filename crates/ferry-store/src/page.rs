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
    /// Runs `SELECT {columns} FROM {table}` for one page and decodes each row with `decode`.
    pub(crate) async fn list_page<T>(
        &self,
        table: &str,
        columns: &str,
        page: &Page,
        decode: impl Fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Listed<T>, StoreError> {
        let fetch = i64::from(page.limit) + 1;
        let rows = match &page.before_id {
            Some(before) => {
                sqlx::query(&format!(
                    "SELECT {columns} FROM {table} WHERE id < $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(before.clone())
                .bind(fetch)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {columns} FROM {table} ORDER BY id DESC LIMIT $1"
                ))
                .bind(fetch)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let more = rows.len() > page.limit as usize;
        let items = rows
            .iter()
            .take(page.limit as usize)
            .map(decode)
            .collect::<Result<_, _>>()?;
        Ok(Listed { items, more })
    }

    /// Fetches one row by ID.
    pub(crate) async fn get_row<T>(
        &self,
        table: &str,
        columns: &str,
        id: &str,
        decode: impl Fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = sqlx::query(&format!("SELECT {columns} FROM {table} WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Deletes one row by ID; false when there was none.
    pub(crate) async fn delete_row(&self, table: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Decodes a JSON text column.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    id: &str,
    column: &str,
) -> Result<T, StoreError> {
    use sqlx::Row;
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
        id: id.to_string(),
        why: format!("{column} is not the JSON expected: {e}"),
    })
}
