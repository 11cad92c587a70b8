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
    /// The named file does not exist; a relative path is shown resolved too, since it
    /// resolves against the process's working directory, not the user's.
    #[error("{}", missing_message(path))]
    Missing {
        /// As given, relative or not.
        path: PathBuf,
    },

    /// The file exists but cannot be read: no permission, a directory, an I/O failure.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// As given.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },

    /// The file holds nothing but whitespace, as a failed copy or redirect leaves it.
    #[error("{} is empty; expected {expected} in PEM form", path.display())]
    Empty {
        /// As given.
        path: PathBuf,
        /// What the file was passed as, to word the message.
        expected: Expected,
    },

    /// The file has no `-----BEGIN` block: DER, some other binary, or text without one.
    #[error("{} is not a PEM file ({what}); expected {expected} in PEM form (\"-----BEGIN ...-----\"){}", path.display(), fix_suffix(fix))]
    NotPem {
        /// As given.
        path: PathBuf,
        /// A guess at the contents, e.g. "it holds a DER (binary) certificate".
        what: String,
        /// What the file was passed as.
        expected: Expected,
        /// An `openssl` command that converts the file to PEM, or empty when none applies.
        fix: String,
    },

    /// Valid PEM without a block of the kind wanted: a key passed as `crt`, a certificate as
    /// `key`, the CA *key* as `mutual_tls_cas` (the guides' trap), a CSR, a public key.
    #[error("{} holds {found}, not {expected}{}", path.display(), fix_suffix(fix))]
    WrongKind {
        /// As given.
        path: PathBuf,
        /// The first meaningful block, for a human: "an encrypted private key".
        found: String,
        /// What the file was passed as.
        expected: Expected,
        /// Which file to pass instead, or empty when there is no likely mix-up.
        fix: &'static str,
    },

    /// The private key is passphrase-protected (PKCS#8 `ENCRYPTED PRIVATE KEY` or OpenSSL's
    /// legacy `Proc-Type: 4,ENCRYPTED`), as the guides' `ca-key.pem` is; Ferry asks for no
    /// passphrase.
    #[error(
        "{} holds an encrypted private key and Ferry needs it unencrypted; decrypt it with `openssl pkey -in {} -out {}.dec` and pass {}.dec",
        path.display(), path.display(), path.display(), path.display()
    )]
    Encrypted {
        /// As given.
        path: PathBuf,
    },

    /// A file of trusted CAs (`mutual_tls_cas`, `root_cas`) holds a leaf certificate, which
    /// would admit that one peer only.
    #[error("{} is a leaf certificate for \"{subject}\", not a CA; pass the certificate of the CA that signed it (ca-crt.pem)", path.display())]
    LeafAsCa {
        /// As given.
        path: PathBuf,
        /// The leaf's common name, or its whole subject when it has none.
        subject: String,
    },

    /// A `key` file with more than one private key, where picking one would be a guess.
    #[error("{} holds {count} private keys; pass a file with exactly one", path.display())]
    SeveralKeys {
        /// As given.
        path: PathBuf,
        /// Key blocks found, encrypted ones included.
        count: usize,
    },

    /// A PEM block without its `-----END` line or with bad base64, or a certificate whose DER
    /// does not parse: usually a truncated or hand-edited file.
    #[error("{}: {what} is malformed: {reason}", path.display())]
    Malformed {
        /// As given.
        path: PathBuf,
        /// The part at fault and its line: "the PEM block \"CERTIFICATE\" at line 12".
        what: String,
        /// The parser's explanation.
        reason: String,
    },

    /// A private key rustls cannot sign with: a format Ferry does not read (OpenSSH, DSA) or
    /// an algorithm or size ring refuses.
    #[error("{} holds a private key that Ferry cannot use ({reason}); use an RSA (2048 bits or more), ECDSA P-256/P-384 or Ed25519 key, e.g. from `ferry certs generate`", path.display())]
    UnsupportedKey {
        /// As given.
        path: PathBuf,
        /// ring's refusal, or the conversion command for a foreign format.
        reason: String,
    },

    /// `key` is not the key of `crt`'s leaf (their public keys differ), as when the client
    /// certificate is paired with the server key.
    #[error("the private key {} does not match the certificate {} (their public keys differ); pass the key that was made together with this certificate", key_path.display(), cert_path.display())]
    KeyMismatch {
        /// The `crt` file, whose first certificate was compared.
        cert_path: PathBuf,
        /// The `key` file.
        key_path: PathBuf,
    },

    /// The certificate parses but TLS peers will reject it (X.509 v1, no subjectAltName,
    /// expired...), as the guides' openssl script makes them.
    #[error("{}: the certificate for \"{subject}\" will be rejected by TLS peers: {}", path.display(), join_defects(defects))]
    Defective {
        /// As given.
        path: PathBuf,
        /// The certificate's common name, or its whole subject when it has none.
        subject: String,
        /// Every defect found, never empty; each one's text names its fix.
        defects: Vec<Defect>,
    },
}

impl LoadError {
    /// The catalogue code shown with the message: unreadable, wrong kind, key mismatch or
    /// defective certificate.
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
    /// An existing file Ferry was to reuse (the dev CA) is wrong; see [`LoadError`].
    #[error(transparent)]
    Load(#[from] LoadError),

    /// Creating, resolving or writing a directory or file failed (permissions, a full disk).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, as a verb phrase: "create directory", "write".
        action: &'static str,
        /// The directory or file it was done to.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },

    /// `ferry certs generate` found one of the six files already in the output directory.
    #[error("{} already exists; Ferry does not overwrite certificates or keys (clients may trust them): remove it or choose another directory", path.display())]
    WouldOverwrite {
        /// The first of the files that exists.
        path: PathBuf,
    },

    /// The data directory has `dev-ca.pem` but not `dev-ca-key.pem`; clients may already
    /// trust that certificate, so Ferry does not silently make a new CA.
    #[error("the dev CA certificate {} exists but its key {} does not, so it cannot issue certificates; delete {} to start a new CA (clients must then trust the new one)", cert_path.display(), key_path.display(), cert_path.display())]
    CaKeyMissing {
        /// `dev-ca.pem`, absolute.
        cert_path: PathBuf,
        /// `dev-ca-key.pem`, absolute: where the key was expected.
        key_path: PathBuf,
    },

    /// The data directory holds a CA other than the one the nodes on the shared database
    /// use: this node would present certificates its peers' agents do not trust.
    #[error("{} is not the installation's CA that the other nodes on this database share; move it and {} away (keep them if clients trust them) and start again to use the shared one", cert_path.display(), key_path.display())]
    CaNotShared {
        /// `dev-ca.pem`, absolute.
        cert_path: PathBuf,
        /// `dev-ca-key.pem`, absolute.
        key_path: PathBuf,
    },

    /// `dev-ca-key.pem` loads but is not a PKCS#8 key rcgen can sign with (e.g. replaced by
    /// hand with an RSA or SEC1 key).
    #[error("{} holds a key rcgen cannot sign with ({reason}); the dev CA key must be a PKCS#8 \"PRIVATE KEY\"", path.display())]
    CaKeyUnusable {
        /// The CA key file, absolute.
        path: PathBuf,
        /// rcgen's refusal.
        reason: String,
    },

    /// A server certificate was asked for with an empty list of names.
    #[error("no names given: a server certificate needs at least one DNS name or IP address (e.g. \"*.customer1.example.test\")")]
    NoNames,

    /// A name for a server certificate is neither an IP address nor a DNS name (a misplaced
    /// `*`, a bad label).
    #[error("{name:?} is not a valid certificate name: {reason}")]
    InvalidName {
        /// As given.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// `ferry certs generate --days` outside 1 to 397, the longest validity clients accept.
    #[error("validity of {days} days is out of range: leaf certificates must be valid for 1 to 397 days (clients reject longer ones)")]
    ValidityOutOfRange {
        /// As given.
        days: u32,
    },

    /// The client certificate's common name is over 64 characters or has control characters.
    #[error("client name {name:?} is not usable as a common name: {reason}")]
    InvalidClientName {
        /// As given, trimmed.
        name: String,
        /// Which X.509 limit it breaks.
        reason: &'static str,
    },

    /// rcgen failed to make a key or sign a certificate: not expected from valid input.
    #[error("cannot {action}: {source}")]
    Generate {
        /// The step that failed, as a verb phrase: "sign the certificate".
        action: &'static str,
        /// rcgen's error.
        source: rcgen::Error,
    },
}

impl PkiError {
    /// The catalogue code shown with the message; a wrapped [`LoadError`] keeps its own.
    pub fn code(&self) -> ErrorCode {
        match self {
            PkiError::Load(e) => e.code(),
            PkiError::Io { .. } => ErrorCode::FileUnreadable,
            PkiError::WouldOverwrite { .. }
            | PkiError::CaKeyMissing { .. }
            | PkiError::CaNotShared { .. } => ErrorCode::FileWrongKind,
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
