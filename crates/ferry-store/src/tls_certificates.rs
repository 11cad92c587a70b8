//! Uploaded TLS certificates with their private keys. The key is stored for the edge to serve
//! with, and never returned by the API.

use ferry_types::ResourceId;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::page::json_column;
use crate::{now_rfc3339, Listed, Page, Store, StoreError};

#[derive(Clone, Debug)]
pub struct TlsCertificate {
    pub id: ResourceId,
    pub description: String,
    pub metadata: String,
    pub certificate_pem: String,
    pub private_key_pem: String,
    /// The fields parsed from the leaf certificate, as the API shows them.
    pub parsed: Value,
    pub created_at: String,
}

#[derive(Clone, Debug)]
pub struct NewTlsCertificate {
    pub description: String,
    pub metadata: String,
    pub certificate_pem: String,
    pub private_key_pem: String,
    pub parsed: Value,
}

const COLUMNS: &str =
    "id, description, metadata, certificate_pem, private_key_pem, parsed, created_at";

impl Store {
    pub async fn create_tls_certificate(
        &self,
        n: NewTlsCertificate,
    ) -> Result<TlsCertificate, StoreError> {
        let c = TlsCertificate {
            id: ResourceId::generate("cert"),
            description: n.description,
            metadata: n.metadata,
            certificate_pem: n.certificate_pem,
            private_key_pem: n.private_key_pem,
            parsed: n.parsed,
            created_at: now_rfc3339(),
        };
        sqlx::query(&format!(
            "INSERT INTO tls_certificates ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(c.id.to_string())
        .bind(c.description.clone())
        .bind(c.metadata.clone())
        .bind(c.certificate_pem.clone())
        .bind(c.private_key_pem.clone())
        .bind(c.parsed.to_string())
        .bind(c.created_at.clone())
        .execute(&self.pool)
        .await?;
        Ok(c)
    }

    pub async fn tls_certificate(&self, id: &str) -> Result<Option<TlsCertificate>, StoreError> {
        self.get_row("tls_certificates", COLUMNS, id, decode).await
    }

    pub async fn list_tls_certificates(
        &self,
        page: &Page,
    ) -> Result<Listed<TlsCertificate>, StoreError> {
        self.list_page("tls_certificates", COLUMNS, page, decode)
            .await
    }

    pub async fn update_tls_certificate(&self, c: &TlsCertificate) -> Result<(), StoreError> {
        sqlx::query("UPDATE tls_certificates SET description = $1, metadata = $2 WHERE id = $3")
            .bind(c.description.clone())
            .bind(c.metadata.clone())
            .bind(c.id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_tls_certificate(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_row("tls_certificates", id).await
    }
}

fn decode(row: &AnyRow) -> Result<TlsCertificate, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(TlsCertificate {
        parsed: json_column(row, &id, "parsed")?,
        id: ResourceId::parse(&id, "cert").map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            why: e.to_string(),
        })?,
        description: row.try_get("description")?,
        metadata: row.try_get("metadata")?,
        certificate_pem: row.try_get("certificate_pem")?,
        private_key_pem: row.try_get("private_key_pem")?,
        created_at: row.try_get("created_at")?,
    })
}
