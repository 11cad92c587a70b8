//! Agent ingresses: domains whose names (and every name below) the edge's agent ingress
//! owns, so that agents can dial `tunnel.<region>.<domain>`.

use serde_json::Value;

use crate::record::{record, Unique};
use crate::{Store, StoreError};

record! {
    /// ngrok's `AgentIngress`. The edge reads only `domain`, which the control plane hands it
    /// whenever the list changes.
    pub struct AgentIngress, new NewAgentIngress {
        table: "agent_ingresses",
        prefix: "agin",
        mutable: [description, metadata, cert_policy],
        unique: Some(Unique { column: "domain", what: "agent ingress domain" }),
    }
    columns {
        /// ngrok's `description`: the user's note, at most 255 bytes (the control plane
        /// checks).
        pub description: String,
        /// ngrok's `metadata`: the user's own data (often JSON), at most 4096 bytes; Ferry
        /// never reads it.
        pub metadata: String,
        /// ngrok's `domain`, lower-case: the agent ingress owns it and every name below it.
        pub domain: String,
        /// `certificate_management_policy` as the API shows it (`null` or an object).
        pub cert_policy: Value,
        /// The managed certificate being served (`cert_`), or empty; written by the
        /// certificate job, never by an API update.
        pub managed_cert_id: String,
        /// ngrok's `certificate_management_status` as the API shows it, written with the
        /// certificate job ([`crate::CertJob::status`]); `null` when unmanaged.
        pub cert_status: Value,
    }
}

impl Store {
    /// Every agent ingress domain, for the edge to decide whether an SNI name is an agent's.
    pub async fn agent_ingress_domains(&self) -> Result<Vec<String>, StoreError> {
        self.column("SELECT domain FROM agent_ingresses", &[]).await
    }
}
