use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::harness::{port_of, Edge, Proc};
use crate::upstream::{tls_echo, HttpUpstream, TcpEcho};

/// Connects with TLS to the edge's port on loopback with `sni`, trusting `ca`, optionally
/// presenting a client certificate.
pub async fn tls_connect(
    ca: &Path,
    sni: &str,
    port: u16,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> std::io::Result<TlsStream<TcpStream>> {
    tls_connect_at("127.0.0.1", ca, sni, port, client).await
}

/// [`tls_connect`] to a port on another loopback address (a node of several).
pub async fn tls_connect_at(
    ip: &str,
    ca: &Path,
    sni: &str,
    port: u16,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in ferry_pki::load_ca_certs(ca).unwrap() {
        roots.add(c).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = match client {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = TcpStream::connect((ip, port)).await?;
    let name = ServerName::try_from(sni.to_string()).unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
}

/// Writes `msg`, reads the same number of bytes back.
pub async fn echo_round<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    msg: &[u8],
) -> std::io::Result<Vec<u8>> {
    s.write_all(msg).await?;
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back).await?;
    Ok(back)
}

pub fn generate(dir: &Path, domain: &str) -> std::path::PathBuf {
    let out = dir.join(domain.replace('*', "star"));
    let status = std::process::Command::new(crate::harness::BIN)
        .args(["certs", "generate", "--domain", domain, "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    out
}

fn client_identity(dir: &Path) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    (
        ferry_pki::load_cert_chain(&dir.join("client-crt.pem")).unwrap(),
        ferry_pki::load_private_key(&dir.join("client-key.pem")).unwrap(),
    )
}

/// A client certificate signed by the set's CA that expired yesterday.
fn expired_client(dir: &Path) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let ca_pem = std::fs::read_to_string(dir.join("ca-crt.pem")).unwrap();
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.join("ca-key.pem")).unwrap())
            .unwrap();
    let ca_params = rcgen::CertificateParams::from_ca_cert_pem(&ca_pem).unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "expired client");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(30);
    params.not_after = now - time::Duration::days(1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    (
        vec![cert.der().clone()],
        PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_passthrough_reaches_the_upstream_untouched() {
    let edge = Edge::start().await;
    let certs = generate(edge.dir.path(), "pass.example.test");
    let up = tls_echo(&certs.join("server-crt.pem"), &certs.join("server-key.pem")).await;
    let agent = edge
        .agent(
            "tls",
            &[&up.port().to_string(), "--domain", "pass.example.test"],
        )
        .await;
    assert_eq!(
        agent.url(),
        format!("tls://pass.example.test:{}", edge.https_port())
    );
    // The client trusts the upstream's own CA, not the edge's: the edge did not terminate.
    let mut tls = tls_connect(
        &certs.join("ca-crt.pem"),
        "pass.example.test",
        edge.https_port(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        echo_round(&mut tls, b"through the edge").await.unwrap(),
        b"through the edge"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_at_the_agent_admits_good_clients_and_nothing_else() {
    let edge = Edge::start().await;
    let certs = generate(edge.dir.path(), "*.customer1.example.test");
    let foreign = generate(edge.dir.path(), "*.other.example.test");
    let up = TcpEcho::start().await;
    let crt = certs.join("server-crt.pem").display().to_string();
    let key = certs.join("server-key.pem").display().to_string();
    let cas = certs.join("ca-crt.pem").display().to_string();
    let _agent = edge
        .agent(
            "tls",
            &[
                &up.port(),
                "--domain",
                "api.customer1.example.test",
                "--terminate-at",
                "agent",
                "--crt",
                &crt,
                "--key",
                &key,
                "--mutual-tls-cas",
                &cas,
            ],
        )
        .await;
    let port = edge.https_port();
    let ca = certs.join("ca-crt.pem");

    let rejections = [
        ("no client certificate", None),
        (
            "a certificate from a foreign CA",
            Some(client_identity(&foreign)),
        ),
        ("an expired certificate", Some(expired_client(&certs))),
    ];
    for (what, identity) in rejections {
        let res = async {
            let mut tls = tls_connect(&ca, "api.customer1.example.test", port, identity).await?;
            echo_round(&mut tls, b"secret").await
        }
        .await;
        assert!(res.is_err(), "{what} was let through");
    }
    assert_eq!(
        up.conns.load(Ordering::SeqCst),
        0,
        "a rejected client reached the upstream"
    );
    assert_eq!(up.bytes.load(Ordering::SeqCst), 0);

    let mut tls = tls_connect(
        &ca,
        "api.customer1.example.test",
        port,
        Some(client_identity(&certs)),
    )
    .await
    .unwrap();
    assert_eq!(
        echo_round(&mut tls, b"hello mtls").await.unwrap(),
        b"hello mtls"
    );
    assert_eq!(up.conns.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_tunnel_serves_curl_with_the_generated_certificates() {
    let edge = Edge::start().await;
    let certs = generate(edge.dir.path(), "*.customer1.example.test");
    let up = HttpUpstream::start("device api").await;
    let p = |f: &str| certs.join(f).display().to_string();
    let _agent = edge
        .agent(
            "tls",
            &[
                &up.port(),
                "--domain",
                "api.customer1.example.test",
                "--terminate-at",
                "agent",
                "--crt",
                &p("server-crt.pem"),
                "--key",
                &p("server-key.pem"),
                "--mutual-tls-cas",
                &p("ca-crt.pem"),
            ],
        )
        .await;
    let port = edge.https_port();
    let base = vec![
        "--cacert".to_string(),
        p("ca-crt.pem"),
        "--connect-to".into(),
        format!("api.customer1.example.test:{port}:127.0.0.1:{port}"),
    ];
    let url = format!("https://api.customer1.example.test:{port}/");
    let mut with_cert = base.clone();
    with_cert.extend([
        "--cert".into(),
        p("client-crt.pem"),
        "--key".into(),
        p("client-key.pem"),
        url.clone(),
    ]);
    let (code, body, err) = crate::harness::curl(&with_cert).await;
    assert_eq!((code, body.as_str()), (0, "hello from device api"), "{err}");
    let mut without = base;
    without.push(url);
    let (code, _, _) = crate::harness::curl(&without).await;
    assert_ne!(code, 0, "curl without a client certificate succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_at_agent_without_certificates_is_a_clear_error() {
    let edge = Edge::start().await;
    let mut agent: Proc = edge.spawn_agent(
        "tls",
        &[
            "3000",
            "--domain",
            "x.example.test",
            "--terminate-at",
            "agent",
        ],
    );
    let status = agent.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(2), "{}", agent.output());
    let out = agent.output();
    assert!(
        out.contains("ERR_FERRY_504")
            && out.contains("crt and key")
            && out.contains("ferry certs generate"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_endpoints_on_a_random_and_a_requested_port() {
    let edge = Edge::start_with(&["--tcp-ports", "31000-31999"]).await;
    let up = TcpEcho::start().await;
    let random = edge.agent("tcp", &[&up.port()]).await;
    let url = random.url();
    let port = port_of(&url);
    assert!((31000..=31999).contains(&port), "{url}");
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(
        echo_round(&mut s, b"tcp bytes").await.unwrap(),
        b"tcp bytes"
    );

    let wanted = (31000..=31999)
        .find(|p| *p != port && std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap();
    let remote = format!("127.0.0.1:{wanted}");
    let fixed = edge
        .agent("tcp", &[&up.port(), "--remote-addr", &remote])
        .await;
    assert_eq!(fixed.url(), format!("tcp://{remote}"));
    let mut s = TcpStream::connect(("127.0.0.1", wanted)).await.unwrap();
    assert_eq!(
        echo_round(&mut s, b"fixed port").await.unwrap(),
        b"fixed port"
    );
    // Half-close: the client's FIN reaches the upstream, whose FIN comes back.
    s.shutdown().await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connections_through_one_agent() {
    const N: usize = 1000;
    let edge = Edge::start_with(&["--tcp-ports", "32000-32999"]).await;
    let up = TcpEcho::start().await;
    let agent = edge.agent("tcp", &[&up.port()]).await;
    let port = port_of(&agent.url());
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let mut tasks = Vec::with_capacity(N);
    for i in 0..N {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
            let msg = format!("connection {i:04}");
            let back = echo_round(&mut s, msg.as_bytes()).await?;
            assert_eq!(back, msg.as_bytes());
            // Every connection is open at once before any closes.
            barrier.wait().await;
            Ok::<_, std::io::Error>(())
        }));
    }
    let all = async {
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("1000 connections in time");
    assert!(up.conns.load(Ordering::SeqCst) >= N as u64);
}
