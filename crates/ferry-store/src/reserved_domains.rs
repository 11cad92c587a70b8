//! Reserved domains: outside dev mode, an endpoint may bind only a name reserved here, exactly
//! or under a reserved wildcard.

use serde_json::Value;

use crate::record::{record, Unique};
use crate::{Store, StoreError};

record! {
    /// ngrok's `ReservedDomain`: outside dev mode, what an HTTP or TLS endpoint may bind.
    pub struct ReservedDomain, new NewReservedDomain {
        table: "reserved_domains",
        prefix: "rd",
        mutable: [description, metadata, certificate_id, cert_policy, resolves_to],
        unique: Some(Unique { column: "domain", what: "reserved domain" }),
    }
    columns {
        /// ngrok's `description`: the user's note, at most 255 bytes (the control plane
        /// checks).
        pub description: String,
        /// ngrok's `metadata`: the user's own data (often JSON), at most 4096 bytes; Ferry
        /// never reads it.
        pub metadata: String,
        /// Lower-case; `*.x.y` for a wildcard.
        pub domain: String,
        /// ngrok's deprecated `region`: accepted on create, always stored empty.
        pub region: String,
        /// A `cert_` ID, or empty.
        pub certificate_id: String,
        /// `certificate_management_policy` as the API shows it. By default `null` with a
        /// `certificate_id` or under the edge's own base domain, else Let's Encrypt (ECDSA).
        pub cert_policy: Value,
        /// ngrok's `cname_target`, shown as `null` when empty: the domain needs no CNAME when
        /// it is under the edge's own base domain.
        pub cname_target: String,
        /// ngrok's `acme_challenge_cname_target`, shown as `null` when empty. Set only for
        /// wildcard domains outside the edge's base domain.
        pub acme_target: String,
        /// ngrok's `resolves_to` as the API shows it: a JSON list of `{"value": ...}`;
        /// Ferry keeps it for clients and routes without it.
        pub resolves_to: Value,
        /// The managed certificate being served (`cert_`), or empty; written by the
        /// certificate job, never by an API update.
        pub managed_cert_id: String,
        /// ngrok's `certificate_management_status` as the API shows it, written with the
        /// certificate job ([`crate::CertJob::status`]); `null` when unmanaged.
        pub cert_status: Value,
    }
}

/// The names of the base domain that reserved domains make Ferry's DNS answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReservedDnsTargets {
    /// Every non-empty `cname_target`: answered with the edge's public addresses.
    pub cname_targets: Vec<String>,
    /// Every non-empty `acme_target`: answered with the TXT values of its pending
    /// challenges, or NODATA.
    pub acme_targets: Vec<String>,
}

impl Store {
    /// The CNAME and ACME challenge targets of every reserved domain, for the DNS zones.
    pub async fn reserved_dns_targets(&self) -> Result<ReservedDnsTargets, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT cname_target, acme_target FROM reserved_domains ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let mut t = ReservedDnsTargets::default();
        for (cname, acme) in rows {
            if !cname.is_empty() {
                t.cname_targets.push(cname);
            }
            if !acme.is_empty() {
                t.acme_targets.push(acme);
            }
        }
        Ok(t)
    }

    /// True when `domain` (an exact name or `*.x`) is reserved as such. The caller tries each
    /// candidate (`a.b.c`, `*.b.c`, `*.c`) for "exactly or under a reserved wildcard".
    pub async fn domain_is_reserved(&self, domains: &[String]) -> Result<bool, StoreError> {
        for d in domains {
            let found = self
                .column(
                    "SELECT id FROM reserved_domains WHERE domain = $1",
                    &[d.as_str()],
                )
                .await?;
            if !found.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing;

    fn domain(name: &str, cname: &str, acme: &str) -> NewReservedDomain {
        NewReservedDomain {
            description: String::new(),
            metadata: String::new(),
            domain: name.into(),
            region: String::new(),
            certificate_id: String::new(),
            cert_policy: json!(null),
            cname_target: cname.into(),
            acme_target: acme.into(),
            resolves_to: json!([]),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn dns_targets_leave_out_empty_ones_on_both_databases() {
        let (_dir, stores) = testing::both().await;
        for store in stores {
            let backend = store.backend();
            assert_eq!(
                store.reserved_dns_targets().await.unwrap(),
                ReservedDnsTargets::default()
            );
            store
                .create::<ReservedDomain>(domain("app.ferry.example", "", ""))
                .await
                .unwrap();
            store
                .create::<ReservedDomain>(domain(
                    "app.customer.test",
                    "a.b.cname.ferry.example",
                    "",
                ))
                .await
                .unwrap();
            let wild = store
                .create::<ReservedDomain>(domain(
                    "*.c.customer.test",
                    "c.d.cname.ferry.example",
                    "x.acme-challenge.ferry.example",
                ))
                .await
                .unwrap();
            let t = store.reserved_dns_targets().await.unwrap();
            assert_eq!(
                t.cname_targets,
                ["a.b.cname.ferry.example", "c.d.cname.ferry.example"],
                "{backend:?}"
            );
            assert_eq!(t.acme_targets, ["x.acme-challenge.ferry.example"]);
            store
                .delete::<ReservedDomain>(wild.id.as_str())
                .await
                .unwrap();
            let t = store.reserved_dns_targets().await.unwrap();
            assert_eq!(t.cname_targets, ["a.b.cname.ferry.example"]);
            assert!(t.acme_targets.is_empty());
        }
    }
}
