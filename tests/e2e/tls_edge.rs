//! TLS endpoints terminated at the edge (`terminate_at: edge`): the edge completes the client's
//! handshake with the tunnel's own certificate (or the one it serves for the name), checks
//! client certificates when the tunnel asks, and the agent carries plaintext to its upstream.
//! Ferry's agent and ngrok's own SDK bind them the same way.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use ngrok::prelude::*;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::agent_api::{api_agent, call, post};
use crate::enforcement::bot_token;
use crate::harness::{curl, eventually, Edge, Proc};
use crate::sdk::sdk_session;
use crate::served_certs::{reserve, upload_and_attach, TestPki};
use crate::tls_tcp::tls_connect;
use crate::upstream::{HttpUpstream, TcpEcho};

/// `ferry certs generate` for `domain` in a folder of the edge's temporary directory.
fn generate(edge: &Edge, domain: &str) -> std::path::PathBuf {
    let out = edge.dir.path().join(domain.replace('*', "star"));
    let status = std::process::Command::new(crate::harness::BIN)
        .args(["certs", "generate", "--domain", domain, "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    out
}

fn path(dir: &Path, file: &str) -> String {
    dir.join(file).display().to_string()
}

/// curl to `host` on the edge's shared TLS port, trusting `ca`, with `extra` arguments.
fn curl_args(edge: &Edge, host: &str, ca: &str, extra: &[String]) -> Vec<String> {
    let port = edge.https_port();
    let mut args = vec![
        "--cacert".to_string(),
        ca.to_string(),
        "--connect-to".into(),
        format!("{host}:{port}:127.0.0.1:{port}"),
    ];
    args.extend(extra.iter().cloned());
    args.push(format!("https://{host}:{port}/"));
    args
}

/// The certificate the edge presents for `host`, as a client trusting `ca` sees it.
async fn presented(edge: &Edge, host: &str, ca: &Path) -> CertificateDer<'static> {
    let tls = tls_connect(ca, host, edge.https_port(), None)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// Asserts that neither the REST API's tunnels nor its endpoints show `key`'s contents.
async fn key_is_not_shown(edge: &Edge, key: &Path) {
    let pem = std::fs::read_to_string(key).unwrap();
    let body_line = pem.lines().nth(1).unwrap().to_string();
    // The bind carries PEM in base64, and the base64 of any PEM starts with that of "-----BEGIN".
    let pem_in_base64 = "LS0tLS1CRUdJTi";
    for list in ["/tunnels", "/endpoints"] {
        let (status, body) = edge.api("GET", list, None).await;
        assert_eq!(status, 200, "{list}: {body}");
        let text = body.to_string();
        assert!(
            text.contains("tls://"),
            "{list} lists no TLS endpoint: {text}"
        );
        for leak in [
            body_line.as_str(),
            pem_in_base64,
            "PRIVATE",
            "TLSTermination",
        ] {
            assert!(
                !text.contains(leak),
                "{list} shows the private key ({leak}): {text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_terminates_with_the_tunnels_certificate_and_the_upstream_gets_plaintext() {
    let edge = Edge::start().await;
    let host = "edge-tls.example.test";
    let certs = generate(&edge, host);
    let up = HttpUpstream::start("plain upstream").await;
    // crt and key without --terminate-at: the edge terminates, as ngrok's default says.
    let agent = edge
        .agent(
            "tls",
            &[
                &up.port(),
                "--domain",
                host,
                "--crt",
                &path(&certs, "server-crt.pem"),
                "--key",
                &path(&certs, "server-key.pem"),
            ],
        )
        .await;
    assert_eq!(agent.url(), format!("tls://{host}:{}", edge.https_port()));
    // The client trusts only the tunnel's own CA: the edge presented the tunnel's certificate,
    // and the HTTP upstream understood the request, so it arrived in plaintext.
    let ca = path(&certs, "ca-crt.pem");
    let (code, body, err) = curl(&curl_args(&edge, host, &ca, &[])).await;
    assert_eq!(
        (code, body.as_str()),
        (0, "hello from plain upstream"),
        "{err}"
    );
    let leaf = &ferry_pki::load_cert_chain(&certs.join("server-crt.pem")).unwrap()[0];
    assert_eq!(
        &presented(&edge, host, &certs.join("ca-crt.pem")).await,
        leaf
    );
    // The dev CA, which signs the edge's own certificates, is not what the client sees.
    let (code, _, _) = curl(&edge.curl_https(host, "/")).await;
    assert_ne!(code, 0, "the edge served its own certificate for {host}");
    key_is_not_shown(&edge, &certs.join("server-key.pem")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_certificate_the_edge_serves_the_names_own_one() {
    let edge = Edge::start().await;
    let host = "own-cert.example.test";
    let up = HttpUpstream::start("behind the dev ca").await;
    let _agent = edge
        .agent(
            "tls",
            &[&up.port(), "--domain", host, "--terminate-at", "edge"],
        )
        .await;
    // In dev mode the name's certificate comes from the dev CA.
    let (code, body, err) = curl(&edge.curl_https(host, "/")).await;
    assert_eq!(
        (code, body.as_str()),
        (0, "hello from behind the dev ca"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_dev_mode_the_edge_terminates_with_the_domains_uploaded_certificate() {
    let edge = Edge::start_production(&[]).await;
    let (_, _, token) = bot_token(&edge, &[]).await;
    let host = "prod-tls.example.test";
    let rd = reserve(&edge, host).await;
    let pki = TestPki::new();
    let (chain, key) = pki.leaf(&[host]);
    upload_and_attach(&edge, &chain, &key, rd["id"].as_str().unwrap()).await;
    let up = HttpUpstream::start("production").await;
    let _agent = edge
        .agent_as(
            &token,
            "tls",
            &[&up.port(), "--domain", host, "--terminate-at", "edge"],
        )
        .await;
    // Only the uploaded certificate chains to this root.
    let root = pki.write_root(edge.dir.path()).display().to_string();
    eventually(
        "the edge to terminate with the uploaded certificate",
        Duration::from_secs(10),
        || async {
            let (code, body, _) = curl(&curl_args(&edge, host, &root, &[])).await;
            code == 0 && body == "hello from production"
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_api_starts_an_endpoint_terminated_at_the_edge() {
    let edge = Edge::start().await;
    let host = "api-edge.example.test";
    let certs = generate(&edge, host);
    let up = HttpUpstream::start("api started").await;
    let agent = api_agent(&edge, "", &["--none"], &[]).await;
    let (code, body) = call(post(
        &format!("http://{}/api/tunnels", agent.web),
        &format!(
            r#"{{"name":"edge","proto":"tls","terminate_at":"edge","addr":"{}","domain":"{host}","crt":"{}","key":"{}"}}"#,
            up.port(),
            path(&certs, "server-crt.pem"),
            path(&certs, "server-key.pem"),
        ),
    ))
    .await;
    assert_eq!(code, 201, "{body}");
    assert!(
        !body.contains("PRIVATE") && !body.contains("LS0tLS1CRUdJTi"),
        "the agent API shows the key: {body}"
    );
    let ca = path(&certs, "ca-crt.pem");
    let (code, body, err) = curl(&curl_args(&edge, host, &ca, &[])).await;
    assert_eq!(
        (code, body.as_str()),
        (0, "hello from api started"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_at_the_edge_admits_only_clients_of_the_tunnels_cas() {
    let edge = Edge::start().await;
    let host = "api.customer1.example.test";
    let certs = generate(&edge, "*.customer1.example.test");
    let foreign = generate(&edge, "*.other.example.test");
    let up = TcpEcho::start().await;
    // From ngrok.yml, as the guides write it, with the edge named explicitly.
    let config = edge.dir.path().join("ngrok.yml");
    std::fs::write(
        &config,
        format!(
            "version: \"2\"\ntunnels:\n  device:\n    proto: tls\n    addr: {}\n    domain: {host}\n    terminate_at: edge\n    crt: {}\n    key: {}\n    mutual_tls_cas: {}\n",
            up.port(),
            path(&certs, "server-crt.pem"),
            path(&certs, "server-key.pem"),
            path(&certs, "ca-crt.pem"),
        ),
    )
    .unwrap();
    let _agent = edge
        .agent(
            "start",
            &["device", "--config", &config.display().to_string()],
        )
        .await;
    let ca = certs.join("ca-crt.pem");
    let identity = |dir: &Path| {
        (
            ferry_pki::load_cert_chain(&dir.join("client-crt.pem")).unwrap(),
            ferry_pki::load_private_key(&dir.join("client-key.pem")).unwrap(),
        )
    };
    for (what, client) in [
        ("no client certificate", None),
        ("a certificate from a foreign CA", Some(identity(&foreign))),
    ] {
        // TLS 1.3 clients learn of the refusal at their first read.
        let res = async {
            let mut tls = tls_connect(&ca, host, edge.https_port(), client).await?;
            tls.write_all(b"secret").await?;
            let mut back = [0u8; 6];
            tls.read_exact(&mut back).await
        }
        .await;
        assert!(res.is_err(), "{what} was let through");
    }
    assert_eq!(
        up.conns.load(Ordering::SeqCst),
        0,
        "a refused client reached the agent"
    );

    let mut tls = tls_connect(&ca, host, edge.https_port(), Some(identity(&certs)))
        .await
        .unwrap();
    tls.write_all(b"plaintext upstream").await.unwrap();
    let mut back = [0u8; 18];
    tls.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"plaintext upstream");
    // The echo counted the plaintext: the upstream saw no TLS record.
    assert_eq!(up.bytes.load(Ordering::SeqCst), 18);
    // curl, as the guides use it.
    let cert_args = [
        "--cert".to_string(),
        path(&certs, "client-crt.pem"),
        "--key".into(),
        path(&certs, "client-key.pem"),
    ];
    let (code, _, _) = curl(&curl_args(&edge, host, &path(&certs, "ca-crt.pem"), &[])).await;
    assert_ne!(code, 0, "curl without a client certificate got through");
    // The echo upstream sends curl's own request back, in plaintext as it arrived; curl takes
    // it for a headerless (HTTP/0.9) answer.
    let mut with_cert = curl_args(&edge, host, &path(&certs, "ca-crt.pem"), &cert_args);
    with_cert.splice(
        0..0,
        ["--http0.9".to_string(), "--max-time".into(), "3".into()],
    );
    let (_, body, err) = curl(&with_cert).await;
    assert!(body.starts_with("GET / HTTP/1.1\r\n"), "{body:?} {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_the_certificates_is_named_before_and_at_the_bind() {
    let edge = Edge::start().await;
    let host = "mismatch.example.test";
    let certs = generate(&edge, host);
    // Ferry's agent checks its files before it binds.
    let mut agent: Proc = edge.spawn_agent(
        "tls",
        &[
            "3000",
            "--domain",
            host,
            "--crt",
            &path(&certs, "server-crt.pem"),
            "--key",
            &path(&certs, "client-key.pem"),
        ],
    );
    let status = agent.wait_exit(Duration::from_secs(20)).await;
    assert_ne!(status.code(), Some(0), "{}", agent.output());
    let out = agent.output();
    assert!(
        out.contains("ERR_FERRY_505") && out.contains("does not match"),
        "{out}"
    );
    // ngrok's SDK sends whatever it is given: the edge refuses the bind, naming the defect.
    let sess = sdk_session(&edge, &edge.token).await.unwrap();
    let read = |f: &str| Bytes::from(std::fs::read(certs.join(f)).unwrap());
    let err = sess
        .tls_endpoint()
        .domain(host)
        .termination(read("server-crt.pem"), read("client-key.pem"))
        .listen()
        .await
        .err()
        .expect("the bind is refused");
    let msg = err.to_string();
    assert!(
        msg.contains("ERR_FERRY_505") && msg.contains("TLSTermination.key"),
        "{msg}"
    );
    // The certificate where the key belongs is named as what it is.
    let err = sess
        .tls_endpoint()
        .domain(host)
        .termination(read("server-crt.pem"), read("server-crt.pem"))
        .listen()
        .await
        .err()
        .expect("the bind is refused");
    let msg = err.to_string();
    assert!(
        msg.contains("ERR_FERRY_502") && msg.contains("holds a certificate, not a private key"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ngrok_sdk_binds_an_endpoint_terminated_at_the_edge_with_client_cas() {
    let edge = Edge::start().await;
    let host = "sdk-edge.example.test";
    let certs = generate(&edge, host);
    let foreign = generate(&edge, "sdk-foreign.example.test");
    let read = |f: &str| Bytes::from(std::fs::read(certs.join(f)).unwrap());
    let sess = sdk_session(&edge, &edge.token).await.unwrap();
    let mut tunnel = sess
        .tls_endpoint()
        .domain(host)
        .termination(read("server-crt.pem"), read("server-key.pem"))
        .mutual_tlsca(read("ca-crt.pem"))
        .listen()
        .await
        .unwrap();
    assert_eq!(tunnel.url(), format!("tls://{host}:{}", edge.https_port()));
    // The SDK hands the application the plaintext; this one answers in upper case.
    tokio::spawn(async move {
        while let Ok(Some(mut conn)) = tunnel.try_next().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let _ = conn.write_all(&buf[..n].to_ascii_uppercase()).await;
            });
        }
    });
    let ca = certs.join("ca-crt.pem");
    let identity = |dir: &Path| {
        (
            ferry_pki::load_cert_chain(&dir.join("client-crt.pem")).unwrap(),
            ferry_pki::load_private_key(&dir.join("client-key.pem")).unwrap(),
        )
    };
    let refused = async {
        let mut tls = tls_connect(&ca, host, edge.https_port(), Some(identity(&foreign))).await?;
        tls.write_all(b"x").await?;
        let mut b = [0u8; 1];
        tls.read_exact(&mut b).await
    }
    .await;
    assert!(
        refused.is_err(),
        "a foreign client certificate was let through"
    );
    let mut tls = tls_connect(&ca, host, edge.https_port(), Some(identity(&certs)))
        .await
        .unwrap();
    let leaf = &ferry_pki::load_cert_chain(&certs.join("server-crt.pem")).unwrap()[0];
    assert_eq!(&tls.get_ref().1.peer_certificates().unwrap()[0], leaf);
    tls.write_all(b"plaintext at the sdk").await.unwrap();
    let mut back = [0u8; 20];
    tls.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"PLAINTEXT AT THE SDK");
    key_is_not_shown(&edge, &certs.join("server-key.pem")).await;
}
