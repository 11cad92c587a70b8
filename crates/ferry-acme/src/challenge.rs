//! ACME challenges as Ferry answers them: which kind each name is validated by, where a
//! DNS-01 record goes, and the answers the edge serves. A job writes what it published into
//! its row (`cert_jobs.challenges`), and the edge builds its answers from the rows, so the
//! process that answers a validation need not be the one that ordered it, and a job resumed
//! after a restart finds its challenges still published. No I/O here.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The challenge kinds Ferry completes (RFC 8555 section 8, RFC 8737).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A file under `/.well-known/acme-challenge/` on the `http` port.
    #[serde(rename = "http-01")]
    Http01,
    /// A self-signed certificate on the `https` port, offered under ALPN `acme-tls/1`.
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
    /// A TXT record at `_acme-challenge.<name>`, answered by Ferry's own DNS.
    #[serde(rename = "dns-01")]
    Dns01,
}

/// How single names are validated (`--acme-challenge`): HTTP-01 needs the `http` port to be
/// reachable on port 80, TLS-ALPN-01 the `https` port on 443. Wildcards and agent ingress
/// domains always use DNS-01.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SingleNames {
    /// HTTP-01.
    #[default]
    Http01,
    /// TLS-ALPN-01.
    TlsAlpn01,
}

/// Whose certificate a job gets, which decides where DNS-01 records live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A reserved domain: the customer's `_acme-challenge` CNAME points at its
    /// `acme_challenge_cname_target`, where Ferry's DNS answers the TXT record.
    ReservedDomain {
        /// `acme_challenge_cname_target`.
        acme_target: String,
    },
    /// An agent ingress: its zone is delegated to Ferry, which answers
    /// `_acme-challenge.<name>` itself.
    AgentIngress,
    /// The installation's own names (`--api-domain`): single names whose address the
    /// operator points at the edge.
    Installation,
}

/// The challenge for one identifier of an order: `wildcard` as the CA's authorization says.
pub fn choose(owner: &Owner, wildcard: bool, single: SingleNames) -> Kind {
    match (owner, wildcard, single) {
        (Owner::AgentIngress, _, _) | (_, true, _) => Kind::Dns01,
        (_, false, SingleNames::Http01) => Kind::Http01,
        (_, false, SingleNames::TlsAlpn01) => Kind::TlsAlpn01,
    }
}

/// Where the TXT record of a DNS-01 challenge for `name` (without `*.`) is published.
pub fn dns_record_name(owner: &Owner, name: &str) -> String {
    match owner {
        Owner::ReservedDomain { acme_target } => acme_target.to_ascii_lowercase(),
        Owner::AgentIngress | Owner::Installation => {
            format!("_acme-challenge.{}", name.to_ascii_lowercase())
        }
    }
}

/// One challenge published for an order, as the job's row keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Which kind.
    pub kind: Kind,
    /// HTTP-01 and TLS-ALPN-01: the name validated; DNS-01: where the TXT record is.
    pub name: String,
    /// The challenge's token (the HTTP-01 path).
    pub token: String,
    /// HTTP-01 and TLS-ALPN-01: the key authorization; DNS-01: its digest, as the TXT
    /// value.
    pub value: String,
}

/// The HTTP-01 and TLS-ALPN-01 answers of every pending job, from their rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers {
    /// Token → key authorization, served at `/.well-known/acme-challenge/<token>`.
    pub http01: HashMap<String, String>,
    /// Name → the SHA-256 of the key authorization, for the `acme-tls/1` certificate.
    pub tls_alpn01: HashMap<String, [u8; 32]>,
}

impl Answers {
    /// Collects the answers from the `challenges` column of each job; entries that do not
    /// parse are skipped (the column is Ferry's own writing).
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = &'a serde_json::Value>) -> Self {
        let mut answers = Self::default();
        for row in rows {
            let Ok(list) = serde_json::from_value::<Vec<Published>>(row.clone()) else {
                continue;
            };
            for p in list {
                match p.kind {
                    Kind::Http01 => {
                        answers.http01.insert(p.token, p.value);
                    }
                    Kind::TlsAlpn01 => {
                        answers
                            .tls_alpn01
                            .insert(p.name.to_ascii_lowercase(), sha256(&p.value));
                    }
                    Kind::Dns01 => {}
                }
            }
        }
        answers
    }
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// The TLS-ALPN-01 certificate for `name` (RFC 8737 section 3): self-signed, the name as
/// its only SAN, and the critical `acmeIdentifier` extension holding `digest`. Returns the
/// certificate and key, DER.
pub fn alpn_certificate(name: &str, digest: &[u8; 32]) -> Result<(Vec<u8>, Vec<u8>), rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(digest));
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.der().to_vec(), key.serialize_der()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd() -> Owner {
        Owner::ReservedDomain {
            acme_target: "Abc.Acme.Ferry.Example".into(),
        }
    }

    #[test]
    fn wildcards_and_agent_ingresses_take_dns01_single_names_the_chosen_kind() {
        assert_eq!(choose(&rd(), true, SingleNames::Http01), Kind::Dns01);
        assert_eq!(choose(&rd(), false, SingleNames::Http01), Kind::Http01);
        assert_eq!(
            choose(&rd(), false, SingleNames::TlsAlpn01),
            Kind::TlsAlpn01
        );
        assert_eq!(
            choose(&Owner::AgentIngress, false, SingleNames::Http01),
            Kind::Dns01
        );
    }

    #[test]
    fn dns01_records_go_to_the_cname_target_or_into_the_delegated_zone() {
        assert_eq!(
            dns_record_name(&rd(), "c1.example.com"),
            "abc.acme.ferry.example"
        );
        assert_eq!(
            dns_record_name(&Owner::AgentIngress, "Connect.Example.com"),
            "_acme-challenge.connect.example.com"
        );
    }

    #[test]
    fn answers_come_from_the_rows_and_skip_what_does_not_parse() {
        let row = serde_json::json!([
            {"kind": "http-01", "name": "a.example.com", "token": "tok", "value": "tok.thumb"},
            {"kind": "tls-alpn-01", "name": "B.example.com", "token": "t2", "value": "t2.thumb"},
            {"kind": "dns-01", "name": "x.acme.example", "token": "t3", "value": "digest"},
        ]);
        let junk = serde_json::json!({"not": "a list"});
        let answers = Answers::from_rows([&row, &junk, &serde_json::json!([])]);
        assert_eq!(
            answers.http01.get("tok").map(String::as_str),
            Some("tok.thumb")
        );
        assert_eq!(answers.http01.len(), 1);
        assert_eq!(
            answers.tls_alpn01.get("b.example.com"),
            Some(&sha256("t2.thumb"))
        );
    }

    #[test]
    fn the_alpn_certificate_names_the_host_and_carries_the_critical_digest() {
        let digest = sha256("token.thumb");
        let (der, _key) = alpn_certificate("app.example.com", &digest).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(
            format!("{:?}", san.value.general_names),
            "[DNSName(\"app.example.com\")]"
        );
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .unwrap();
        assert!(ext.critical);
        // An OCTET STRING of 32 bytes: the digest.
        assert_eq!(&ext.value[..2], &[0x04, 0x20]);
        assert_eq!(&ext.value[2..], &digest);
    }
}
