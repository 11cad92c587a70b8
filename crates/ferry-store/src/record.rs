//! The SQL every control-plane resource shares. A resource describes its table once (name, ID
//! prefix, columns, which columns an update writes) and how a row becomes its struct; reading
//! by ID, paging, updating and deleting are written here once, and so is what a row that does
//! not decode says ([`StoreError::Corrupt`]).

use ferry_types::ResourceId;
use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use crate::{Listed, Page, Store, StoreError};

/// One resource's table. `columns` start with `id`; every table also has `created_at`, and
/// those two are never updated.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// The ID prefix (`cr`, `rd`...): new IDs get it, stored IDs must have it.
    pub prefix: &'static str,
    /// What a read returns and an insert writes, in [`Record::cells`] order.
    pub columns: &'static [&'static str],
    /// What an update writes.
    pub mutable: &'static [&'static str],
}

/// A resource kept in one table.
pub trait Record: Sized + Send + Sync + Unpin + 'static {
    const TABLE: Table;

    fn id(&self) -> &ResourceId;

    /// The value of each of `TABLE.columns`, in that order.
    fn cells(&self) -> Vec<Cell>;

    /// The struct a row holds.
    fn decode(row: &Fields<'_>) -> Result<Self, StoreError>;
}

/// A column's value as both databases store it: booleans as integers, lists, maps and
/// policies as JSON text.
#[derive(Clone, Debug)]
pub enum Cell {
    Blob(Vec<u8>),
    Int(i64),
    Text(String),
}

impl From<&str> for Cell {
    fn from(v: &str) -> Self {
        Self::Text(v.to_string())
    }
}

impl From<&String> for Cell {
    fn from(v: &String) -> Self {
        Self::Text(v.clone())
    }
}

impl From<&ResourceId> for Cell {
    fn from(v: &ResourceId) -> Self {
        Self::Text(v.to_string())
    }
}

impl From<bool> for Cell {
    fn from(v: bool) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<&Value> for Cell {
    fn from(v: &Value) -> Self {
        Self::Text(v.to_string())
    }
}

/// One row being decoded, with its ID already checked, so that every column that does not
/// decode names the row.
pub struct Fields<'r> {
    row: &'r AnyRow,
    id: ResourceId,
}

impl<'r> Fields<'r> {
    fn new(row: &'r AnyRow, prefix: &'static str) -> Result<Self, StoreError> {
        let id: String = row.try_get("id")?;
        let parsed = ResourceId::parse(&id, prefix).map_err(|e| corrupt(&id, e))?;
        Ok(Self { row, id: parsed })
    }

    pub fn id(&self) -> ResourceId {
        self.id.clone()
    }

    pub fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.row.try_get(column)?)
    }

    pub fn flag(&self, column: &str) -> Result<bool, StoreError> {
        let v: i64 = self.row.try_get(column)?;
        Ok(v != 0)
    }

    /// A JSON text column.
    pub fn json<T: serde::de::DeserializeOwned>(&self, column: &str) -> Result<T, StoreError> {
        let text: String = self.row.try_get(column)?;
        serde_json::from_str(&text).map_err(|e| {
            corrupt(
                self.id.as_str(),
                format!("{column} is not the JSON expected: {e}"),
            )
        })
    }
}

fn corrupt(id: &str, why: impl ToString) -> StoreError {
    StoreError::Corrupt {
        id: id.to_string(),
        why: why.to_string(),
    }
}

/// Decodes a row read with (at least) `R`'s columns.
pub(crate) fn decode<R: Record>(row: &AnyRow) -> Result<R, StoreError> {
    R::decode(&Fields::new(row, R::TABLE.prefix)?)
}

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

fn bind(query: AnyQuery<'_>, cell: Cell) -> AnyQuery<'_> {
    match cell {
        Cell::Blob(v) => query.bind(v),
        Cell::Int(v) => query.bind(v),
        Cell::Text(v) => query.bind(v),
    }
}

/// `$1, $2, ... $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Inserts `record`, and `extra` columns that are not read back (a secret's hash). The
    /// database's error is returned as it is, for the caller to name a unique violation.
    pub(crate) async fn insert<R: Record>(
        &self,
        record: &R,
        extra: &[(&str, Cell)],
    ) -> Result<(), sqlx::Error> {
        let mut columns = R::TABLE.columns.to_vec();
        columns.extend(extra.iter().map(|(c, _)| *c));
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            R::TABLE.name,
            columns.join(", "),
            placeholders(columns.len())
        );
        let cells = record
            .cells()
            .into_iter()
            .chain(extra.iter().map(|(_, v)| v.clone()));
        cells
            .fold(sqlx::query(&sql), bind)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The record with this ID, if any.
    pub async fn get<R: Record>(&self, id: &str) -> Result<Option<R>, StoreError> {
        let sql = format!(
            "SELECT {} FROM {} WHERE id = $1",
            R::TABLE.columns.join(", "),
            R::TABLE.name
        );
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// One page of records, newest first.
    pub async fn list<R: Record>(&self, page: &Page) -> Result<Listed<R>, StoreError> {
        let select = format!(
            "SELECT {} FROM {}",
            R::TABLE.columns.join(", "),
            R::TABLE.name
        );
        let rows = self.page_rows(&select, page).await?;
        let more = rows.len() > page.limit as usize;
        let items = rows
            .iter()
            .take(page.limit as usize)
            .map(decode)
            .collect::<Result<_, _>>()?;
        Ok(Listed { items, more })
    }

    /// Writes the changeable columns of `record` back.
    pub async fn update<R: Record>(&self, record: &R) -> Result<(), StoreError> {
        let (names, cells): (Vec<&&str>, Vec<Cell>) = R::TABLE
            .columns
            .iter()
            .zip(record.cells())
            .filter(|(c, _)| R::TABLE.mutable.contains(c))
            .unzip();
        let set = names
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE {} SET {set} WHERE id = ${}",
            R::TABLE.name,
            names.len() + 1
        );
        cells
            .into_iter()
            .chain([Cell::from(record.id())])
            .fold(sqlx::query(&sql), bind)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the record with this ID; false when there was none.
    pub async fn delete<R: Record>(&self, id: &str) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM {} WHERE id = $1", R::TABLE.name);
        let done = sqlx::query(&sql)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{testing, BotUser, Credential, NewCredential, NewReservedDomain, ReservedDomain};

    /// What an update writes comes back, what it does not stays, and a row whose JSON column
    /// is not JSON names itself; on both databases.
    #[tokio::test]
    async fn records_round_trip_on_both_databases() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let backend = store.backend();
            let mut bot = store.create_bot_user("b", true).await.unwrap();
            bot.name = "renamed".into();
            bot.active = false;
            store.update(&bot).await.unwrap();
            let read = store
                .get::<BotUser>(bot.id.as_str())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (read.name.as_str(), read.active),
                ("renamed", false),
                "{backend:?}"
            );

            let mut domain = store
                .create_reserved_domain(NewReservedDomain {
                    description: "d".into(),
                    metadata: "m".into(),
                    domain: "app.example.test".into(),
                    region: String::new(),
                    certificate_id: String::new(),
                    cert_policy: json!({ "authority": "letsencrypt" }),
                    cname_target: "x.cname.example.test".into(),
                    acme_target: String::new(),
                    resolves_to: json!([{ "value": "eu" }]),
                })
                .await
                .unwrap();
            domain.resolves_to = json!([]);
            domain.domain = "not.written.test".into();
            store.update(&domain).await.unwrap();
            let read = store
                .get::<ReservedDomain>(domain.id.as_str())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(read.resolves_to, json!([]), "{backend:?}");
            assert_eq!(read.domain, "app.example.test", "{backend:?}");
            assert_eq!(read.cert_policy, json!({ "authority": "letsencrypt" }));

            let (cred, _) = store
                .create_credential(NewCredential::default())
                .await
                .unwrap();
            sqlx::query("UPDATE credentials SET acl = 'nope' WHERE id = $1")
                .bind(cred.id.to_string())
                .execute(&store.pool)
                .await
                .unwrap();
            match store.get::<Credential>(cred.id.as_str()).await {
                Err(StoreError::Corrupt { id, why }) => {
                    assert_eq!(id, cred.id.to_string());
                    assert!(why.starts_with("acl is not the JSON expected"), "{why}");
                }
                other => panic!("{backend:?}: {other:?}"),
            }

            assert!(store.delete::<BotUser>(bot.id.as_str()).await.unwrap());
            assert!(!store.delete::<BotUser>(bot.id.as_str()).await.unwrap());
            assert!(store
                .get::<BotUser>(bot.id.as_str())
                .await
                .unwrap()
                .is_none());
        }
    }
}
