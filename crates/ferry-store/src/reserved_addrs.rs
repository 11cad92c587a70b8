//! Reserved TCP addresses (`host:port`) on the edge's TCP range.

use crate::record::{record, Unique};
use crate::{Store, StoreError};

record! {
    pub struct ReservedAddr, new NewReservedAddr {
        table: "reserved_addrs",
        prefix: "ra",
        mutable: [description, metadata],
        unique: Some(Unique { column: "addr", what: "reserved address" }),
    }
    columns {
        pub description: String,
        pub metadata: String,
        pub addr: String,
        pub region: String,
    }
}

impl Store {
    /// Every reserved address, to pick a free port for a new reservation.
    pub async fn reserved_addr_list(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT addr FROM reserved_addrs")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn addr_is_reserved(&self, addr: &str) -> Result<bool, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM reserved_addrs WHERE addr = $1")
                .bind(addr.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }
}
