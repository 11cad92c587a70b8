//! Uploaded TLS certificates with their private keys. The key is stored for the edge to serve
//! with, and never returned by the API.

use ferry_types::ResourceId;
use serde_json::Value;

use crate::record::{Cell, Fields, Record, Table};
use crate::{now_rfc3339, Store, StoreError};

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

impl Record for TlsCertificate {
    const TABLE: Table = Table {
        name: "tls_certificates",
        prefix: "cert",
        columns: &[
            "id",
            "description",
            "metadata",
            "certificate_pem",
            "private_key_pem",
            "parsed",
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
            (&self.certificate_pem).into(),
            (&self.private_key_pem).into(),
            (&self.parsed).into(),
            (&self.created_at).into(),
        ]
    }

    fn decode(f: &Fields<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: f.id(),
            description: f.text("description")?,
            metadata: f.text("metadata")?,
            certificate_pem: f.text("certificate_pem")?,
            private_key_pem: f.text("private_key_pem")?,
            parsed: f.json("parsed")?,
            created_at: f.text("created_at")?,
        })
    }
}

impl Store {
    pub async fn create_tls_certificate(
        &self,
        n: NewTlsCertificate,
    ) -> Result<TlsCertificate, StoreError> {
        let c = TlsCertificate {
            id: ResourceId::generate(TlsCertificate::TABLE.prefix),
            description: n.description,
            metadata: n.metadata,
            certificate_pem: n.certificate_pem,
            private_key_pem: n.private_key_pem,
            parsed: n.parsed,
            created_at: now_rfc3339(),
        };
        self.insert(&c, &[]).await?;
        Ok(c)
    }
}
