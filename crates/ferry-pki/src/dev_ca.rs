//! The development CA that `ferry edge --dev` issues its own certificates from.
//!
//! It lives in the data directory so that a restart keeps it: clients told to trust
//! `dev-ca.pem` (through `dev.json`'s `ca_cert`) keep trusting the edge. It is never
//! replaced behind the user's back; a half-present CA is repaired only when nobody can have
//! trusted it yet.

use std::path::{Path, PathBuf};

use rcgen::{DistinguishedName, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::ca::{Authority, IssuedCert, Usage};
use crate::error::{Expected, LoadError, PkiError};
use crate::load::{check_key_matches, load_cert_chain, load_private_key};
use crate::names;
use crate::write::{exists, write_atomic};

const CERT_FILE: &str = "dev-ca.pem";
const KEY_FILE: &str = "dev-ca-key.pem";
/// Ten years: a dev CA outliving the machine is better than trust that silently lapses.
const CA_DAYS: i64 = 3650;
/// The name every node's certificate carries: what a node dialling a peer verifies. Only
/// node certificates have it and the client-auth usage, so no endpoint's certificate from the
/// same CA passes for a node.
pub const NODE_NAME: &str = "nodes.ferry.invalid";
/// Short-lived leaves, re-issued at every start, within the 397 days clients accept.
const LEAF_DAYS: i64 = 90;

/// The loaded dev CA. It keeps the key in memory to sign leaves on the fly; `Debug` shows only
/// the certificate's path.
pub struct DevCa {
    authority: Authority,
    cert_path: PathBuf,
}

impl DevCa {
    /// Loads `dir/dev-ca.pem` and `dir/dev-ca-key.pem`, or creates them (the key with mode 0600)
    /// on first use. If only the key exists (a crash between the two writes), a certificate is
    /// made for it: nobody can trust a certificate that was never written.
    pub fn load_or_create(dir: &Path) -> Result<DevCa, PkiError> {
        let (cert_path, key_path) = files_in(dir)?;
        let authority = match (exists(&cert_path), exists(&key_path)) {
            (true, true) => load(&cert_path, &key_path)?,
            (true, false) => {
                return Err(PkiError::CaKeyMissing {
                    cert_path,
                    key_path,
                })
            }
            (false, true) => {
                let key = load_key(&key_path)?;
                let authority = Authority::create(subject(), CA_DAYS, Some(key))?;
                write_atomic(&cert_path, authority.cert_pem().as_bytes(), false)?;
                authority
            }
            (false, false) => {
                let authority = Authority::create(subject(), CA_DAYS, None)?;
                // Key first: a crash after it leaves the recoverable state above.
                write_atomic(&key_path, authority.key_pem().as_bytes(), true)?;
                write_atomic(&cert_path, authority.cert_pem().as_bytes(), false)?;
                authority
            }
        };
        Ok(DevCa {
            authority,
            cert_path,
        })
    }

    /// Makes `dir` hold the CA another node made and shared through the database (`cert_pem`
    /// and `key_pem`): the files are written when absent, and files already there must be
    /// that same CA, never silently replaced (clients may trust them).
    pub fn adopt(dir: &Path, cert_pem: &str, key_pem: &str) -> Result<DevCa, PkiError> {
        let (cert_path, key_path) = files_in(dir)?;
        if exists(&cert_path) || exists(&key_path) {
            let ca = DevCa::load_or_create(dir)?;
            if ca.cert_pem().trim() != cert_pem.trim() {
                return Err(PkiError::CaNotShared {
                    cert_path,
                    key_path,
                });
            }
            return Ok(ca);
        }
        write_atomic(&key_path, key_pem.as_bytes(), true)?;
        write_atomic(&cert_path, cert_pem.as_bytes(), false)?;
        DevCa::load_or_create(dir)
    }

    /// The CA's private key in PEM, for the database that shares it among nodes (sealed
    /// there, like every key the store keeps).
    pub fn key_pem(&self) -> String {
        self.authority.key_pem()
    }

    /// A certificate for this node's end of node-to-node sessions: it serves and dials them,
    /// and peers accept any certificate of this CA for [`NODE_NAME`]. Valid 90 days and made at
    /// every start.
    pub fn issue_node(&self, node: &str) -> Result<IssuedCert, PkiError> {
        let sans = names::sans(&[NODE_NAME.to_string()])?;
        let leaf = self
            .authority
            .sign_leaf(node, sans, Usage::Node, LEAF_DAYS)?;
        Ok(self.authority.issued(leaf))
    }

    /// The text of `dev-ca.pem`, for callers that embed the certificate rather than name the
    /// file.
    pub fn cert_pem(&self) -> &str {
        self.authority.cert_pem()
    }

    /// The CA certificate, for a `RootCertStore` (tests, or the edge trusting itself).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        self.authority.cert_der()
    }

    /// The absolute path of `dev-ca.pem`, for `dev.json`'s `ca_cert` and `--root-cas`.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// A server certificate for `names` (DNS names, wildcards, IP literals), valid 90 days.
    pub fn issue_server(&self, names: &[String]) -> Result<IssuedCert, PkiError> {
        let sans = names::sans(names)?;
        let common_name = names.first().map(|n| n.trim()).unwrap_or_default();
        let leaf = self
            .authority
            .sign_leaf(common_name, sans, Usage::Server, LEAF_DAYS)?;
        Ok(self.authority.issued(leaf))
    }
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCa")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

/// A subject unique to this CA: two dev CAs trusted side by side (two data directories) must
/// not share a name, or chain building may pick the wrong one.
fn subject() -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Ferry");
    dn.push(
        DnType::OrganizationalUnitName,
        format!(
            "development CA made {}",
            time::OffsetDateTime::now_utc().unix_timestamp()
        ),
    );
    dn.push(DnType::CommonName, "Ferry Development CA");
    dn
}

/// The CA's certificate and key paths in `dir` (made if absent), absolute.
fn files_in(dir: &Path) -> Result<(PathBuf, PathBuf), PkiError> {
    std::fs::create_dir_all(dir).map_err(PkiError::io("create directory", dir))?;
    let dir = dir
        .canonicalize()
        .map_err(PkiError::io("resolve directory", dir))?;
    Ok((dir.join(CERT_FILE), dir.join(KEY_FILE)))
}

fn load(cert_path: &Path, key_path: &Path) -> Result<Authority, PkiError> {
    let chain = load_cert_chain(cert_path)?;
    let key = load_private_key(key_path)?;
    check_key_matches(&chain, &key, cert_path, key_path)?;
    let Some(der) = chain.into_iter().next() else {
        // load_cert_chain never returns an empty chain.
        return Err(LoadError::Empty {
            path: cert_path.to_path_buf(),
            expected: Expected::Certificate,
        }
        .into());
    };
    Authority::from_parts(der, key_pair(key_path, &key)?)
}

fn load_key(key_path: &Path) -> Result<KeyPair, PkiError> {
    key_pair(key_path, &load_private_key(key_path)?)
}

/// rcgen (with ring) signs only with PKCS#8 keys, which is what Ferry writes.
fn key_pair(key_path: &Path, key: &PrivateKeyDer<'_>) -> Result<KeyPair, PkiError> {
    KeyPair::try_from(key).map_err(|e| PkiError::CaKeyUnusable {
        path: key_path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::client::danger::ServerCertVerifier;
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    use rustls::RootCertStore;

    use super::*;

    fn verifier(ca: &DevCa) -> Arc<WebPkiServerVerifier> {
        let mut roots = RootCertStore::empty();
        roots
            .add(ca.cert_der().clone())
            .expect("the dev CA is a valid trust anchor");
        WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .expect("verifier")
    }

    fn verify(ca: &DevCa, issued: &IssuedCert, name: &str) -> Result<(), rustls::Error> {
        let server_name = ServerName::try_from(name.to_owned()).expect("valid server name");
        verifier(ca)
            .verify_server_cert(
                &issued.chain[0],
                &issued.chain[1..],
                &server_name,
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
    }

    #[test]
    fn it_can_live_in_a_rustls_certificate_resolver() {
        fn shareable<T: Send + Sync + std::fmt::Debug>() {}
        shareable::<DevCa>();
        shareable::<IssuedCert>();
    }

    #[test]
    fn a_restart_on_the_same_dir_yields_the_same_ca() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DevCa::load_or_create(dir.path()).expect("create");
        let second = DevCa::load_or_create(dir.path()).expect("reload");
        assert_eq!(first.cert_pem(), second.cert_pem());
        assert!(first.cert_path().is_absolute());
        assert_eq!(
            first.cert_path(),
            dir.path().canonicalize().unwrap().join("dev-ca.pem")
        );
        let on_disk = std::fs::read_to_string(first.cert_path()).expect("read dev-ca.pem");
        assert_eq!(on_disk, first.cert_pem());
        // A leaf from the reloaded CA verifies against the first one's certificate.
        let issued = second
            .issue_server(&["app.example.test".into()])
            .expect("issue");
        verify(&first, &issued, "app.example.test").expect("verifies against the original CA");
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("temp dir");
        DevCa::load_or_create(dir.path()).expect("create");
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .expect("stat key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn issued_leaves_verify_for_dns_wildcard_and_ip_names() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = DevCa::load_or_create(dir.path()).expect("create");
        let names: Vec<String> = ["localhost", "*.example.test", "127.0.0.1", "::1"]
            .map(String::from)
            .to_vec();
        let issued = ca.issue_server(&names).expect("issue");
        for name in ["localhost", "app.example.test", "127.0.0.1", "::1"] {
            verify(&ca, &issued, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for name in [
            "example.test",
            "a.b.example.test",
            "127.0.0.2",
            "other.test",
        ] {
            assert!(
                verify(&ca, &issued, name).is_err(),
                "{name} must not verify"
            );
        }
        assert_eq!(issued.chain.len(), 2);
        assert!(crate::diagnose_for(&issued.chain[0], crate::CertRole::ServerLeaf).is_empty());
        assert!(issued.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(issued.cert_pem.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(issued.key_pem.contains("BEGIN PRIVATE KEY"));
    }

    #[test]
    fn a_leaf_from_another_ca_does_not_verify() {
        let a = tempfile::tempdir().expect("temp dir");
        let b = tempfile::tempdir().expect("temp dir");
        let ca_a = DevCa::load_or_create(a.path()).expect("create a");
        let ca_b = DevCa::load_or_create(b.path()).expect("create b");
        assert_ne!(ca_a.cert_pem(), ca_b.cert_pem());
        let issued = ca_b.issue_server(&["x.test".into()]).expect("issue");
        assert!(verify(&ca_a, &issued, "x.test").is_err());
    }

    #[test]
    fn a_certificate_without_its_key_is_an_error_not_a_new_ca() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = DevCa::load_or_create(dir.path()).expect("create");
        let before = ca.cert_pem().to_owned();
        std::fs::remove_file(dir.path().join(KEY_FILE)).expect("remove key");
        let err = DevCa::load_or_create(dir.path()).expect_err("must refuse");
        assert!(matches!(err, PkiError::CaKeyMissing { .. }), "{err}");
        assert!(err.to_string().contains("dev-ca-key.pem"), "{err}");
        let after = std::fs::read_to_string(dir.path().join(CERT_FILE)).expect("read");
        assert_eq!(before, after, "the certificate is left alone");
    }

    #[test]
    fn a_key_without_its_certificate_gets_a_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = DevCa::load_or_create(dir.path()).expect("create");
        let key_before = std::fs::read(dir.path().join(KEY_FILE)).expect("read key");
        drop(ca);
        std::fs::remove_file(dir.path().join(CERT_FILE)).expect("remove cert");
        let ca = DevCa::load_or_create(dir.path()).expect("repair");
        assert_eq!(
            std::fs::read(dir.path().join(KEY_FILE)).expect("read"),
            key_before
        );
        let issued = ca.issue_server(&["x.test".into()]).expect("issue");
        verify(&ca, &issued, "x.test").expect("verifies");
    }

    #[test]
    fn a_key_that_does_not_match_is_a_key_mismatch() {
        let a = tempfile::tempdir().expect("temp dir");
        let b = tempfile::tempdir().expect("temp dir");
        DevCa::load_or_create(a.path()).expect("create a");
        DevCa::load_or_create(b.path()).expect("create b");
        std::fs::copy(b.path().join(KEY_FILE), a.path().join(KEY_FILE)).expect("copy key");
        let err = DevCa::load_or_create(a.path()).expect_err("mismatch");
        assert_eq!(err.code(), ferry_types::ErrorCode::KeyMismatch, "{err}");
    }

    #[test]
    fn no_names_or_bad_names_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = DevCa::load_or_create(dir.path()).expect("create");
        assert!(matches!(ca.issue_server(&[]), Err(PkiError::NoNames)));
        let err = ca.issue_server(&["bad name".into()]).expect_err("invalid");
        assert!(err.to_string().contains("\"bad name\""), "{err}");
    }
}
