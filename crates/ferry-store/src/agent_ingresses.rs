//! Agent ingresses: domains whose names (and every name below) the edge's agent ingress
//! owns, so that agents can dial `tunnel.<region>.<domain>`.

use ferry_types::ResourceId;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::page::json_column;
use crate::{now_rfc3339, unique, Listed, Page, Store, StoreError};

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

const COLUMNS: &str = "id, description, metadata, domain, cert_policy, created_at";

impl Store {
    pub async fn create_agent_ingress(
        &self,
        new: NewAgentIngress,
    ) -> Result<AgentIngress, StoreError> {
        let a = AgentIngress {
            id: ResourceId::generate("agin"),
            description: new.description,
            metadata: new.metadata,
            domain: new.domain,
            cert_policy: new.cert_policy,
            created_at: now_rfc3339(),
        };
        sqlx::query(
            "INSERT INTO agent_ingresses (id, description, metadata, domain, cert_policy, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(a.id.to_string())
        .bind(a.description.clone())
        .bind(a.metadata.clone())
        .bind(a.domain.clone())
        .bind(a.cert_policy.to_string())
        .bind(a.created_at.clone())
        .execute(&self.pool)
        .await
        .map_err(unique("agent ingress domain", &a.domain))?;
        Ok(a)
    }

    pub async fn agent_ingress(&self, id: &str) -> Result<Option<AgentIngress>, StoreError> {
        self.get_row("agent_ingresses", COLUMNS, id, decode).await
    }

    pub async fn list_agent_ingresses(
        &self,
        page: &Page,
    ) -> Result<Listed<AgentIngress>, StoreError> {
        self.list_page("agent_ingresses", COLUMNS, page, decode)
            .await
    }

    /// Every agent ingress domain, for the edge to decide whether an SNI name is an agent's.
    pub async fn agent_ingress_domains(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT domain FROM agent_ingresses")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn update_agent_ingress(&self, a: &AgentIngress) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE agent_ingresses SET description = $1, metadata = $2, cert_policy = $3 WHERE id = $4",
        )
        .bind(a.description.clone())
        .bind(a.metadata.clone())
        .bind(a.cert_policy.to_string())
        .bind(a.id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_agent_ingress(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_row("agent_ingresses", id).await
    }
}

fn decode(row: &AnyRow) -> Result<AgentIngress, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(AgentIngress {
        cert_policy: json_column(row, &id, "cert_policy")?,
        id: ResourceId::parse(&id, "agin").map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            why: e.to_string(),
        })?,
        description: row.try_get("description")?,
        metadata: row.try_get("metadata")?,
        domain: row.try_get("domain")?,
        created_at: row.try_get("created_at")?,
    })
}
