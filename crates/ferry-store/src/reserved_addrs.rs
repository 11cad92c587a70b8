//! Reserved TCP addresses (`host:port`) on the edge's TCP range.

use ferry_types::ResourceId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_rfc3339, unique, Listed, Page, Store, StoreError};

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

const COLUMNS: &str = "id, description, metadata, addr, region, created_at";

impl Store {
    pub async fn create_reserved_addr(
        &self,
        n: NewReservedAddr,
    ) -> Result<ReservedAddr, StoreError> {
        let a = ReservedAddr {
            id: ResourceId::generate("ra"),
            description: n.description,
            metadata: n.metadata,
            addr: n.addr,
            region: n.region,
            created_at: now_rfc3339(),
        };
        sqlx::query(&format!(
            "INSERT INTO reserved_addrs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(a.id.to_string())
        .bind(a.description.clone())
        .bind(a.metadata.clone())
        .bind(a.addr.clone())
        .bind(a.region.clone())
        .bind(a.created_at.clone())
        .execute(&self.pool)
        .await
        .map_err(unique("reserved address", &a.addr))?;
        Ok(a)
    }

    pub async fn reserved_addr(&self, id: &str) -> Result<Option<ReservedAddr>, StoreError> {
        self.get_row("reserved_addrs", COLUMNS, id, decode).await
    }

    pub async fn list_reserved_addrs(
        &self,
        page: &Page,
    ) -> Result<Listed<ReservedAddr>, StoreError> {
        self.list_page("reserved_addrs", COLUMNS, page, decode)
            .await
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

    pub async fn update_reserved_addr(&self, a: &ReservedAddr) -> Result<(), StoreError> {
        sqlx::query("UPDATE reserved_addrs SET description = $1, metadata = $2 WHERE id = $3")
            .bind(a.description.clone())
            .bind(a.metadata.clone())
            .bind(a.id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_reserved_addr(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_row("reserved_addrs", id).await
    }
}

fn decode(row: &AnyRow) -> Result<ReservedAddr, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(ReservedAddr {
        id: ResourceId::parse(&id, "ra").map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            why: e.to_string(),
        })?,
        description: row.try_get("description")?,
        metadata: row.try_get("metadata")?,
        addr: row.try_get("addr")?,
        region: row.try_get("region")?,
        created_at: row.try_get("created_at")?,
    })
}
