//! Reserved domains: outside dev mode, an endpoint may bind only a name reserved here, exactly
//! or under a reserved wildcard.

use serde_json::Value;

use crate::record::{record, Unique};
use crate::{Store, StoreError};

record! {
    pub struct ReservedDomain, new NewReservedDomain {
        table: "reserved_domains",
        prefix: "rd",
        mutable: [description, metadata, certificate_id, cert_policy, resolves_to],
        unique: Some(Unique { column: "domain", what: "reserved domain" }),
    }
    columns {
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
    }
}

impl Store {
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
