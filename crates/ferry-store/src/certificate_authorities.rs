//! Uploaded certificate authorities, for mutual TLS. The control plane parses the PEM; the
//! store keeps the PEM and the parsed fields (as JSON) so reads need no parsing.

use serde_json::Value;

use crate::record::record;

record! {
    /// ngrok's `CertificateAuthority`: a CA that HTTPS endpoints with mutual TLS at the edge
    /// require client certificates from.
    pub struct CertificateAuthority, new NewCertificateAuthority {
        table: "certificate_authorities",
        prefix: "ca",
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
        /// ngrok's `ca_pem` as uploaded; the edge builds its client verifier from it.
        pub ca_pem: String,
        /// The fields parsed from `ca_pem`, as the API shows them.
        pub parsed: Value,
    }
}
