//! Ferry's certificates: a development CA that the edge trusts itself to, the guides'
//! certificate set made correctly, and loaders that say what is wrong with a file.
//!
//! The guides' openssl script makes certificates that rustls rejects (X.509 v1, no
//! subjectAltName, a leaf named like its CA), and their examples pass a CA *key* where a CA
//! certificate belongs (DESIGN.md, "Known traps" 1 and 2). A TLS handshake that fails for those
//! reasons only says "unknown issuer" or "bad certificate", far from the file at fault. So every
//! loader here names the file, what it actually holds and what to do, and [`diagnose_certificate`]
//! turns each of the script's defects into a sentence with its fix.
//!
//! Keys are ECDSA P-256 everywhere Ferry makes them: small, fast, and accepted by every TLS
//! client the guides use (curl, browsers, Postman, ngrok's SDKs).
#![warn(missing_docs)]

mod ca;
mod describe;
mod dev_ca;
mod diagnose;
mod error;
mod generate;
mod inspect;
mod load;
mod names;
mod pem;
#[cfg(test)]
mod test_support;
mod write;

pub use ca::IssuedCert;
pub use describe::{describe_chain, describe_der, DescribeError};
pub use dev_ca::{DevCa, NODE_NAME};
pub use diagnose::{check_certificate, diagnose_certificate, diagnose_for, CertRole, Defect};
pub use error::{Expected, LoadError, PkiError};
pub use generate::{generate_set, GenerateOptions, GeneratedSet, SET_FILE_NAMES};
pub use inspect::{inspect_file, FileKind, FileReport};
pub use load::{
    ca_certs_from_pem, check_key_matches, load_ca_certs, load_cert_chain, load_private_key,
    load_server_identity, read_file, server_identity_from_pem, ServerIdentity,
};
