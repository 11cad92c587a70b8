//! Agent ingresses: domains whose names (and every name below) the edge's agent ingress
//! owns, so that agents can dial `tunnel.<region>.<domain>`.

use ferry_types::ResourceId;
use serde_json::Value;

use crate::record::{Cell, Fields, Record, Table};
use crate::{now_rfc3339, unique, Store, StoreError};

#[derive(Clone, Debug)]
pub struct AgentIngress {
    pub id: ResourceId,
    pub description: String,
    pub metadata: String,
    pub domain: String,
    /// `certificate_management_policy` as the API shows it (`null` or an object).
    pub cert_policy: Value,
    pub created_at: String,
}

#[derive(Clone, Debug)]
pub struct NewAgentIngress {
    pub description: String,
    pub metadata: String,
    pub domain: String,
    pub cert_policy: Value,
}

impl Record for AgentIngress {
    const TABLE: Table = Table {
        name: "agent_ingresses",
        prefix: "agin",
        columns: &[
            "id",
            "description",
            "metadata",
            "domain",
            "cert_policy",
            "created_at",
        ],
        mutable: &["description", "metadata", "cert_policy"],
    };

    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn cells(&self) -> Vec<Cell> {
        vec![
            (&self.id).into(),
            (&self.description).into(),
            (&self.metadata).into(),
            (&self.domain).into(),
            (&self.cert_policy).into(),
            (&self.created_at).into(),
        ]
    }

    fn decode(f: &Fields<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: f.id(),
            description: f.text("description")?,
            metadata: f.text("metadata")?,
            domain: f.text("domain")?,
            cert_policy: f.json("cert_policy")?,
            created_at: f.text("created_at")?,
        })
    }
}

impl Store {
    pub async fn create_agent_ingress(
        &self,
        new: NewAgentIngress,
    ) -> Result<AgentIngress, StoreError> {
        let a = AgentIngress {
            id: ResourceId::generate(AgentIngress::TABLE.prefix),
            description: new.description,
            metadata: new.metadata,
            domain: new.domain,
            cert_policy: new.cert_policy,
            created_at: now_rfc3339(),
        };
        self.insert(&a, &[])
            .await
            .map_err(unique("agent ingress domain", &a.domain))?;
        Ok(a)
    }

    /// Every agent ingress domain, for the edge to decide whether an SNI name is an agent's.
    pub async fn agent_ingress_domains(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT domain FROM agent_ingresses")
            .fetch_all(&self.pool)
            .await?)
    }
}
