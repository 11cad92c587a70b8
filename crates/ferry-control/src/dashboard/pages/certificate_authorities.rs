//! "Certificate Authorities": the CA certificates agents' mutual TLS checks clients against.
//! Upload one as a PEM file or pasted text (through `POST /certificate_authorities`'s own
//! code, so a private key or a file that is no certificate is refused with its words and
//! code beside the field), see each one's parsed subject, validity and key type, delete one.

use ferry_store::CertificateAuthority;
use serde_json::Value;

use super::certificates::Uploaded;

impl Uploaded for CertificateAuthority {
    const NONE: &'static str = "No certificate authorities yet.";
    const UPLOAD: (&'static str, &'static str) = (
        "Upload a Certificate Authority",
        "Upload Certificate Authority",
    );
    const PEMS: &'static [(&'static str, &'static str, &'static str)] =
        &[("ca_pem", "CA Certificate", "-----BEGIN CERTIFICATE-----")];

    fn parsed(&self) -> &Value {
        &self.parsed
    }
}
