//! Uploaded certificate authorities, for mutual TLS. The control plane parses the PEM; the
//! store keeps the PEM and the parsed fields (as JSON) so reads need no parsing.

use ferry_types::ResourceId;
use serde_json::Value;

use crate::record::{Cell, Fields, Record, Table};
use crate::{now_rfc3339, Store, StoreError};

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

impl Record for CertificateAuthority {
    const TABLE: Table = Table {
        name: "certificate_authorities",
        prefix: "ca",
        columns: &[
            "id",
            "description",
            "metadata",
            "ca_pem",
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
            (&self.ca_pem).into(),
            (&self.parsed).into(),
            (&self.created_at).into(),
        ]
    }

    fn decode(f: &Fields<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: f.id(),
            description: f.text("description")?,
            metadata: f.text("metadata")?,
            ca_pem: f.text("ca_pem")?,
            parsed: f.json("parsed")?,
            created_at: f.text("created_at")?,
        })
    }
}

impl Store {
    pub async fn create_certificate_authority(
        &self,
        n: NewCertificateAuthority,
    ) -> Result<CertificateAuthority, StoreError> {
        let c = CertificateAuthority {
            id: ResourceId::generate(CertificateAuthority::TABLE.prefix),
            description: n.description,
            metadata: n.metadata,
            ca_pem: n.ca_pem,
            parsed: n.parsed,
            created_at: now_rfc3339(),
        };
        self.insert(&c, &[]).await?;
        Ok(c)
    }
}
