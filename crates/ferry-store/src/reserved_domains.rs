//! Reserved domains: outside dev mode, an endpoint may bind only a name reserved here, exactly
//! or under a reserved wildcard.

use ferry_types::ResourceId;
use serde_json::Value;

use crate::record::{Cell, Fields, Record, Table};
use crate::{now_rfc3339, unique, Store, StoreError};

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

impl Record for ReservedDomain {
    const TABLE: Table = Table {
        name: "reserved_domains",
        prefix: "rd",
        columns: &[
            "id",
            "description",
            "metadata",
            "domain",
            "region",
            "certificate_id",
            "cert_policy",
            "cname_target",
            "acme_target",
            "resolves_to",
            "created_at",
        ],
        mutable: &[
            "description",
            "metadata",
            "certificate_id",
            "cert_policy",
            "resolves_to",
        ],
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
            (&self.region).into(),
            (&self.certificate_id).into(),
            (&self.cert_policy).into(),
            (&self.cname_target).into(),
            (&self.acme_target).into(),
            (&self.resolves_to).into(),
            (&self.created_at).into(),
        ]
    }

    fn decode(f: &Fields<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: f.id(),
            description: f.text("description")?,
            metadata: f.text("metadata")?,
            domain: f.text("domain")?,
            region: f.text("region")?,
            certificate_id: f.text("certificate_id")?,
            cert_policy: f.json("cert_policy")?,
            cname_target: f.text("cname_target")?,
            acme_target: f.text("acme_target")?,
            resolves_to: f.json("resolves_to")?,
            created_at: f.text("created_at")?,
        })
    }
}

impl Store {
    pub async fn create_reserved_domain(
        &self,
        n: NewReservedDomain,
    ) -> Result<ReservedDomain, StoreError> {
        let d = ReservedDomain {
            id: ResourceId::generate(ReservedDomain::TABLE.prefix),
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
        self.insert(&d, &[])
            .await
            .map_err(unique("reserved domain", &d.domain))?;
        Ok(d)
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
}
