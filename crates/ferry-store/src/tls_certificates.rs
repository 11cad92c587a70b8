//! TLS certificates with their private keys: uploaded ones, and those Ferry manages for a
//! reserved domain or an agent ingress. The key is stored sealed (`sealed.rs`) for the edge
//! to serve with, and never returned by the API.

use serde_json::Value;

use crate::record::record;
use crate::Sealed;

record! {
    /// ngrok's `TlsCertificate`, with the private key the API takes but never answers.
    pub struct TlsCertificate, new NewTlsCertificate {
        table: "tls_certificates",
        prefix: "cert",
        mutable: [description, metadata],
        unique: None,
    }
    columns {
        /// ngrok's `description`: the user's note, at most 255 bytes (the control plane
        /// checks).
        pub description: String,
        /// ngrok's `metadata`: the user's own data (often JSON), at most 4096 bytes; Ferry
        /// never reads it.
        pub metadata: String,
        /// ngrok's `certificate_pem` as uploaded: the chain, leaf first.
        pub certificate_pem: String,
        /// ngrok's `private_key_pem`, sealed: serving needs the key itself, so unlike a
        /// token's secret it cannot be kept as a hash. Never in an API answer.
        pub private_key_pem: Sealed,
        /// The fields parsed from the leaf certificate, as the API shows them.
        pub parsed: Value,
        /// The reserved domain or agent ingress (`rd_`, `agin_`) whose managed certificate
        /// this is; empty for an uploaded one.
        pub managed_by: String,
    }
}
