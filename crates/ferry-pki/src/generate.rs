//! `ferry certs generate`: the guides' six files, made so that they work.
//!
//! The guides' openssl script gives the CA and the leaves one subject and makes v1 leaves
//! without subjectAltName (DESIGN trap 1); this makes the same file names with a CA named
//! apart from its leaves, v3 extensions, and names clients can match.

use std::path::{Path, PathBuf};

use rcgen::{DistinguishedName, DnType};

use crate::ca::{Authority, Usage};
use crate::error::PkiError;
use crate::names;
use crate::write::{exists, write_atomic};

/// The file names the guides use, in the order they are written.
pub const SET_FILE_NAMES: [&str; 6] = [
    "ca-crt.pem",
    "ca-key.pem",
    "server-crt.pem",
    "server-key.pem",
    "client-crt.pem",
    "client-key.pem",
];

/// Ten years, as the guides' `-days 9999` intends, without reaching past 2038-era tooling.
const CA_DAYS: i64 = 3650;
/// Clients (Apple's, Chrome's) refuse leaves valid for longer.
const MAX_LEAF_DAYS: u32 = 397;

/// The choices of `ferry certs generate`; the default makes a one-year set with no server
/// names, which [`generate_set`] refuses until a name is added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Names of the server certificate; a wildcard also covers its bare base name.
    pub domains: Vec<String>,
    /// Common name of the client certificate; empty means "client".
    pub client_name: String,
    /// Validity of both leaves, 1 to 397 days.
    pub valid_days: u32,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            domains: Vec::new(),
            client_name: "client".to_owned(),
            valid_days: 365,
        }
    }
}

/// What [`generate_set`] wrote, for the CLI to list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedSet {
    /// Absolute paths of the files written, in [`SET_FILE_NAMES`] order.
    pub files: Vec<PathBuf>,
}

/// Writes the six files into `out`, creating it. Existing files are never overwritten: a CA
/// key that clients already trust is not something to lose to a repeated command.
pub fn generate_set(opts: &GenerateOptions, out: &Path) -> Result<GeneratedSet, PkiError> {
    if opts.valid_days == 0 || opts.valid_days > MAX_LEAF_DAYS {
        return Err(PkiError::ValidityOutOfRange {
            days: opts.valid_days,
        });
    }
    let client_name = client_name(&opts.client_name)?;
    let server_sans = names::sans(&server_names(&opts.domains))?;
    let server_cn = opts.domains.first().map(|d| d.trim()).unwrap_or_default();

    std::fs::create_dir_all(out).map_err(PkiError::io("create directory", out))?;
    let out = out
        .canonicalize()
        .map_err(PkiError::io("resolve directory", out))?;
    let files: Vec<PathBuf> = SET_FILE_NAMES.iter().map(|n| out.join(n)).collect();
    if let Some(existing) = files.iter().find(|p| exists(p)) {
        return Err(PkiError::WouldOverwrite {
            path: existing.clone(),
        });
    }

    let days = i64::from(opts.valid_days);
    let ca = Authority::create(ca_subject(), CA_DAYS, None)?;
    let server = ca.sign_leaf(server_cn, server_sans, Usage::Server, days)?;
    let client = ca.sign_leaf(client_name, Vec::new(), Usage::Client, days)?;

    // Each leaf file holds the leaf alone, as the guides' files do: `openssl verify -CAfile
    // ca-crt.pem server-crt.pem` then checks exactly the leaf, and peers already hold the CA.
    let (ca_key, server_key, client_key) = (
        ca.key_pem(),
        server.key.serialize_pem(),
        client.key.serialize_pem(),
    );
    let contents: [(&str, bool); 6] = [
        (ca.cert_pem(), false),
        (&ca_key, true),
        (&server.pem, false),
        (&server_key, true),
        (&client.pem, false),
        (&client_key, true),
    ];
    for (path, (text, secret)) in files.iter().zip(contents) {
        write_atomic(path, text.as_bytes(), secret)?;
    }
    Ok(GeneratedSet { files })
}

/// The server's names: each domain, and for a wildcard also its base ("*.a.test" does not
/// cover "a.test", which the guides also reach).
fn server_names(domains: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for domain in domains {
        out.push(domain.clone());
        if let Some(base) = names::wildcard_base(domain) {
            out.push(base.to_owned());
        }
    }
    out
}

fn client_name(name: &str) -> Result<&str, PkiError> {
    let name = name.trim();
    if name.is_empty() {
        return Ok("client");
    }
    if name.len() > 64 {
        return Err(PkiError::InvalidClientName {
            name: name.to_owned(),
            reason: "X.509 limits a common name to 64 characters",
        });
    }
    if name.chars().any(char::is_control) {
        return Err(PkiError::InvalidClientName {
            name: name.to_owned(),
            reason: "it contains control characters",
        });
    }
    Ok(name)
}

/// A subject no leaf can share (the guides' script reuses one; DESIGN trap 1), made unique per
/// set so that two sets trusted side by side are told apart by name.
fn ca_subject() -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Ferry");
    dn.push(
        DnType::OrganizationalUnitName,
        format!(
            "test CA made {}",
            time::OffsetDateTime::now_utc().unix_timestamp()
        ),
    );
    dn.push(DnType::CommonName, "Ferry Test CA");
    dn
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::client::danger::ServerCertVerifier;
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::server::WebPkiClientVerifier;
    use rustls::RootCertStore;

    use super::*;
    use crate::{
        diagnose_for, inspect_file, load_ca_certs, load_cert_chain, load_server_identity, CertRole,
        FileKind,
    };

    fn options() -> GenerateOptions {
        GenerateOptions {
            domains: vec!["*.customer1.example.test".into()],
            ..GenerateOptions::default()
        }
    }

    struct Set {
        _dir: tempfile::TempDir,
        out: PathBuf,
        roots: Arc<RootCertStore>,
    }

    impl Set {
        fn new(opts: &GenerateOptions) -> Set {
            let dir = tempfile::tempdir().expect("temp dir");
            let out = dir.path().join("certs");
            let set = generate_set(opts, &out).expect("generate");
            assert_eq!(set.files.len(), 6);
            let mut roots = RootCertStore::empty();
            for ca in load_ca_certs(&out.join("ca-crt.pem")).expect("the CA loads as a CA") {
                roots.add(ca).expect("trust anchor");
            }
            Set {
                _dir: dir,
                out,
                roots: Arc::new(roots),
            }
        }

        fn leaf(&self, name: &str) -> CertificateDer<'static> {
            let chain = load_cert_chain(&self.out.join(name)).expect("leaf loads");
            assert_eq!(chain.len(), 1, "{name} holds the leaf alone");
            chain.into_iter().next().expect("one certificate")
        }

        fn verify_server(
            &self,
            leaf: &CertificateDer<'_>,
            name: &str,
        ) -> Result<(), rustls::Error> {
            let verifier = WebPkiServerVerifier::builder_with_provider(
                self.roots.clone(),
                Arc::new(rustls::crypto::ring::default_provider()),
            )
            .build()
            .expect("verifier");
            let name = ServerName::try_from(name.to_owned()).expect("server name");
            verifier
                .verify_server_cert(leaf, &[], &name, &[], UnixTime::now())
                .map(|_| ())
        }

        fn verify_client(&self, leaf: &CertificateDer<'_>) -> Result<(), rustls::Error> {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                self.roots.clone(),
                Arc::new(rustls::crypto::ring::default_provider()),
            )
            .build()
            .expect("verifier");
            verifier
                .verify_client_cert(leaf, &[], UnixTime::now())
                .map(|_| ())
        }
    }

    #[test]
    fn the_server_certificate_verifies_for_the_guides_names() {
        let set = Set::new(&options());
        let server = set.leaf("server-crt.pem");
        for name in ["api.customer1.example.test", "customer1.example.test"] {
            set.verify_server(&server, name)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(set
            .verify_server(&server, "api.customer2.example.test")
            .is_err());
        assert!(set.verify_client(&server).is_err(), "serverAuth only");
        load_server_identity(
            &set.out.join("server-crt.pem"),
            &set.out.join("server-key.pem"),
        )
        .expect("a sound server identity");
    }

    #[test]
    fn the_client_certificate_has_client_auth_only() {
        let set = Set::new(&GenerateOptions {
            client_name: "device-42".into(),
            ..options()
        });
        let client = set.leaf("client-crt.pem");
        set.verify_client(&client).expect("clientAuth");
        assert!(set
            .verify_server(&client, "api.customer1.example.test")
            .is_err());
        assert_eq!(diagnose_for(&client, CertRole::ClientLeaf), []);
        let report = inspect_file(&set.out.join("client-crt.pem")).expect("inspect");
        assert_eq!(
            report.kind,
            FileKind::Certificate {
                count: 1,
                is_ca: false,
                subject: "device-42".into()
            }
        );
        // The client certificate with the server key is the second guide's mistake: named
        // as a client certificate where the server's belongs.
        let err = load_server_identity(
            &set.out.join("client-crt.pem"),
            &set.out.join("server-key.pem"),
        )
        .expect_err("wrong pair");
        assert_eq!(err.code(), ferry_types::ErrorCode::CertificateDefective);
        assert!(err.to_string().contains("serverAuth"), "{err}");
        assert!(err.to_string().contains("server-crt.pem"), "{err}");
    }

    #[test]
    fn the_ca_is_a_v3_ca_named_apart_from_its_leaves() {
        let set = Set::new(&options());
        let ca = inspect_file(&set.out.join("ca-crt.pem")).expect("inspect");
        let FileKind::Certificate { is_ca, subject, .. } = ca.kind else {
            panic!("not a certificate: {:?}", ca.kind);
        };
        assert!(is_ca);
        assert_eq!(subject, "Ferry Test CA");
        assert_eq!(ca.defects, []);
        for leaf in ["server-crt.pem", "client-crt.pem"] {
            let report = inspect_file(&set.out.join(leaf)).expect("inspect");
            assert_eq!(report.defects, [], "{leaf}");
            let FileKind::Certificate { subject, .. } = report.kind else {
                panic!("{leaf} is not a certificate");
            };
            assert_ne!(subject, "Ferry Test CA");
        }
        let ca_der = set.leaf("ca-crt.pem");
        let (_, parsed) = x509_parser::parse_x509_certificate(&ca_der).expect("parse");
        let usage = parsed
            .key_usage()
            .expect("ku")
            .expect("has key usage")
            .value;
        assert!(usage.key_cert_sign() && usage.crl_sign());
        assert_eq!(parsed.version(), x509_parser::x509::X509Version::V3);
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_private_and_unencrypted() {
        use std::os::unix::fs::PermissionsExt as _;
        let set = Set::new(&options());
        for name in ["ca-key.pem", "server-key.pem", "client-key.pem"] {
            let path = set.out.join(name);
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
            assert_eq!(
                inspect_file(&path).expect("inspect").kind,
                FileKind::PrivateKey { encrypted: false }
            );
        }
    }

    #[test]
    fn openssl_verify_accepts_the_set() {
        let openssl = Path::new("/usr/bin/openssl");
        if !openssl.exists() {
            eprintln!("skipped: no /usr/bin/openssl");
            return;
        }
        let set = Set::new(&options());
        for leaf in ["server-crt.pem", "client-crt.pem"] {
            let status = std::process::Command::new(openssl)
                .arg("verify")
                .arg("-CAfile")
                .arg(set.out.join("ca-crt.pem"))
                .arg(set.out.join(leaf))
                .output()
                .expect("run openssl");
            assert!(status.status.success(), "{leaf}: {status:?}");
        }
    }

    #[test]
    fn existing_files_are_never_overwritten() {
        let set = Set::new(&options());
        let before = std::fs::read(set.out.join("ca-key.pem")).expect("read");
        let err = generate_set(&options(), &set.out).expect_err("would overwrite");
        assert!(matches!(err, PkiError::WouldOverwrite { .. }), "{err}");
        assert!(err.to_string().contains("ca-crt.pem"), "{err}");
        assert_eq!(
            std::fs::read(set.out.join("ca-key.pem")).expect("read"),
            before
        );
    }

    #[test]
    fn bad_options_are_refused_before_writing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("certs");
        for days in [0, 398] {
            let opts = GenerateOptions {
                valid_days: days,
                ..options()
            };
            let err = generate_set(&opts, &out).expect_err("validity");
            assert!(err.to_string().contains(&format!("{days} days")), "{err}");
        }
        let no_domains = GenerateOptions::default();
        assert!(matches!(
            generate_set(&no_domains, &out),
            Err(PkiError::NoNames)
        ));
        let long_name = GenerateOptions {
            client_name: "c".repeat(65),
            ..options()
        };
        assert!(matches!(
            generate_set(&long_name, &out),
            Err(PkiError::InvalidClientName { .. })
        ));
        assert!(!out.exists(), "nothing written");
    }

    #[test]
    fn extra_names_and_ips_are_served_too() {
        let set = Set::new(&GenerateOptions {
            domains: vec![
                "*.customer1.example.test".into(),
                "localhost".into(),
                "127.0.0.1".into(),
            ],
            ..options()
        });
        let server = set.leaf("server-crt.pem");
        for name in ["x.customer1.example.test", "localhost", "127.0.0.1"] {
            set.verify_server(&server, name)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
