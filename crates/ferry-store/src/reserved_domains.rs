//! Reserved domains: outside dev mode, an endpoint may bind only a name reserved here, exactly
//! or under a reserved wildcard.

use ferry_types::ResourceId;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::page::json_column;
use crate::{now_rfc3339, unique, Listed, Page, Store, StoreError};

#[derive(Clone, Debug)]
pub struct ReservedDomain {
    pub id: ResourceId,
    pub description: String,
    pub metadata: String,
    /// Lower-case; `*.x.y` for a wildcard.
    pub domain: String,
    pub region: String,
    /// A `cert_` ID, or empty.
    pub certificate_id: String,
    pub cert_policy: Value,
    /// Empty when the domain needs no CNAME (it is under the edge's own base domain).
    pub cname_target: String,
    /// Set only for wildcard domains.
    pub acme_target: String,
    pub resolves_to: Value,
    pub created_at: String,
}

#[derive(Clone, Debug)]
pub struct NewReservedDomain {
    pub description: String,
    pub metadata: String,
    pub domain: String,
    pub region: String,
    pub certificate_id: String,
    pub cert_policy: Value,
    pub cname_target: String,
    pub acme_target: String,
    pub resolves_to: Value,
}

const COLUMNS: &str = "id, description, metadata, domain, region, certificate_id, cert_policy, \
                       cname_target, acme_target, resolves_to, created_at";

impl Store {
    pub async fn create_reserved_domain(
        &self,
        n: NewReservedDomain,
    ) -> Result<ReservedDomain, StoreError> {
        let d = ReservedDomain {
            id: ResourceId::generate("rd"),
            description: n.description,
            metadata: n.metadata,
            domain: n.domain,
            region: n.region,
            certificate_id: n.certificate_id,
            cert_policy: n.cert_policy,
            cname_target: n.cname_target,
            acme_target: n.acme_target,
            resolves_to: n.resolves_to,
            created_at: now_rfc3339(),
        };
        sqlx::query(&format!(
            "INSERT INTO reserved_domains ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(d.id.to_string())
        .bind(d.description.clone())
        .bind(d.metadata.clone())
        .bind(d.domain.clone())
        .bind(d.region.clone())
        .bind(d.certificate_id.clone())
        .bind(d.cert_policy.to_string())
        .bind(d.cname_target.clone())
        .bind(d.acme_target.clone())
        .bind(d.resolves_to.to_string())
        .bind(d.created_at.clone())
        .execute(&self.pool)
        .await
        .map_err(unique("reserved domain", &d.domain))?;
        Ok(d)
    }

    pub async fn reserved_domain(&self, id: &str) -> Result<Option<ReservedDomain>, StoreError> {
        self.get_row("reserved_domains", COLUMNS, id, decode).await
    }

    pub async fn list_reserved_domains(
        &self,
        page: &Page,
    ) -> Result<Listed<ReservedDomain>, StoreError> {
        self.list_page("reserved_domains", COLUMNS, page, decode)
            .await
    }

    /// True when `domain` (an exact name or `*.x`) is reserved as such. The caller tries each
    /// candidate (`a.b.c`, `*.b.c`, `*.c`) for "exactly or under a reserved wildcard".
    pub async fn domain_is_reserved(&self, domains: &[String]) -> Result<bool, StoreError> {
        for d in domains {
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM reserved_domains WHERE domain = $1")
                    .bind(d.clone())
                    .fetch_optional(&self.pool)
                    .await?;
            if found.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub async fn update_reserved_domain(&self, d: &ReservedDomain) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE reserved_domains SET description = $1, metadata = $2, certificate_id = $3,
             cert_policy = $4, resolves_to = $5 WHERE id = $6",
        )
        .bind(d.description.clone())
        .bind(d.metadata.clone())
        .bind(d.certificate_id.clone())
        .bind(d.cert_policy.to_string())
        .bind(d.resolves_to.to_string())
        .bind(d.id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_reserved_domain(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_row("reserved_domains", id).await
    }
}

fn decode(row: &AnyRow) -> Result<ReservedDomain, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(ReservedDomain {
        cert_policy: json_column(row, &id, "cert_policy")?,
        resolves_to: json_column(row, &id, "resolves_to")?,
        id: ResourceId::parse(&id, "rd").map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            why: e.to_string(),
        })?,
        description: row.try_get("description")?,
        metadata: row.try_get("metadata")?,
        domain: row.try_get("domain")?,
        region: row.try_get("region")?,
        certificate_id: row.try_get("certificate_id")?,
        cname_target: row.try_get("cname_target")?,
        acme_target: row.try_get("acme_target")?,
        created_at: row.try_get("created_at")?,
    })
}
