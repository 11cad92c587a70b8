//! Reserved TCP addresses (`host:port`) on the edge's TCP range.

use ferry_types::ResourceId;

use crate::record::{Cell, Fields, Record, Table};
use crate::{now_rfc3339, unique, Store, StoreError};

#[derive(Clone, Debug)]
pub struct ReservedAddr {
    pub id: ResourceId,
    pub description: String,
    pub metadata: String,
    pub addr: String,
    pub region: String,
    pub created_at: String,
}

#[derive(Clone, Debug)]
pub struct NewReservedAddr {
    pub description: String,
    pub metadata: String,
    pub addr: String,
    pub region: String,
}

impl Record for ReservedAddr {
    const TABLE: Table = Table {
        name: "reserved_addrs",
        prefix: "ra",
        columns: &[
            "id",
            "description",
            "metadata",
            "addr",
            "region",
            "created_at",
        ],
        mutable: &["description", "metadata"],
    };

    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn cells(&self) -> Vec<Cell> {
        vec![
            (&self.id).into(),
            (&self.description).into(),
            (&self.metadata).into(),
            (&self.addr).into(),
            (&self.region).into(),
            (&self.created_at).into(),
        ]
    }

    fn decode(f: &Fields<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: f.id(),
            description: f.text("description")?,
            metadata: f.text("metadata")?,
            addr: f.text("addr")?,
            region: f.text("region")?,
            created_at: f.text("created_at")?,
        })
    }
}

impl Store {
    pub async fn create_reserved_addr(
        &self,
        n: NewReservedAddr,
    ) -> Result<ReservedAddr, StoreError> {
        let a = ReservedAddr {
            id: ResourceId::generate(ReservedAddr::TABLE.prefix),
            description: n.description,
            metadata: n.metadata,
            addr: n.addr,
            region: n.region,
            created_at: now_rfc3339(),
        };
        self.insert(&a, &[])
            .await
            .map_err(unique("reserved address", &a.addr))?;
        Ok(a)
    }

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
