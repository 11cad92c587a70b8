//! Uploaded certificate authorities, for mutual TLS. The control plane parses the PEM; the
//! store keeps the PEM and the parsed fields (as JSON) so reads need no parsing.

use ferry_types::ResourceId;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::page::json_column;
use crate::{now_rfc3339, Listed, Page, Store, StoreError};

#[derive(Clone, Debug)]
pub struct CertificateAuthority {
    pub id: ResourceId,
    pub description: String,
    pub metadata: String,
    pub ca_pem: String,
    /// The fields parsed from `ca_pem`, as the API shows them.
    pub parsed: Value,
    pub created_at: String,
}

#[derive(Clone, Debug)]
pub struct NewCertificateAuthority {
    pub description: String,
    pub metadata: String,
    pub ca_pem: String,
    pub parsed: Value,
}

const COLUMNS: &str = "id, description, metadata, ca_pem, parsed, created_at";

impl Store {
    pub async fn create_certificate_authority(
        &self,
        n: NewCertificateAuthority,
    ) -> Result<CertificateAuthority, StoreError> {
        let c = CertificateAuthority {
            id: ResourceId::generate("ca"),
            description: n.description,
            metadata: n.metadata,
            ca_pem: n.ca_pem,
            parsed: n.parsed,
            created_at: now_rfc3339(),
        };
        sqlx::query(&format!(
            "INSERT INTO certificate_authorities ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(c.id.to_string())
        .bind(c.description.clone())
        .bind(c.metadata.clone())
        .bind(c.ca_pem.clone())
        .bind(c.parsed.to_string())
        .bind(c.created_at.clone())
        .execute(&self.pool)
        .await?;
        Ok(c)
    }

    pub async fn certificate_authority(
        &self,
        id: &str,
    ) -> Result<Option<CertificateAuthority>, StoreError> {
        self.get_row("certificate_authorities", COLUMNS, id, decode)
            .await
    }

    pub async fn list_certificate_authorities(
        &self,
        page: &Page,
    ) -> Result<Listed<CertificateAuthority>, StoreError> {
        self.list_page("certificate_authorities", COLUMNS, page, decode)
            .await
    }

    pub async fn update_certificate_authority(
        &self,
        c: &CertificateAuthority,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE certificate_authorities SET description = $1, metadata = $2 WHERE id = $3",
        )
        .bind(c.description.clone())
        .bind(c.metadata.clone())
        .bind(c.id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_certificate_authority(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_row("certificate_authorities", id).await
    }
}

fn decode(row: &AnyRow) -> Result<CertificateAuthority, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(CertificateAuthority {
        parsed: json_column(row, &id, "parsed")?,
        id: ResourceId::parse(&id, "ca").map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            why: e.to_string(),
        })?,
        description: row.try_get("description")?,
        metadata: row.try_get("metadata")?,
        ca_pem: row.try_get("ca_pem")?,
        created_at: row.try_get("created_at")?,
    })
}
