//! The SQL every control-plane resource shares. A resource describes its table once (name, ID
//! prefix, columns, which columns an update writes) and how a row becomes its struct; reading
//! by ID, paging, updating and deleting are written here once, and so is what a row that does
//! not decode says ([`StoreError::Corrupt`]).

use ferry_types::ResourceId;
use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use crate::{now_rfc3339, Listed, Page, Store, StoreError};

/// One resource's table. `columns` start with `id`; every table also has `created_at`, and
/// those two are never updated.
#[derive(Debug)]
pub struct Table {
    /// The SQL table, as the migrations create it; also what a duplicate ID is called when
    /// the table has no [`Unique`] column.
    pub name: &'static str,
    /// The ID prefix (`cr`, `rd`...): new IDs get it, stored IDs must have it.
    pub prefix: &'static str,
    /// What a read returns and an insert writes, in [`Record::cells`] order.
    pub columns: &'static [&'static str],
    /// What an update writes.
    pub mutable: &'static [&'static str],
    /// The column no two rows may share, and what a duplicate is called.
    pub unique: Option<Unique>,
}

/// A unique column: a second row with its value is [`StoreError::Duplicate`].
#[derive(Debug)]
pub struct Unique {
    /// A text column the migrations give a unique index.
    pub column: &'static str,
    /// What a duplicate's message calls the resource ("reserved domain"), for the API
    /// client who sent it.
    pub what: &'static str,
}

/// A resource kept in one table.
pub trait Record: Sized + Send + Sync + Unpin + 'static {
    /// Where the resource lives, from which [`Store`]'s generic queries write their SQL.
    const TABLE: Table;

    /// What creating one takes: every column but `id` and `created_at`.
    type New: Send;

    /// The resource as created: the store picks the ID and the time, the caller the rest.
    fn build(id: ResourceId, created_at: String, new: Self::New) -> Self;

    /// The `id` column, with [`Table::prefix`]; updates find the row by it.
    fn id(&self) -> &ResourceId;

    /// When it was created (RFC 3339), as every table records.
    fn created_at(&self) -> &str;

    /// The value of each of `TABLE.columns`, in that order.
    fn cells(&self) -> Vec<Cell>;

    /// The struct a row holds.
    fn decode(row: &Fields<'_>) -> Result<Self, StoreError>;
}

/// A column's value as both databases store it: booleans as integers, lists, maps and
/// policies as JSON text.
#[derive(Clone, Debug)]
pub enum Cell {
    /// `BLOB` in SQLite, `BYTEA` in PostgreSQL: secret hashes.
    Blob(Vec<u8>),
    /// `INTEGER` in SQLite, `BIGINT` in PostgreSQL: booleans as 0 or 1.
    Int(i64),
    /// Strings, IDs, RFC 3339 times and JSON.
    Text(String),
}

/// A Rust type a column holds.
pub trait Column: Sized {
    /// The value as it is bound to an `INSERT` or `UPDATE`.
    fn cell(&self) -> Cell;
    /// The value of `column` in a row; a value of the wrong type or shape is
    /// [`StoreError::Corrupt`] naming the row, or a [`StoreError::Db`] from sqlx.
    fn read(fields: &Fields<'_>, column: &str) -> Result<Self, StoreError>;
}

impl Column for String {
    fn cell(&self) -> Cell {
        Cell::Text(self.clone())
    }

    fn read(fields: &Fields<'_>, column: &str) -> Result<Self, StoreError> {
        Ok(fields.row.try_get(column)?)
    }
}

impl Column for bool {
    fn cell(&self) -> Cell {
        Cell::Int(i64::from(*self))
    }

    fn read(fields: &Fields<'_>, column: &str) -> Result<Self, StoreError> {
        let v: i64 = fields.row.try_get(column)?;
        Ok(v != 0)
    }
}

impl Column for i64 {
    fn cell(&self) -> Cell {
        Cell::Int(*self)
    }

    fn read(fields: &Fields<'_>, column: &str) -> Result<Self, StoreError> {
        Ok(fields.row.try_get(column)?)
    }
}

impl Column for Value {
    fn cell(&self) -> Cell {
        Cell::Text(self.to_string())
    }

    fn read(fields: &Fields<'_>, column: &str) -> Result<Self, StoreError> {
        fields.json(column)
    }
}

impl Column for Vec<String> {
    fn cell(&self) -> Cell {
        Cell::Text(Value::from(self.clone()).to_string())
    }

    fn read(fields: &Fields<'_>, column: &str) -> Result<Self, StoreError> {
        fields.json(column)
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

    /// The row's `id`, already checked to carry the table's prefix.
    pub fn id(&self) -> ResourceId {
        self.id.clone()
    }

    /// The value of `column`, decoded as `T` says ([`Column::read`]).
    pub fn get<T: Column>(&self, column: &str) -> Result<T, StoreError> {
        T::read(self, column)
    }

    /// A JSON text column.
    fn json<T: serde::de::DeserializeOwned>(&self, column: &str) -> Result<T, StoreError> {
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

/// The error for a second `record` with the same unique value.
fn duplicate<R: Record>(record: &R, unique: Option<&Unique>) -> StoreError {
    let (what, column) = unique.map_or((R::TABLE.name, "id"), |u| (u.what, u.column));
    let value = R::TABLE
        .columns
        .iter()
        .zip(record.cells())
        .find_map(|(c, v)| match v {
            Cell::Text(t) if *c == column => Some(t),
            _ => None,
        })
        .unwrap_or_default();
    StoreError::Duplicate { what, value }
}

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

pub(crate) fn bind(query: AnyQuery<'_>, cell: Cell) -> AnyQuery<'_> {
    match cell {
        Cell::Blob(v) => query.bind(v),
        Cell::Int(v) => query.bind(v),
        Cell::Text(v) => query.bind(v),
    }
}

/// `SELECT <every column> FROM <table>`: what each read of whole records starts with.
fn select<R: Record>() -> String {
    format!(
        "SELECT {} FROM {}",
        R::TABLE.columns.join(", "),
        R::TABLE.name
    )
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

    /// Creates a record with a new ID; a value already in its unique column is
    /// [`StoreError::Duplicate`].
    pub async fn create<R: Record>(&self, new: R::New) -> Result<R, StoreError> {
        let record = R::build(ResourceId::generate(R::TABLE.prefix), now_rfc3339(), new);
        match self.insert(&record, &[]).await {
            Ok(()) => Ok(record),
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                Err(duplicate(&record, R::TABLE.unique.as_ref()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The record with this ID, if any.
    pub async fn get<R: Record>(&self, id: &str) -> Result<Option<R>, StoreError> {
        let sql = format!("{} WHERE id = $1", select::<R>());
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// One page of records, newest first.
    pub async fn list<R: Record>(&self, page: &Page) -> Result<Listed<R>, StoreError> {
        let rows = self.page_rows(&select::<R>(), page).await?;
        let more = rows.len() > page.limit as usize;
        let items = rows
            .iter()
            .take(page.limit as usize)
            .map(decode)
            .collect::<Result<_, _>>()?;
        Ok(Listed { items, more })
    }

    /// Every record of the table, oldest first: for the few tables a background task walks
    /// whole (certificate jobs), never for one an API pages through.
    pub async fn all<R: Record>(&self) -> Result<Vec<R>, StoreError> {
        let sql = format!("{} ORDER BY id", select::<R>());
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(decode).collect()
    }

    /// The records whose text `column` (one of the table's) equals `value`, oldest first.
    pub async fn find_by<R: Record>(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Vec<R>, StoreError> {
        debug_assert!(R::TABLE.columns.contains(&column));
        let sql = format!("{} WHERE {column} = $1 ORDER BY id", select::<R>());
        let rows = sqlx::query(&sql)
            .bind(value.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
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
            .chain([Cell::Text(record.id().to_string())])
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

/// Declares a resource kept in one table from one list of its columns: the struct (with `id`
/// first and `created_at` last, as every table has them), the struct that creates one, and
/// its [`Record`] implementation, so that a column is named once.
macro_rules! record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident, new $new:ident {
            table: $table:literal,
            prefix: $prefix:literal,
            mutable: [$($mutable:ident),* $(,)?],
            unique: $unique:expr,
        }
        columns {
            $($(#[$field_meta:meta])* pub $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        pub struct $name {
            /// ngrok's `id`: `<prefix>_` and a body that starts with the creation time, so
            /// IDs sort by age (lists page by it).
            pub id: ferry_types::ResourceId,
            $($(#[$field_meta])* pub $field: $ty,)*
            /// ngrok's `created_at`: RFC 3339 in UTC, whole seconds, set by the store.
            pub created_at: String,
        }

        #[doc = concat!("What creating a [`", stringify!($name), "`] takes.")]
        #[derive(Clone, Debug, Default)]
        pub struct $new {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl $crate::record::Record for $name {
            const TABLE: $crate::record::Table = $crate::record::Table {
                name: $table,
                prefix: $prefix,
                columns: &["id", $(stringify!($field),)* "created_at"],
                mutable: &[$(stringify!($mutable)),*],
                unique: $unique,
            };

            type New = $new;

            fn build(id: ferry_types::ResourceId, created_at: String, new: $new) -> Self {
                Self { id, $($field: new.$field,)* created_at }
            }

            fn id(&self) -> &ferry_types::ResourceId {
                &self.id
            }

            fn created_at(&self) -> &str {
                &self.created_at
            }

            fn cells(&self) -> Vec<$crate::record::Cell> {
                use $crate::record::Column;
                vec![
                    $crate::record::Cell::Text(self.id.to_string()),
                    $(self.$field.cell(),)*
                    self.created_at.cell(),
                ]
            }

            fn decode(f: &$crate::record::Fields<'_>) -> Result<Self, $crate::StoreError> {
                Ok(Self {
                    id: f.id(),
                    $($field: f.get(stringify!($field))?,)*
                    created_at: f.get("created_at")?,
                })
            }
        }
    };
}
pub(crate) use record;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        testing, BotUser, Credential, NewBotUser, NewCredential, NewReservedDomain, ReservedDomain,
    };

    /// Updates `record`, then reads it back as the store now has it.
    async fn write_and_read<R: Record>(store: &Store, record: &R) -> R {
        store.update(record).await.unwrap();
        store.get::<R>(record.id().as_str()).await.unwrap().unwrap()
    }

    /// What an update writes comes back, what it does not stays, and a row whose JSON column
    /// is not JSON names itself; on both databases.
    #[tokio::test]
    async fn records_round_trip_on_both_databases() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let backend = store.backend();
            let mut bot = store
                .create::<BotUser>(NewBotUser {
                    name: "b".into(),
                    active: true,
                })
                .await
                .unwrap();
            bot.name = "renamed".into();
            bot.active = false;
            let read = write_and_read(&store, &bot).await;
            assert_eq!(
                (read.name.as_str(), read.active),
                ("renamed", false),
                "{backend:?}"
            );

            let mut domain = store
                .create::<ReservedDomain>(NewReservedDomain {
                    description: "d".into(),
                    metadata: "m".into(),
                    domain: "app.example.test".into(),
                    region: String::new(),
                    certificate_id: String::new(),
                    cert_policy: json!({ "authority": "letsencrypt" }),
                    cname_target: "x.cname.example.test".into(),
                    acme_target: String::new(),
                    resolves_to: json!([{ "value": "eu" }]),
                    ..Default::default()
                })
                .await
                .unwrap();
            domain.resolves_to = json!([]);
            domain.domain = "not.written.test".into();
            let read = write_and_read(&store, &domain).await;
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
