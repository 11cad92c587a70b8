//! A certificate authority in memory, shared by the dev CA and `ferry certs generate`: one
//! place that decides what a correct CA and a correct leaf look like (X.509 v3, distinct
//! subjects, basicConstraints, key usages, subjectAltName), so both make what rustls accepts.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use crate::error::PkiError;
use crate::pem;

/// A certificate and key issued by a Ferry CA.
#[derive(Debug)]
pub struct IssuedCert {
    /// The leaf first, then the CA certificate: a complete chain to hand to rustls.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's key, PKCS#8.
    pub key: PrivateKeyDer<'static>,
    /// `chain` in PEM, leaf first: what a server's `crt` file holds.
    pub cert_pem: String,
    /// `key` in PEM ("PRIVATE KEY").
    pub key_pem: String,
}

/// Which side of TLS a leaf authenticates; decides its extended key usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Usage {
    Server,
    Client,
    /// An edge node towards its peers: it serves and dials node-to-node sessions.
    Node,
}

/// A leaf just signed, before it is packaged.
pub(crate) struct Leaf {
    pub(crate) der: CertificateDer<'static>,
    pub(crate) pem: String,
    pub(crate) key: KeyPair,
}

pub(crate) struct Authority {
    /// What rcgen signs with: the CA's subject and key identifier. When the CA is loaded from
    /// disk this is re-derived from the stored certificate, whose bytes stay in `der`.
    issuer: rcgen::Certificate,
    key: KeyPair,
    der: CertificateDer<'static>,
    pem: String,
}

/// Tolerance for clocks that lag the machine that issues: a certificate dated "now" is
/// "not yet valid" to a peer a few seconds behind.
const BACKDATE: Duration = Duration::hours(1);

impl Authority {
    /// A new self-signed root valid for `days`, with `key` or a fresh P-256 key.
    pub(crate) fn create(
        subject: DistinguishedName,
        days: i64,
        key: Option<KeyPair>,
    ) -> Result<Authority, PkiError> {
        let key = match key {
            Some(key) => key,
            None => new_key()?,
        };
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.distinguished_name = subject;
        params.not_before = now - BACKDATE;
        params.not_after = now + Duration::days(days);
        params.serial_number = random_serial();
        // Path length 0: this CA signs leaves only, never another CA.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(PkiError::generate("sign the CA certificate"))?;
        let der = cert.der().clone();
        Ok(Authority {
            pem: pem::encode("CERTIFICATE", &der),
            issuer: cert,
            key,
            der,
        })
    }

    /// A CA from its stored certificate and key. The caller has checked that they match.
    pub(crate) fn from_parts(
        der: CertificateDer<'static>,
        key: KeyPair,
    ) -> Result<Authority, PkiError> {
        let params = CertificateParams::from_ca_cert_der(&der)
            .map_err(PkiError::generate("read the CA certificate"))?;
        let issuer = params
            .self_signed(&key)
            .map_err(PkiError::generate("prepare the CA for signing"))?;
        Ok(Authority {
            pem: pem::encode("CERTIFICATE", &der),
            issuer,
            key,
            der,
        })
    }

    pub(crate) fn cert_der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    pub(crate) fn cert_pem(&self) -> &str {
        &self.pem
    }

    pub(crate) fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Signs a fresh P-256 leaf for `sans`, valid for `days` from now.
    pub(crate) fn sign_leaf(
        &self,
        common_name: &str,
        sans: Vec<SanType>,
        usage: Usage,
        days: i64,
    ) -> Result<Leaf, PkiError> {
        let key = new_key()?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        // The common name is only a label for humans (clients match subjectAltName), and
        // X.509 caps it at 64 characters.
        if !common_name.is_empty() && common_name.len() <= 64 {
            dn.push(DnType::CommonName, common_name);
        }
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        params.not_before = now - BACKDATE;
        params.not_after = now + Duration::days(days);
        params.serial_number = random_serial();
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match usage {
            Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Usage::Node => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        let cert = params
            .signed_by(&key, &self.issuer, &self.key)
            .map_err(PkiError::generate("sign the certificate"))?;
        let der = cert.der().clone();
        Ok(Leaf {
            pem: pem::encode("CERTIFICATE", &der),
            der,
            key,
        })
    }

    /// Packages a leaf with this CA as its chain.
    pub(crate) fn issued(&self, leaf: Leaf) -> IssuedCert {
        IssuedCert {
            cert_pem: format!("{}{}", leaf.pem, self.pem),
            key_pem: leaf.key.serialize_pem(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.serialize_der())),
            chain: vec![leaf.der, self.der.clone()],
        }
    }
}

pub(crate) fn new_key() -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(PkiError::generate("generate a key"))
}

/// 16 random bytes, positive (top bit clear). rcgen's default serial is a hash of the public
/// key, which would repeat if a key were ever reused (a CA re-made from its old key); clients
/// reject two certificates with one issuer and serial.
fn random_serial() -> Option<SerialNumber> {
    let mut bytes = [0u8; 16];
    let rng = rustls::crypto::ring::default_provider().secure_random;
    rng.fill(&mut bytes).ok()?;
    bytes[0] &= 0x7f;
    Some(SerialNumber::from_slice(&bytes))
}
