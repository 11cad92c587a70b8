//! "TLS Certificates": certificates (chain, leaf first) with their private keys, served for
//! the names they cover. Upload one as PEM files or pasted text (through
//! `POST /tls_certificates`'s own code: a key where the certificate belongs, or the other way
//! round, is refused beside its field with its code), see each one's parsed subject, names,
//! validity and key type, delete one. The private key is never shown again.

use ferry_store::TlsCertificate;
use maud::{html, Markup};
use serde_json::Value;

use super::certificates::Uploaded;

impl Uploaded for TlsCertificate {
    const NONE: &'static str = "No TLS certificates yet.";
    const UPLOAD: (&'static str, &'static str) =
        ("Upload a TLS Certificate", "Upload TLS Certificate");
    const PEMS: &'static [(&'static str, &'static str, &'static str)] = &[
        (
            "certificate_pem",
            "Certificate (chain, leaf first)",
            "-----BEGIN CERTIFICATE-----",
        ),
        (
            "private_key_pem",
            "Private Key",
            "-----BEGIN PRIVATE KEY-----",
        ),
    ];

    fn parsed(&self) -> &Value {
        &self.parsed
    }

    /// Issued by the edge (ACME) rather than uploaded.
    fn note(&self) -> Markup {
        html! { @if !self.managed_by.is_empty() { " " span.hint { "managed" } } }
    }
}
