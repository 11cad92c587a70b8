//! Uploaded TLS certificates with their private keys. The key is stored for the edge to serve
//! with, and never returned by the API.

use serde_json::Value;

use crate::record::record;

record! {
    pub struct TlsCertificate, new NewTlsCertificate {
        table: "tls_certificates",
        prefix: "cert",
        mutable: [description, metadata],
        unique: None,
    }
    columns {
        pub description: String,
        pub metadata: String,
        pub certificate_pem: String,
        pub private_key_pem: String,
        /// The fields parsed from the leaf certificate, as the API shows them.
        pub parsed: Value,
    }
}
