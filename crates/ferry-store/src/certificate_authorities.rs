//! Uploaded certificate authorities, for mutual TLS. The control plane parses the PEM; the
//! store keeps the PEM and the parsed fields (as JSON) so reads need no parsing.

use serde_json::Value;

use crate::record::record;

record! {
    pub struct CertificateAuthority, new NewCertificateAuthority {
        table: "certificate_authorities",
        prefix: "ca",
        mutable: [description, metadata],
        unique: None,
    }
    columns {
        pub description: String,
        pub metadata: String,
        pub ca_pem: String,
        /// The fields parsed from `ca_pem`, as the API shows them.
        pub parsed: Value,
    }
}
