//! The two error types: [`LoadError`] for files a user hands to Ferry, [`PkiError`] for what
//! Ferry makes itself. Every message names the file, the defect, and the fix where there is one,
//! because these errors reach people through a CLI line or a JSON `msg`, never a debugger.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use ferry_types::ErrorCode;

use crate::diagnose::Defect;

/// What a loader was asked for, so that a wrong file can be described against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    /// A server's or client's own certificate chain (`crt`).
    Certificate,
    /// A private key (`key`).
    PrivateKey,
    /// Certificates of CAs to trust (`mutual_tls_cas`, `root_cas`).
    CaCertificate,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Certificate => "a certificate",
            Expected::PrivateKey => "a private key",
            Expected::CaCertificate => "a CA certificate",
        })
    }
}

/// A certificate or key file that cannot be used as given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("{}", missing_message(path))]
    Missing { path: PathBuf },

    #[error("cannot read {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },

    #[error("{} is empty; expected {expected} in PEM form", path.display())]
    Empty { path: PathBuf, expected: Expected },

    #[error("{} is not a PEM file ({what}); expected {expected} in PEM form (\"-----BEGIN ...-----\"){}", path.display(), fix_suffix(fix))]
    NotPem {
        path: PathBuf,
        what: String,
        expected: Expected,
        fix: String,
    },

    #[error("{} holds {found}, not {expected}{}", path.display(), fix_suffix(fix))]
    WrongKind {
        path: PathBuf,
        found: String,
        expected: Expected,
        fix: &'static str,
    },

    #[error(
        "{} holds an encrypted private key and Ferry needs it unencrypted; decrypt it with `openssl pkey -in {} -out {}.dec` and pass {}.dec",
        path.display(), path.display(), path.display(), path.display()
    )]
    Encrypted { path: PathBuf },

    #[error("{} is a leaf certificate for \"{subject}\", not a CA; pass the certificate of the CA that signed it (ca-crt.pem)", path.display())]
    LeafAsCa { path: PathBuf, subject: String },

    #[error("{} holds {count} private keys; pass a file with exactly one", path.display())]
    SeveralKeys { path: PathBuf, count: usize },

    #[error("{}: {what} is malformed: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        what: String,
        reason: String,
    },

    #[error("{} holds a private key that Ferry cannot use ({reason}); use an RSA (2048 bits or more), ECDSA P-256/P-384 or Ed25519 key, e.g. from `ferry certs generate`", path.display())]
    UnsupportedKey { path: PathBuf, reason: String },

    #[error("the private key {} does not match the certificate {} (their public keys differ); pass the key that was made together with this certificate", key_path.display(), cert_path.display())]
    KeyMismatch {
        cert_path: PathBuf,
        key_path: PathBuf,
    },

    #[error("{}: the certificate for \"{subject}\" will be rejected by TLS peers: {}", path.display(), join_defects(defects))]
    Defective {
        path: PathBuf,
        subject: String,
        defects: Vec<Defect>,
    },
}

impl LoadError {
    pub fn code(&self) -> ErrorCode {
        match self {
            LoadError::Missing { .. }
            | LoadError::Unreadable { .. }
            | LoadError::Malformed { .. } => ErrorCode::FileUnreadable,
            LoadError::Empty { .. }
            | LoadError::NotPem { .. }
            | LoadError::WrongKind { .. }
            | LoadError::Encrypted { .. }
            | LoadError::LeafAsCa { .. }
            | LoadError::SeveralKeys { .. }
            | LoadError::UnsupportedKey { .. } => ErrorCode::FileWrongKind,
            LoadError::KeyMismatch { .. } => ErrorCode::KeyMismatch,
            LoadError::Defective { .. } => ErrorCode::CertificateDefective,
        }
    }

    /// The file the error is about (for a key mismatch, the key).
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Missing { path }
            | LoadError::Unreadable { path, .. }
            | LoadError::Empty { path, .. }
            | LoadError::NotPem { path, .. }
            | LoadError::WrongKind { path, .. }
            | LoadError::Encrypted { path }
            | LoadError::LeafAsCa { path, .. }
            | LoadError::SeveralKeys { path, .. }
            | LoadError::Malformed { path, .. }
            | LoadError::UnsupportedKey { path, .. }
            | LoadError::Defective { path, .. } => path,
            LoadError::KeyMismatch { key_path, .. } => key_path,
        }
    }
}

/// Something Ferry could not make or keep: the dev CA, an issued certificate, the guides' set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    #[error(transparent)]
    Load(#[from] LoadError),

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error("{} already exists; Ferry does not overwrite certificates or keys (clients may trust them): remove it or choose another directory", path.display())]
    WouldOverwrite { path: PathBuf },

    #[error("the dev CA certificate {} exists but its key {} does not, so it cannot issue certificates; delete {} to start a new CA (clients must then trust the new one)", cert_path.display(), key_path.display(), cert_path.display())]
    CaKeyMissing {
        cert_path: PathBuf,
        key_path: PathBuf,
    },

    #[error("{} holds a key rcgen cannot sign with ({reason}); the dev CA key must be a PKCS#8 \"PRIVATE KEY\"", path.display())]
    CaKeyUnusable { path: PathBuf, reason: String },

    #[error("no names given: a server certificate needs at least one DNS name or IP address (e.g. \"*.customer1.example.test\")")]
    NoNames,

    #[error("{name:?} is not a valid certificate name: {reason}")]
    InvalidName { name: String, reason: String },

    #[error("validity of {days} days is out of range: leaf certificates must be valid for 1 to 397 days (clients reject longer ones)")]
    ValidityOutOfRange { days: u32 },

    #[error("client name {name:?} is not usable as a common name: {reason}")]
    InvalidClientName { name: String, reason: &'static str },

    #[error("cannot {action}: {source}")]
    Generate {
        action: &'static str,
        source: rcgen::Error,
    },
}

impl PkiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            PkiError::Load(e) => e.code(),
            PkiError::Io { .. } => ErrorCode::FileUnreadable,
            PkiError::WouldOverwrite { .. } | PkiError::CaKeyMissing { .. } => {
                ErrorCode::FileWrongKind
            }
            PkiError::CaKeyUnusable { .. } => ErrorCode::FileWrongKind,
            PkiError::NoNames => ErrorCode::DomainRequired,
            PkiError::InvalidName { .. } => ErrorCode::DomainMalformed,
            PkiError::ValidityOutOfRange { .. }
            | PkiError::InvalidClientName { .. }
            | PkiError::Generate { .. } => ErrorCode::CertificateDefective,
        }
    }

    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> PkiError {
        let path = path.to_path_buf();
        move |source| PkiError::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn generate(action: &'static str) -> impl FnOnce(rcgen::Error) -> PkiError {
        move |source| PkiError::Generate { action, source }
    }
}

/// A relative path resolves against the working directory of the process reading it, which is
/// rarely the directory the user had in mind (agent API file paths, DESIGN runtime contract).
fn missing_message(path: &Path) -> String {
    match std::path::absolute(path) {
        Ok(abs) if abs != path => format!(
            "{} does not exist (looked for {}; relative paths resolve against the working directory)",
            path.display(),
            abs.display()
        ),
        _ => format!("{} does not exist", path.display()),
    }
}

fn fix_suffix(fix: &str) -> String {
    if fix.is_empty() {
        String::new()
    } else {
        format!("; {fix}")
    }
}

fn join_defects(defects: &[Defect]) -> String {
    let parts: Vec<String> = defects.iter().map(ToString::to_string).collect();
    parts.join("; and ")
}
