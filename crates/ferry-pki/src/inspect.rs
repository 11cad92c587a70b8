//! What a file is, whatever it was meant to be: the basis of `ferry certs check`, which has
//! to describe the guides' files before anyone says which role each should play.

use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;

use crate::diagnose::{cert_is_ca, describe_subject, diagnose_certificate, Defect};
use crate::error::LoadError;
use crate::load::{read_file, sniff};
use crate::pem::{self, Kind};

/// One line of `ferry certs check`: what a file holds and, for a certificate, what peers will
/// hold against it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    /// As given.
    pub path: PathBuf,
    /// Judged by the first PEM block, skipping parameter blocks such as "EC PARAMETERS".
    pub kind: FileKind,
    /// Defects of the first certificate, for any role; empty for other kinds.
    pub defects: Vec<Defect>,
}

/// What a file holds, whatever role it was meant for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// `count` certificates; `is_ca` and `subject` describe the first.
    Certificate {
        /// Certificate blocks in the file: more than one is a chain or a CA bundle.
        count: usize,
        /// basicConstraints CA:TRUE, or self-signed without that extension (an old v1 root).
        is_ca: bool,
        /// The common name, or the whole subject when there is none.
        subject: String,
    },
    /// A private key in a format Ferry reads, or an encrypted one.
    PrivateKey {
        /// Passphrase-protected, so Ferry cannot load it as it is.
        encrypted: bool,
    },
    /// A certificate signing request: not usable until a CA signs it.
    Csr,
    /// Anything else, described for a human: "an empty file", "a public key"...
    Unknown {
        /// A noun phrase, shown where a kind would be: "an empty file", "not PEM: ...".
        what: String,
    },
}

/// Describes `path` by its first meaningful PEM block. Only a file that cannot be read, or
/// whose PEM or certificate is corrupt, is an error; a file of an unexpected kind is a report.
pub fn inspect_file(path: &Path) -> Result<FileReport, LoadError> {
    let bytes = read_file(path)?;
    let report = |kind, defects| FileReport {
        path: path.to_path_buf(),
        kind,
        defects,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        let what = "an empty file".to_owned();
        return Ok(report(FileKind::Unknown { what }, Vec::new()));
    }
    let blocks = pem::parse(&bytes).map_err(|e| LoadError::Malformed {
        path: path.to_path_buf(),
        what: e.what(),
        reason: e.reason(),
    })?;
    let Some(first) = blocks
        .iter()
        .find(|b| b.kind() != Kind::Parameters)
        .or(blocks.first())
    else {
        let (what, _) = sniff(path, &bytes);
        let what = format!("not PEM: {what}");
        return Ok(report(FileKind::Unknown { what }, Vec::new()));
    };
    Ok(match first.kind() {
        Kind::Certificate => {
            let count = blocks
                .iter()
                .filter(|b| b.kind() == Kind::Certificate)
                .count();
            let der = CertificateDer::from(first.der.as_slice());
            let (_, cert) =
                x509_parser::parse_x509_certificate(&der).map_err(|e| LoadError::Malformed {
                    path: path.to_path_buf(),
                    what: format!("the certificate at line {}", first.line),
                    reason: e.to_string(),
                })?;
            let kind = FileKind::Certificate {
                count,
                is_ca: cert_is_ca(&cert),
                subject: describe_subject(&cert),
            };
            report(kind, diagnose_certificate(&der))
        }
        Kind::Key(_) => report(FileKind::PrivateKey { encrypted: false }, Vec::new()),
        Kind::EncryptedKey => report(FileKind::PrivateKey { encrypted: true }, Vec::new()),
        Kind::Csr => report(FileKind::Csr, Vec::new()),
        _ => report(
            FileKind::Unknown {
                what: first.describe(),
            },
            Vec::new(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{fixture, write};

    fn kind(name: &str) -> FileKind {
        inspect_file(&fixture(name)).expect("inspect").kind
    }

    #[test]
    fn the_guides_files_are_told_apart() {
        assert_eq!(
            kind("guide-ca-key.pem"),
            FileKind::PrivateKey { encrypted: true }
        );
        assert_eq!(
            kind("rsa-legacy-encrypted-key.pem"),
            FileKind::PrivateKey { encrypted: true }
        );
        assert_eq!(
            kind("guide-server-key.pem"),
            FileKind::PrivateKey { encrypted: false }
        );
        assert_eq!(
            kind("ec-sec1-key.pem"),
            FileKind::PrivateKey { encrypted: false }
        );
        assert_eq!(kind("guide-server-csr.pem"), FileKind::Csr);
        let ca = inspect_file(&fixture("guide-ca-crt.pem")).expect("inspect");
        assert_eq!(
            ca.kind,
            FileKind::Certificate {
                count: 1,
                is_ca: true,
                subject: "customer1.example.test".into()
            }
        );
        assert_eq!(ca.defects, []);
        let leaf = inspect_file(&fixture("guide-server-crt.pem")).expect("inspect");
        assert!(matches!(
            leaf.kind,
            FileKind::Certificate { is_ca: false, .. }
        ));
        assert!(leaf.defects.contains(&Defect::X509v1), "{:?}", leaf.defects);
    }

    #[test]
    fn other_files_are_unknown_with_a_description() {
        let dir = tempfile::tempdir().expect("temp dir");
        let what = |path: &Path| match inspect_file(path).expect("inspect").kind {
            FileKind::Unknown { what } => what,
            other => panic!("expected Unknown, got {other:?}"),
        };
        let empty = write(dir.path(), "empty.pem", "");
        assert_eq!(what(&empty), "an empty file");
        let binary = write(dir.path(), "x.bin", [0xff, 0x00, 0x13]);
        assert!(what(&binary).starts_with("not PEM"));
        let public = write(
            dir.path(),
            "pub.pem",
            crate::pem::encode("PUBLIC KEY", &[0x30, 0x00]),
        );
        assert_eq!(what(&public), "a public key");
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            inspect_file(&missing),
            Err(LoadError::Missing { .. })
        ));
    }
}
