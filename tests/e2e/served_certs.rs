//! Which certificate the public TLS port presents: an uploaded certificate attached to a
//! reserved domain (its whole chain), picked up without a restart; outside dev mode, nothing
//! for a name Ferry holds no certificate for.

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use serde_json::{json, Value};

use crate::harness::{curl, eventually, Edge};

/// A private CA with an intermediate, as an operator's own PKI would be.
pub(crate) struct TestPki {
    root_pem: String,
    intermediate: rcgen::Certificate,
    intermediate_key: KeyPair,
}

impl TestPki {
    pub(crate) fn new() -> Self {
        let root_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "Ferry Test Root");
        let root = p.self_signed(&root_key).unwrap();
        let intermediate_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "Ferry Test Intermediate");
        let intermediate = p.signed_by(&intermediate_key, &root, &root_key).unwrap();
        Self {
            root_pem: root.pem(),
            intermediate,
            intermediate_key,
        }
    }

    /// A leaf for `names` and its key: the chain (leaf, intermediate) and the key in PEM.
    pub(crate) fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.intermediate, &self.intermediate_key)
            .unwrap();
        (
            format!("{}{}", leaf.pem(), self.intermediate.pem()),
            key.serialize_pem(),
        )
    }

    pub(crate) fn write_root(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("test-root.pem");
        std::fs::write(&path, &self.root_pem).unwrap();
        path
    }
}

/// Uploads a certificate and attaches it to the reserved domain `rd`; returns its ID.
pub(crate) async fn upload_and_attach(edge: &Edge, chain: &str, key: &str, rd: &str) -> String {
    let body = json!({ "certificate_pem": chain, "private_key_pem": key }).to_string();
    let (status, cert) = edge.api("POST", "/tls_certificates", Some(&body)).await;
    assert_eq!(status, 201, "{cert}");
    assert!(cert.get("private_key_pem").is_none(), "{cert}");
    let id = cert["id"].as_str().unwrap().to_string();
    let body = json!({ "certificate_id": id }).to_string();
    let (status, v) = edge
        .api("PATCH", &format!("/reserved_domains/{rd}"), Some(&body))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["certificate"]["id"], json!(id), "{v}");
    id
}

pub(crate) async fn reserve(edge: &Edge, domain: &str) -> Value {
    let body = json!({ "domain": domain }).to_string();
    let (status, v) = edge.api("POST", "/reserved_domains", Some(&body)).await;
    assert_eq!(status, 201, "{v}");
    v
}

/// `openssl s_client` towards `sni` on the edge's HTTPS port: the certificates it was sent
/// (PEM), or None when the handshake failed.
async fn presented(edge: &Edge, sni: &str) -> Option<Vec<String>> {
    let out = tokio::process::Command::new("openssl")
        .args(["s_client", "-showcerts", "-connect"])
        .arg(format!("127.0.0.1:{}", edge.https_port()))
        .args(["-servername", sni])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let certs: Vec<String> = text
        .split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .filter_map(|c| c.split("-----END CERTIFICATE-----").next())
        .map(|c| c.to_string())
        .collect();
    (!certs.is_empty()).then_some(certs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_certificate_is_served_with_its_chain_and_unknown_names_get_none() {
    let edge = Edge::start_production(&[]).await;
    let rd = reserve(&edge, "*.customer1.example.test").await;
    let rd = rd["id"].as_str().unwrap();
    assert_eq!(
        presented(&edge, "api.customer1.example.test").await,
        None,
        "outside dev mode a name without a certificate gets none, not a dev-CA one"
    );

    let pki = TestPki::new();
    let (chain, key) = pki.leaf(&["*.customer1.example.test"]);
    upload_and_attach(&edge, &chain, &key, rd).await;
    eventually(
        "the uploaded certificate to be served",
        Duration::from_secs(10),
        || async {
            presented(&edge, "api.customer1.example.test")
                .await
                .is_some()
        },
    )
    .await;
    let sent = presented(&edge, "api.customer1.example.test")
        .await
        .unwrap();
    assert_eq!(sent.len(), 2, "leaf and intermediate: {sent:?}");

    // curl trusts only the operator's root: the intermediate must come from the edge.
    let root = pki.write_root(edge.dir.path());
    let port = edge.https_port();
    let host = "api.customer1.example.test";
    let (code, _, err) = curl(&[
        "-sS".into(),
        "--cacert".into(),
        root.display().to_string(),
        "--connect-to".into(),
        format!("{host}:{port}:127.0.0.1:{port}"),
        format!("https://{host}:{port}/"),
    ])
    .await;
    assert_eq!(code, 0, "the handshake verifies against the root: {err}");

    assert_eq!(presented(&edge, "a.b.customer1.example.test").await, None);
    assert_eq!(presented(&edge, "other.example.test").await, None);

    // Detached, it is no longer served.
    let (status, v) = edge
        .api(
            "PATCH",
            &format!("/reserved_domains/{rd}"),
            Some(r#"{"certificate_id":""}"#),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    eventually(
        "the detached certificate to be withdrawn",
        Duration::from_secs(10),
        || async {
            presented(&edge, "api.customer1.example.test")
                .await
                .is_none()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_keys_are_sealed_in_the_database() {
    let edge = Edge::start_production(&[]).await;
    let rd = reserve(&edge, "sealed.example.test").await;
    let pki = TestPki::new();
    let (chain, key) = pki.leaf(&["sealed.example.test"]);
    upload_and_attach(&edge, &chain, &key, rd["id"].as_str().unwrap()).await;
    let db = std::fs::read(edge.dir.path().join("data/ferry.db")).unwrap();
    let wal = std::fs::read(edge.dir.path().join("data/ferry.db-wal")).unwrap_or_default();
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let needle = &body.as_bytes()[..40];
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the private key is stored in plaintext"
        );
    }
    let key_file = edge.dir.path().join("data/secret.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
}

/// The serial number (hex, upper case, no colons) of the certificate served for `sni`.
async fn served_serial(edge: &Edge, sni: &str) -> Option<String> {
    let pem = presented(edge, sni).await?.into_iter().next()?;
    let pem = format!("-----BEGIN CERTIFICATE-----{pem}-----END CERTIFICATE-----\n");
    let mut child = tokio::process::Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pem.as_bytes())
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    Some(text.trim().trim_start_matches("serial=").to_uppercase())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_issues_managed_certificates_through_the_job_and_serves_them() {
    let edge = Edge::start().await;
    let rd = reserve(&edge, "*.managed.example.test").await;
    let id = rd["id"].as_str().unwrap().to_string();
    assert_eq!(
        rd["certificate_management_policy"]["private_key_type"], "ecdsa",
        "{rd}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let v = loop {
        let (_, v) = edge
            .api("GET", &format!("/reserved_domains/{id}"), None)
            .await;
        if v["certificate_management_status"]["renews_at"].is_string() {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "never issued: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        v["certificate_management_status"]["provisioning_job"],
        Value::Null,
        "{v}"
    );
    let cert_id = v["certificate"]["id"].as_str().unwrap().to_string();
    assert!(cert_id.starts_with("cert_"), "{v}");
    let (status, cert) = edge
        .api("GET", &format!("/tls_certificates/{cert_id}"), None)
        .await;
    assert_eq!(status, 200, "{cert}");
    assert_eq!(
        cert["subject_alternative_names"]["dns_names"],
        json!(["*.managed.example.test"])
    );
    let serial = cert["serial_number"].as_str().unwrap().to_uppercase();
    eventually(
        "the managed certificate to be served",
        Duration::from_secs(10),
        || async {
            served_serial(&edge, "app.managed.example.test")
                .await
                .as_deref()
                == Some(serial.as_str())
        },
    )
    .await;

    // Management stopped: no status, no certificate, and the name falls back to the dev CA.
    let (status, _) = edge
        .api(
            "DELETE",
            &format!("/reserved_domains/{id}/certificate_management_policy"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, v) = edge
        .api("GET", &format!("/reserved_domains/{id}"), None)
        .await;
    assert_eq!(v["certificate_management_status"], Value::Null, "{v}");
    assert_eq!(v["certificate"], Value::Null, "{v}");
    let (status, _) = edge
        .api("GET", &format!("/tls_certificates/{cert_id}"), None)
        .await;
    assert_eq!(status, 404);
    eventually(
        "the managed certificate to be withdrawn",
        Duration::from_secs(10),
        || async {
            served_serial(&edge, "app.managed.example.test")
                .await
                .is_some_and(|s| s != serial)
        },
    )
    .await;
}

/// A keep-alive HTTPS connection to the edge, trusting only `root`.
struct OpenConnection {
    tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

impl OpenConnection {
    async fn open(edge: &Edge, host: &str, root: &std::path::Path) -> Self {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::CertificateDer::pem_file_iter(root).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", edge.https_port()))
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from(host.to_string()).unwrap();
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        Self { tls }
    }

    /// The leaf certificate this connection was given (DER).
    fn leaf(&self) -> Vec<u8> {
        self.tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
    }

    /// One request on the connection; the status line of the answer.
    async fn request(&mut self, host: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n");
        self.tls.write_all(req.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), self.tls.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        text.lines().next().unwrap_or_default().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_certificate_is_served_from_the_next_handshake_and_open_connections_stay() {
    let edge = Edge::start_production(&[]).await;
    let rd = reserve(&edge, "*.renew.example.test").await;
    let rd = rd["id"].as_str().unwrap();
    let pki = TestPki::new();
    let root = pki.write_root(edge.dir.path());
    let host = "api.renew.example.test";
    let (chain, key) = pki.leaf(&["*.renew.example.test"]);
    upload_and_attach(&edge, &chain, &key, rd).await;
    eventually("the first certificate", Duration::from_secs(10), || async {
        presented(&edge, host).await.is_some()
    })
    .await;
    let mut held = OpenConnection::open(&edge, host, &root).await;
    let first = held.leaf();
    assert!(held.request(host).await.starts_with("HTTP/1.1 404"));

    // Its successor, attached in its place (what a renewal installs).
    let (chain, key) = pki.leaf(&["*.renew.example.test"]);
    upload_and_attach(&edge, &chain, &key, rd).await;
    let mut fresh = None;
    for _ in 0..100 {
        let c = OpenConnection::open(&edge, host, &root).await;
        if c.leaf() != first {
            fresh = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut fresh = fresh.expect("the new certificate on a new handshake");
    assert!(fresh.request(host).await.starts_with("HTTP/1.1 404"));
    // The connection made before keeps working, with the certificate it was given.
    assert!(held.request(host).await.starts_with("HTTP/1.1 404"));
    assert_eq!(held.leaf(), first);
}
