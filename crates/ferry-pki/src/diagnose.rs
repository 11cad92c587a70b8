//! What a TLS peer will hold against a certificate, said before the handshake does.
//!
//! rustls (and browsers) reject the certificates the guides' openssl script makes, but the
//! handshake only reports "unknown issuer" or "bad certificate" on the *other* side of the
//! connection (DESIGN trap 1). Each [`Defect`] here is one such reason, worded with its fix, so
//! Ferry can refuse a file up front and say why.

use std::fmt;
use std::path::Path;

use rustls::pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::public_key::PublicKey;
use x509_parser::time::ASN1Time;

use crate::error::LoadError;

/// One reason a TLS peer will reject a certificate. The Display text names the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Defect {
    /// X.509 v1: no extensions, so no subjectAltName and no CA flag; webpki rejects it.
    X509v1,
    /// A certificate a server could present that names no host in subjectAltName.
    NoSubjectAltName,
    /// A leaf whose subject repeats its issuer's while it is not self-signed.
    SubjectEqualsIssuer,
    /// Past its notAfter date by this machine's clock.
    Expired {
        /// In UTC: `2026-01-31 23:59:59 UTC`.
        not_after: String,
    },
    /// Before its notBefore date by this machine's clock: a skewed clock here or where it was
    /// made.
    NotYetValid {
        /// In UTC: `2026-01-31 23:59:59 UTC`.
        not_before: String,
    },
    /// A CA certificate where a server or client certificate belongs.
    CaAsLeaf,
    /// A leaf certificate where a CA certificate belongs.
    NotCa,
    /// An extended key usage that allows neither serverAuth nor clientAuth.
    NoTlsUsage,
    /// A server certificate whose extended key usage lacks serverAuth.
    MissingServerAuth,
    /// A client certificate whose extended key usage lacks clientAuth.
    MissingClientAuth,
    /// An RSA key under the 2048 bits rustls requires.
    RsaKeyTooSmall {
        /// The key's modulus size.
        bits: usize,
    },
    /// Signed with MD2, MD5 or SHA-1, which rustls refuses; a self-signed root is exempt,
    /// since nobody checks a trust anchor's own signature.
    WeakSignature {
        /// The OpenSSL name, e.g. `sha1WithRSAEncryption`.
        algorithm: &'static str,
    },
    /// The DER does not parse as X.509, so nothing else could be checked.
    Unparseable {
        /// The parser's explanation.
        reason: String,
    },
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Defect::X509v1 => f.write_str(
                "it is an X.509 v1 certificate, which carries no extensions (subjectAltName, \
                 basicConstraints, key usage) and which rustls and browsers reject; make a v3 \
                 set with `ferry certs generate`, or sign with `openssl x509 -req ... -extfile \
                 FILE` naming the extensions",
            ),
            Defect::NoSubjectAltName => f.write_str(
                "it has no subjectAltName, and TLS clients match the host name only against \
                 subjectAltName (the common name is ignored); reissue it with the host names as \
                 subjectAltNames, e.g. with `ferry certs generate`",
            ),
            Defect::SubjectEqualsIssuer => f.write_str(
                "its subject is the same as its issuer's but it is not self-signed, so \
                 verifiers take it for a self-signed certificate and never reach the CA \
                 (`openssl verify` says \"self-signed certificate\"); give the CA and the leaf \
                 certificates different subjects (CN), e.g. with `ferry certs generate`",
            ),
            Defect::Expired { not_after } => write!(
                f,
                "it expired on {not_after}; issue a new one, e.g. with `ferry certs generate`"
            ),
            Defect::NotYetValid { not_before } => write!(
                f,
                "it is not valid before {not_before}; check the clock of this machine and of \
                 the one that made it, or issue a new one"
            ),
            Defect::CaAsLeaf => f.write_str(
                "it is a CA certificate (basicConstraints CA:TRUE), not a server or client \
                 certificate; pass the certificate the CA signed (e.g. server-crt.pem), and the \
                 CA certificate only where CAs are trusted (`mutual_tls_cas`, `root_cas`)",
            ),
            Defect::NotCa => f.write_str(
                "it is a leaf certificate, not a CA; pass the certificate of the CA that signed \
                 it (ca-crt.pem)",
            ),
            Defect::NoTlsUsage => f.write_str(
                "its extended key usage allows neither serverAuth nor clientAuth, so no TLS \
                 peer accepts it; reissue it, e.g. with `ferry certs generate`",
            ),
            Defect::MissingServerAuth => f.write_str(
                "its extended key usage does not include serverAuth, so TLS clients refuse it \
                 as a server certificate; if this is the client certificate, pass the server \
                 certificate (server-crt.pem) instead, or reissue it with serverAuth",
            ),
            Defect::MissingClientAuth => f.write_str(
                "its extended key usage does not include clientAuth, so TLS servers refuse it \
                 as a client certificate; if this is the server certificate, pass the client \
                 certificate (client-crt.pem) instead, or reissue it with clientAuth",
            ),
            Defect::RsaKeyTooSmall { bits } => write!(
                f,
                "its RSA key has {bits} bits and rustls requires at least 2048; reissue it \
                 with a larger key or ECDSA P-256, e.g. with `ferry certs generate`"
            ),
            Defect::WeakSignature { algorithm } => write!(
                f,
                "it is signed with {algorithm}, which rustls rejects; reissue it signed with \
                 SHA-256, e.g. with `ferry certs generate`"
            ),
            Defect::Unparseable { reason } => {
                write!(f, "it is not a valid X.509 certificate ({reason})")
            }
        }
    }
}

/// The part a certificate is about to play; some defects only matter in one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertRole {
    /// Role unknown (`ferry certs check`): only defects that hurt in every role.
    Any,
    /// A server's `crt`: needs subjectAltName and, if it has an extended key usage,
    /// serverAuth.
    ServerLeaf,
    /// A client certificate for mutual TLS: needs clientAuth if it has an extended key usage.
    ClientLeaf,
    /// A trust anchor (`mutual_tls_cas`, `root_cas`): must be a CA.
    Ca,
}

/// Role-independent diagnosis (DESIGN trap 1).
pub fn diagnose_certificate(der: &CertificateDer<'_>) -> Vec<Defect> {
    diagnose_for(der, CertRole::Any)
}

/// Diagnosis of a certificate about to play `role`.
pub fn diagnose_for(der: &CertificateDer<'_>, role: CertRole) -> Vec<Defect> {
    let cert = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            return vec![Defect::Unparseable {
                reason: e.to_string(),
            }]
        }
    };
    let facts = Facts::of(&cert);
    let mut defects = Vec::new();

    if cert.version().0 < 2 {
        defects.push(Defect::X509v1);
    }
    if !facts.ca_like {
        if facts.names_issuer_as_self && facts.self_signed == Some(false) {
            defects.push(Defect::SubjectEqualsIssuer);
        }
        let may_serve = match role {
            CertRole::Any => facts.eku.is_none_or(|e| e.server),
            CertRole::ServerLeaf => true,
            CertRole::ClientLeaf | CertRole::Ca => false,
        };
        if may_serve && !facts.has_san {
            defects.push(Defect::NoSubjectAltName);
        }
    }
    match (role, facts.eku) {
        (CertRole::Any, Some(eku)) if !facts.ca_like && !eku.server && !eku.client => {
            defects.push(Defect::NoTlsUsage)
        }
        (CertRole::ServerLeaf, Some(eku)) if !eku.server => defects.push(Defect::MissingServerAuth),
        (CertRole::ClientLeaf, Some(eku)) if !eku.client => defects.push(Defect::MissingClientAuth),
        _ => {}
    }
    match role {
        CertRole::ServerLeaf | CertRole::ClientLeaf if facts.ca_like => {
            defects.push(Defect::CaAsLeaf)
        }
        CertRole::Ca if !facts.ca_like => defects.push(Defect::NotCa),
        _ => {}
    }

    let now = ASN1Time::now().timestamp();
    let validity = cert.validity();
    if now < validity.not_before.timestamp() {
        defects.push(Defect::NotYetValid {
            not_before: format_time(validity.not_before),
        });
    }
    if now > validity.not_after.timestamp() {
        defects.push(Defect::Expired {
            not_after: format_time(validity.not_after),
        });
    }

    if let Ok(PublicKey::RSA(rsa)) = cert.public_key().parsed() {
        let bits = rsa.key_size();
        if bits < 2048 {
            defects.push(Defect::RsaKeyTooSmall { bits });
        }
    }
    // A trust anchor's own signature is never checked, so only signatures on others count.
    if facts.self_signed != Some(true) {
        if let Some(algorithm) = weak_signature(&cert) {
            defects.push(Defect::WeakSignature { algorithm });
        }
    }
    defects
}

/// Refuses a certificate with any defect for `role`, naming the file and every defect.
pub fn check_certificate(
    path: &Path,
    der: &CertificateDer<'_>,
    role: CertRole,
) -> Result<(), LoadError> {
    let defects = diagnose_for(der, role);
    if defects.is_empty() {
        return Ok(());
    }
    let subject = x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| describe_subject(&c))
        .unwrap_or_else(|_| "(unreadable subject)".to_owned());
    Err(LoadError::Defective {
        path: path.to_path_buf(),
        subject,
        defects,
    })
}

#[derive(Clone, Copy)]
struct Eku {
    server: bool,
    client: bool,
}

/// What the checks above need to know about a certificate, computed once.
struct Facts {
    ca_like: bool,
    names_issuer_as_self: bool,
    /// `None` when the signature algorithm is one `ring` cannot check.
    self_signed: Option<bool>,
    has_san: bool,
    eku: Option<Eku>,
}

impl Facts {
    fn of(cert: &X509Certificate<'_>) -> Facts {
        let names_issuer_as_self = cert.subject().as_raw() == cert.issuer().as_raw();
        let self_signed = if names_issuer_as_self {
            match cert.verify_signature(None) {
                Ok(()) => Some(true),
                Err(X509Error::SignatureUnsupportedAlgorithm) => None,
                Err(_) => Some(false),
            }
        } else {
            Some(false)
        };
        let has_san = matches!(
            cert.subject_alternative_name(),
            Ok(Some(san)) if !san.value.general_names.is_empty()
        );
        let eku = match cert.extended_key_usage() {
            Ok(Some(ext)) => Some(Eku {
                server: ext.value.any || ext.value.server_auth,
                client: ext.value.any || ext.value.client_auth,
            }),
            _ => None,
        };
        Facts {
            ca_like: is_ca_like(cert, self_signed),
            names_issuer_as_self,
            self_signed,
            has_san,
            eku,
        }
    }
}

/// A CA is what says so (basicConstraints CA:TRUE), or, lacking that extension, what signs
/// itself: old v1 roots made by `openssl req -x509` without v3 config are such CAs, and webpki
/// accepts them as trust anchors.
fn is_ca_like(cert: &X509Certificate<'_>, self_signed: Option<bool>) -> bool {
    match cert.basic_constraints() {
        Ok(Some(bc)) => bc.value.ca,
        _ => self_signed == Some(true),
    }
}

/// Whether a parsed certificate may stand as a CA, for the CA loader.
pub(crate) fn cert_is_ca(cert: &X509Certificate<'_>) -> bool {
    Facts::of(cert).ca_like
}

/// A subject for messages: the common name if there is one, else the whole name.
pub(crate) fn describe_subject(cert: &X509Certificate<'_>) -> String {
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok());
    match cn {
        Some(cn) => cn.to_owned(),
        None => cert.subject().to_string(),
    }
}

fn weak_signature(cert: &X509Certificate<'_>) -> Option<&'static str> {
    Some(
        match cert.signature_algorithm.algorithm.to_id_string().as_str() {
            "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
            "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
            "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => "sha1WithRSAEncryption",
            "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
            "1.2.840.10040.4.3" => "dsa-with-SHA1",
            _ => return None,
        },
    )
}

/// `2026-01-31 23:59:59 UTC`: unambiguous, and sortable by eye.
fn format_time(t: ASN1Time) -> String {
    let dt = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[cfg(test)]
mod tests {
    use rcgen::{ExtendedKeyUsagePurpose, IsCa};
    use time::{Duration, OffsetDateTime};

    use super::*;
    use crate::test_support::{fixture, fixture_der, self_signed};
    use crate::DevCa;

    #[test]
    fn the_guides_openssl_leaf_is_v1_without_san_and_named_like_its_ca() {
        let der = fixture_der("guide-server-crt.pem");
        let defects = diagnose_certificate(&der);
        assert_eq!(
            defects,
            [
                Defect::X509v1,
                Defect::SubjectEqualsIssuer,
                Defect::NoSubjectAltName
            ]
        );
        for d in &defects {
            assert!(d.to_string().contains("ferry certs generate"), "{d}");
        }
        assert!(Defect::SubjectEqualsIssuer
            .to_string()
            .contains("self-signed certificate"));
    }

    #[test]
    fn the_guides_ca_and_client_certificates() {
        assert_eq!(diagnose_certificate(&fixture_der("guide-ca-crt.pem")), []);
        assert_eq!(
            diagnose_for(&fixture_der("guide-ca-crt.pem"), CertRole::Ca),
            []
        );
        // A client certificate needs no subjectAltName, but v1 is still refused.
        let client = fixture_der("guide-client-crt.pem");
        assert_eq!(
            diagnose_for(&client, CertRole::ClientLeaf),
            [Defect::X509v1]
        );
    }

    #[test]
    fn a_self_signed_leaf_is_not_subject_equals_issuer() {
        let der = self_signed(|p| p.is_ca = IsCa::ExplicitNoCa);
        assert_eq!(diagnose_for(&der, CertRole::ServerLeaf), []);
    }

    #[test]
    fn expired_and_not_yet_valid() {
        let now = OffsetDateTime::now_utc();
        let expired = self_signed(|p| {
            p.not_before = now - Duration::days(30);
            p.not_after = now - Duration::days(1);
        });
        let defects = diagnose_certificate(&expired);
        let [Defect::Expired { not_after }] = defects.as_slice() else {
            panic!("expected only Expired, got {defects:?}");
        };
        let year = (now - Duration::days(1)).year().to_string();
        assert!(
            not_after.starts_with(&year) && not_after.ends_with("UTC"),
            "{not_after}"
        );
        assert!(Defect::Expired {
            not_after: not_after.clone()
        }
        .to_string()
        .contains(&format!("expired on {not_after}")));

        let future = self_signed(|p| p.not_before = now + Duration::days(2));
        assert!(matches!(
            diagnose_certificate(&future).as_slice(),
            [Defect::NotYetValid { .. }]
        ));
    }

    #[test]
    fn roles_catch_a_ca_as_leaf_and_a_leaf_as_ca() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = DevCa::load_or_create(dir.path()).expect("dev CA");
        assert_eq!(
            diagnose_for(ca.cert_der(), CertRole::ServerLeaf),
            [Defect::CaAsLeaf]
        );
        assert_eq!(diagnose_for(ca.cert_der(), CertRole::Ca), []);
        let leaf = ca
            .issue_server(&["a.test".into()])
            .expect("issue")
            .chain
            .remove(0);
        assert_eq!(diagnose_for(&leaf, CertRole::Ca), [Defect::NotCa]);
        assert_eq!(diagnose_for(&leaf, CertRole::ServerLeaf), []);
        assert_eq!(
            diagnose_for(&leaf, CertRole::ClientLeaf),
            [Defect::MissingClientAuth]
        );
    }

    #[test]
    fn extended_key_usage_must_allow_the_role() {
        let client = self_signed(|p| {
            p.is_ca = IsCa::ExplicitNoCa;
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        });
        assert_eq!(
            diagnose_for(&client, CertRole::ServerLeaf),
            [Defect::MissingServerAuth]
        );
        assert_eq!(diagnose_for(&client, CertRole::ClientLeaf), []);
        assert_eq!(diagnose_certificate(&client), []);

        let signing = self_signed(|p| {
            p.is_ca = IsCa::ExplicitNoCa;
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        });
        assert_eq!(diagnose_certificate(&signing), [Defect::NoTlsUsage]);
    }

    #[test]
    fn a_leaf_without_san_is_flagged_only_where_it_may_serve() {
        let no_san = self_signed(|p| {
            p.subject_alt_names.clear();
            p.is_ca = IsCa::ExplicitNoCa;
        });
        assert_eq!(
            diagnose_for(&no_san, CertRole::ServerLeaf),
            [Defect::NoSubjectAltName]
        );
        assert_eq!(diagnose_for(&no_san, CertRole::ClientLeaf), []);
    }

    #[test]
    fn garbage_is_unparseable_and_check_names_file_and_defects() {
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(matches!(
            diagnose_certificate(&junk).as_slice(),
            [Defect::Unparseable { .. }]
        ));
        let path = fixture("guide-server-crt.pem");
        let der = fixture_der("guide-server-crt.pem");
        let err = check_certificate(&path, &der, CertRole::ServerLeaf).expect_err("defective");
        assert_eq!(err.code(), ferry_types::ErrorCode::CertificateDefective);
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("\"customer1.example.test\""), "{msg}");
        assert!(msg.contains("X.509 v1"), "{msg}");
    }
}
