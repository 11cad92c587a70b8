//! Loading the certificate and key files users pass (`crt`, `key`, `mutual_tls_cas`,
//! `root_cas`), refusing a wrong file with what it actually holds (DESIGN trap 2).
//!
//! A file may hold several kinds of block (a certificate dump with its key, OpenSSL's
//! "EC PARAMETERS" before an EC key); each loader takes the blocks it needs and only complains
//! when there are none, describing the first block it found instead.

use std::io;
use std::path::Path;

use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::diagnose::{cert_is_ca, check_certificate, describe_subject, CertRole};
use crate::error::{Expected, LoadError};
use crate::pem::{self, Block, KeyFormat, Kind};

/// Loads a PEM certificate chain for a server or client (`crt`), leaf first as in the file.
pub fn load_cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    cert_chain_from(path, &read_file(path)?)
}

/// [`load_cert_chain`] on the contents of `path`.
fn cert_chain_from(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let blocks = read_blocks(path, bytes, Expected::Certificate)?;
    let certs = certificates(path, &blocks)?;
    if certs.is_empty() {
        return Err(wrong_kind(path, &blocks, Expected::Certificate));
    }
    Ok(certs)
}

/// Loads one PEM private key (PKCS#8, PKCS#1/RSA or SEC1/EC) and checks that rustls can sign
/// with it, so an unusable key fails here, naming the file, rather than at the first handshake.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, LoadError> {
    private_key_from(path, &read_file(path)?)
}

/// [`load_private_key`] on the contents of `path`.
fn private_key_from(path: &Path, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, LoadError> {
    let blocks = read_blocks(path, bytes, Expected::PrivateKey)?;
    let keys: Vec<&Block> = blocks
        .iter()
        .filter(|b| {
            matches!(
                b.kind(),
                Kind::Key(_) | Kind::EncryptedKey | Kind::ForeignKey
            )
        })
        .collect();
    let block = match keys.as_slice() {
        [] => return Err(wrong_kind(path, &blocks, Expected::PrivateKey)),
        [one] => *one,
        several => {
            return Err(LoadError::SeveralKeys {
                path: path.to_path_buf(),
                count: several.len(),
            })
        }
    };
    let key = match block.kind() {
        Kind::Key(KeyFormat::Pkcs8) => {
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(block.der.clone()))
        }
        Kind::Key(KeyFormat::Pkcs1) => {
            PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(block.der.clone()))
        }
        Kind::Key(KeyFormat::Sec1) => {
            PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(block.der.clone()))
        }
        Kind::EncryptedKey => {
            return Err(LoadError::Encrypted {
                path: path.to_path_buf(),
            })
        }
        _ => {
            return Err(LoadError::UnsupportedKey {
                path: path.to_path_buf(),
                reason: format!(
                    "the {:?} format is not supported; convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in {} -out {}.pk8`",
                    block.label,
                    path.display(),
                    path.display()
                ),
            })
        }
    };
    rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| {
        LoadError::UnsupportedKey {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    })?;
    Ok(key)
}

/// Loads the CA certificates that verify peers (`mutual_tls_cas`, `root_cas`). A key or a leaf
/// certificate here is refused: trusting a leaf "works" for that one peer only, and the guides'
/// example passes the CA *key* (DESIGN trap 2).
pub fn load_ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    ca_certs_from_pem(path, &read_file(path)?)
}

/// [`load_ca_certs`] on the contents of `path`, for a caller that also sends them on (the
/// agent puts `mutual_tls_cas` in the bind): what is checked is then what is sent.
pub fn ca_certs_from_pem(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let blocks = read_blocks(path, bytes, Expected::CaCertificate)?;
    let certs = certificates(path, &blocks)?;
    if certs.is_empty() {
        return Err(wrong_kind(path, &blocks, Expected::CaCertificate));
    }
    for der in &certs {
        let (_, cert) = parse_cert(path, der, 0)?;
        if !cert_is_ca(&cert) {
            return Err(LoadError::LeafAsCa {
                path: path.to_path_buf(),
                subject: describe_subject(&cert),
            });
        }
    }
    Ok(certs)
}

/// Checks that `key` belongs to the first certificate of `chain`, by comparing public keys: the
/// second guide pairs the client certificate with the server key, which otherwise surfaces only
/// as a handshake failure on the peer.
pub fn check_key_matches(
    chain: &[CertificateDer<'_>],
    key: &PrivateKeyDer<'_>,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), LoadError> {
    let Some(leaf) = chain.first() else {
        return Err(LoadError::Empty {
            path: cert_path.to_path_buf(),
            expected: Expected::Certificate,
        });
    };
    let (_, cert) = parse_cert(cert_path, leaf, 1)?;
    let signer = rustls::crypto::ring::sign::any_supported_type(key).map_err(|e| {
        LoadError::UnsupportedKey {
            path: key_path.to_path_buf(),
            reason: e.to_string(),
        }
    })?;
    // ring's keys always know their public key; a signer that does not cannot be compared.
    let Some(key_spki) = signer.public_key() else {
        return Ok(());
    };
    let cert_spki = cert.public_key();
    let same = match SubjectPublicKeyInfo::from_der(&key_spki) {
        // Compare algorithm and key bits, not the encoding of the algorithm parameters.
        Ok((_, spki)) => {
            spki.algorithm.algorithm == cert_spki.algorithm.algorithm
                && spki.subject_public_key.data == cert_spki.subject_public_key.data
        }
        Err(_) => key_spki.as_ref() == cert_spki.raw,
    };
    if same {
        Ok(())
    } else {
        Err(LoadError::KeyMismatch {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
        })
    }
}

/// A server's certificate chain and key, checked together.
#[derive(Debug)]
pub struct ServerIdentity {
    /// Leaf first, in file order; never empty.
    pub chain: Vec<CertificateDer<'static>>,
    /// Matches the leaf's public key, and rustls can sign with it.
    pub key: PrivateKeyDer<'static>,
}

/// Loads `crt` and `key` for a TLS server and refuses what clients would refuse: a key that
/// does not match, or a leaf with any [`crate::Defect`] for a server (DESIGN trap 1).
pub fn load_server_identity(crt: &Path, key: &Path) -> Result<ServerIdentity, LoadError> {
    server_identity_from_pem(crt, &read_file(crt)?, key, &read_file(key)?)
}

/// [`load_server_identity`] on PEM that arrived some other way than as files: the edge gets a
/// TLS endpoint's certificate and key in the bind (ngrok's `TLSTermination`). `crt` and `key`
/// only name the two in messages, so the agent's user reads which one is wrong.
pub fn server_identity_from_pem(
    crt: &Path,
    crt_pem: &[u8],
    key: &Path,
    key_pem: &[u8],
) -> Result<ServerIdentity, LoadError> {
    let chain = cert_chain_from(crt, crt_pem)?;
    let private = private_key_from(key, key_pem)?;
    // The certificate's own defects first: a client certificate given as the server's
    // (the second guide's mistake) is named as such, not only as a key that does not match.
    if let Some(leaf) = chain.first() {
        check_certificate(crt, leaf, CertRole::ServerLeaf)?;
    }
    check_key_matches(&chain, &private, crt, key)?;
    Ok(ServerIdentity {
        chain,
        key: private,
    })
}

/// Reads a file whole, telling a missing file from an unreadable one.
pub fn read_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => LoadError::Missing {
            path: path.to_path_buf(),
        },
        _ => LoadError::Unreadable {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// The PEM blocks of `bytes`, read from `path`, that should hold `expected`; an empty or
/// non-PEM file is an error.
fn read_blocks(path: &Path, bytes: &[u8], expected: Expected) -> Result<Vec<Block>, LoadError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(LoadError::Empty {
            path: path.to_path_buf(),
            expected,
        });
    }
    let blocks = pem::parse(bytes).map_err(|e| LoadError::Malformed {
        path: path.to_path_buf(),
        what: e.what(),
        reason: e.reason(),
    })?;
    if blocks.is_empty() {
        let (what, fix) = sniff(path, bytes);
        return Err(LoadError::NotPem {
            path: path.to_path_buf(),
            what,
            expected,
            fix,
        });
    }
    Ok(blocks)
}

/// A guess at what a non-PEM file is, with the conversion that would help.
pub(crate) fn sniff(path: &Path, bytes: &[u8]) -> (String, String) {
    let p = path.display();
    if x509_parser::parse_x509_certificate(bytes).is_ok() {
        return (
            "it holds a DER (binary) certificate".to_owned(),
            format!("convert it with `openssl x509 -inform der -in {p} -out {p}.pem`"),
        );
    }
    if bytes.first() == Some(&0x30) {
        return (
            "it holds binary DER data, perhaps a key".to_owned(),
            format!(
                "if it is a key, convert it with `openssl pkey -inform der -in {p} -out {p}.pem`"
            ),
        );
    }
    if std::str::from_utf8(bytes).is_ok() {
        return (
            "it is text without a \"-----BEGIN\" line".to_owned(),
            String::new(),
        );
    }
    ("it holds binary data".to_owned(), String::new())
}

/// The certificate blocks of `blocks`, each checked to parse as X.509.
fn certificates(path: &Path, blocks: &[Block]) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let mut certs = Vec::new();
    for block in blocks.iter().filter(|b| b.kind() == Kind::Certificate) {
        let der = CertificateDer::from(block.der.clone());
        let (rest, _) = parse_cert(path, &der, block.line)?;
        // OpenSSL's "TRUSTED CERTIFICATE" appends trust settings after the certificate.
        let len = block.der.len() - rest.len();
        certs.push(CertificateDer::from(block.der[..len].to_vec()));
    }
    Ok(certs)
}

fn parse_cert<'a>(
    path: &Path,
    der: &'a CertificateDer<'_>,
    line: usize,
) -> Result<(&'a [u8], x509_parser::certificate::X509Certificate<'a>), LoadError> {
    x509_parser::parse_x509_certificate(der).map_err(|e| LoadError::Malformed {
        path: path.to_path_buf(),
        what: if line == 0 {
            "a certificate".to_owned()
        } else {
            format!("the certificate at line {line}")
        },
        reason: e.to_string(),
    })
}

/// The error for a file with none of the blocks wanted, describing what it holds instead.
fn wrong_kind(path: &Path, blocks: &[Block], expected: Expected) -> LoadError {
    let first = blocks
        .iter()
        .find(|b| b.kind() != Kind::Parameters)
        .or(blocks.first());
    let (found, kind) = match first {
        Some(b) => (b.describe(), b.kind()),
        None => ("nothing".to_owned(), Kind::Other),
    };
    let is_key = matches!(kind, Kind::Key(_) | Kind::EncryptedKey | Kind::ForeignKey);
    let fix = match (kind, expected) {
        (_, Expected::CaCertificate) if is_key => "pass the CA certificate (ca-crt.pem)",
        (_, Expected::Certificate) if is_key => {
            "pass the certificate (e.g. server-crt.pem) here and the key as `key`"
        }
        (Kind::Certificate, Expected::PrivateKey) => {
            "pass the private key made with the certificate (e.g. server-key.pem) here and the certificate as `crt`"
        }
        (Kind::Csr, _) => {
            "sign it with the CA first, or make a complete set with `ferry certs generate`"
        }
        (Kind::PublicKey, Expected::PrivateKey) => {
            "a public key cannot prove an identity; pass the private key"
        }
        (Kind::PublicKey, _) => "pass the certificate, not the bare public key",
        _ => "",
    };
    LoadError::WrongKind {
        path: path.to_path_buf(),
        found,
        expected,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use ferry_types::ErrorCode;

    use super::*;
    use crate::test_support::{fixture, write};

    /// The message names the file and says `needle`.
    fn says(err: &LoadError, path: &Path, needle: &str) {
        let msg = err.to_string();
        assert!(
            msg.contains(&path.display().to_string()),
            "no path in: {msg}"
        );
        assert!(msg.contains(needle), "{needle:?} missing in: {msg}");
    }

    #[test]
    fn a_key_where_a_certificate_is_expected() {
        let path = fixture("guide-server-key.pem");
        let err = load_cert_chain(&path).expect_err("a key is no certificate");
        says(&err, &path, "holds a private key, not a certificate");
        says(&err, &path, "server-crt.pem");
        assert_eq!(err.code(), ErrorCode::FileWrongKind);
    }

    #[test]
    fn a_certificate_where_a_key_is_expected() {
        let path = fixture("guide-server-crt.pem");
        let err = load_private_key(&path).expect_err("a certificate is no key");
        says(&err, &path, "holds a certificate, not a private key");
        assert_eq!(err.code(), ErrorCode::FileWrongKind);
    }

    #[test]
    fn encrypted_keys_say_how_to_decrypt() {
        for name in ["guide-ca-key.pem", "rsa-legacy-encrypted-key.pem"] {
            let path = fixture(name);
            let err = load_private_key(&path).expect_err("encrypted");
            assert!(matches!(err, LoadError::Encrypted { .. }), "{name}: {err}");
            says(&err, &path, "encrypted private key");
            let p = path.display();
            says(&err, &path, &format!("openssl pkey -in {p} -out {p}.dec"));
        }
    }

    #[test]
    fn the_ca_key_passed_as_the_ca_names_the_ca_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let plain = write(
            dir.path(),
            "ca-key.pem",
            std::fs::read(fixture("guide-server-key.pem")).expect("fixture"),
        );
        let err = load_ca_certs(&plain).expect_err("a key is no CA");
        says(
            &err,
            &plain,
            "holds a private key, not a CA certificate; pass the CA certificate (ca-crt.pem)",
        );
        // The guides' own CA key is encrypted (`openssl req -x509 -keyout` without -nodes).
        let guide = fixture("guide-ca-key.pem");
        let err = load_ca_certs(&guide).expect_err("a key is no CA");
        says(
            &err,
            &guide,
            "private key, not a CA certificate; pass the CA certificate (ca-crt.pem)",
        );
    }

    #[test]
    fn a_leaf_passed_as_the_ca_is_named() {
        let path = fixture("guide-server-crt.pem");
        let err = load_ca_certs(&path).expect_err("a leaf is no CA");
        says(
            &err,
            &path,
            "is a leaf certificate for \"customer1.example.test\", not a CA",
        );
        assert_eq!(err.code(), ErrorCode::FileWrongKind);
        let ca = load_ca_certs(&fixture("guide-ca-crt.pem")).expect("the guides' CA is a CA");
        assert_eq!(ca.len(), 1);
    }

    #[test]
    fn garbage_files_are_not_pem() {
        let dir = tempfile::tempdir().expect("temp dir");
        let binary = write(
            dir.path(),
            "garbage.bin",
            [0xde, 0xad, 0xbe, 0xef, 0x00, 0xff],
        );
        let err = load_cert_chain(&binary).expect_err("garbage");
        says(&err, &binary, "is not a PEM file (it holds binary data)");
        let text = write(
            dir.path(),
            "notes.txt",
            "hello, this is not a certificate\n",
        );
        let err = load_ca_certs(&text).expect_err("text");
        says(&err, &text, "is not a PEM file (it is text without");
        let der = fixture_der_bytes();
        let der_path = write(dir.path(), "server.der", der);
        let err = load_cert_chain(&der_path).expect_err("DER");
        let p = der_path.display();
        says(
            &err,
            &der_path,
            &format!("openssl x509 -inform der -in {p} -out {p}.pem"),
        );
    }

    fn fixture_der_bytes() -> Vec<u8> {
        crate::test_support::fixture_der("guide-ca-crt.pem").to_vec()
    }

    #[test]
    fn missing_and_empty_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope.pem");
        let err = load_private_key(&missing).expect_err("missing");
        says(&err, &missing, "does not exist");
        assert_eq!(err.code(), ErrorCode::FileUnreadable);
        let relative = Path::new("surely/not/here.pem");
        let err = load_cert_chain(relative).expect_err("missing");
        says(
            &err,
            relative,
            "relative paths resolve against the working directory",
        );
        let empty = write(dir.path(), "empty.pem", "\n  \n");
        let err = load_cert_chain(&empty).expect_err("empty");
        says(&err, &empty, "is empty; expected a certificate");
        let unreadable = load_cert_chain(dir.path()).expect_err("a directory");
        assert!(
            matches!(unreadable, LoadError::Unreadable { .. }),
            "{unreadable}"
        );
    }

    #[test]
    fn truncated_pem_names_the_block_and_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = std::fs::read_to_string(fixture("guide-ca-crt.pem")).expect("fixture");
        let cut = write(dir.path(), "cut.pem", &text[..text.len() / 2]);
        let err = load_cert_chain(&cut).expect_err("truncated");
        says(&err, &cut, "\"CERTIFICATE\" at line 1 is malformed");
    }

    #[test]
    fn a_csr_is_not_a_certificate() {
        let path = fixture("guide-server-csr.pem");
        let err = load_cert_chain(&path).expect_err("csr");
        says(
            &err,
            &path,
            "holds a certificate signing request (CSR), not a certificate",
        );
    }

    #[test]
    fn every_plain_key_format_loads() {
        let cases = [
            ("guide-server-key.pem", "pkcs8"),
            ("rsa-pkcs1-key.pem", "pkcs1"),
            ("ec-sec1-key.pem", "sec1"),
        ];
        for (name, format) in cases {
            let key = load_private_key(&fixture(name)).unwrap_or_else(|e| panic!("{e}"));
            let got = match key {
                PrivateKeyDer::Pkcs8(_) => "pkcs8",
                PrivateKeyDer::Pkcs1(_) => "pkcs1",
                PrivateKeyDer::Sec1(_) => "sec1",
                _ => "other",
            };
            assert_eq!(got, format, "{name}");
        }
    }

    #[test]
    fn a_file_with_certificate_and_key_serves_both_loaders() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut both = std::fs::read(fixture("guide-server-crt.pem")).expect("fixture");
        both.extend(std::fs::read(fixture("guide-server-key.pem")).expect("fixture"));
        let path = write(dir.path(), "both.pem", both);
        let chain = load_cert_chain(&path).expect("certificate");
        let key = load_private_key(&path).expect("key");
        check_key_matches(&chain, &key, &path, &path).expect("they match");

        let mut two = std::fs::read(fixture("guide-server-key.pem")).expect("fixture");
        two.extend(std::fs::read(fixture("ec-sec1-key.pem")).expect("fixture"));
        let path = write(dir.path(), "two-keys.pem", two);
        let err = load_private_key(&path).expect_err("two keys");
        says(&err, &path, "holds 2 private keys");
    }

    #[test]
    fn a_key_from_another_pair_is_a_mismatch_naming_both_files() {
        let crt = fixture("guide-server-crt.pem");
        let key = fixture("guide-server-key.pem");
        let chain = load_cert_chain(&crt).expect("crt");
        let server_key = load_private_key(&key).expect("key");
        check_key_matches(&chain, &server_key, &crt, &key).expect("the pair matches");

        // The second guide passes the client certificate with the server key.
        let client = fixture("guide-client-crt.pem");
        let client_chain = load_cert_chain(&client).expect("client crt");
        let err =
            check_key_matches(&client_chain, &server_key, &client, &key).expect_err("mismatch");
        assert_eq!(err.code(), ErrorCode::KeyMismatch);
        says(&err, &client, "does not match the certificate");
        says(&err, &key, "does not match");

        let ec_key = load_private_key(&fixture("ec-sec1-key.pem")).expect("ec key");
        assert!(check_key_matches(&chain, &ec_key, &crt, &key).is_err());
    }

    #[test]
    fn the_guides_server_identity_is_refused_with_its_defects() {
        let crt = fixture("guide-server-crt.pem");
        let err = load_server_identity(&crt, &fixture("guide-server-key.pem"))
            .expect_err("the guides' leaf is defective");
        assert_eq!(err.code(), ErrorCode::CertificateDefective);
        says(&err, &crt, "X.509 v1");
        says(&err, &crt, "no subjectAltName");
        says(&err, &crt, "subject is the same as its issuer's");
        says(&err, &crt, "ferry certs generate");
    }
}
