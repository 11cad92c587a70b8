//! Protections the edge enforces for HTTP endpoints: basic auth and client certificates.

use crate::harness::{curl, Edge};
use crate::upstream::HttpUpstream;

async fn status_and_body(args: Vec<String>) -> (i32, String) {
    let mut all = vec!["-w".to_string(), "\n%{http_code}".into()];
    all.extend(args);
    let (code, out, _) = curl(&all).await;
    (code, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_is_checked_at_the_edge() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("guarded").await;
    let _agent = edge
        .agent(
            "http",
            &[
                &up.port(),
                "--domain",
                "guarded.example.test",
                "--basic-auth",
                "ops:correct horse",
            ],
        )
        .await;
    let (_, out) = status_and_body(edge.curl_https("guarded.example.test", "/echo")).await;
    assert!(
        out.ends_with("\n401") && out.contains("ERR_FERRY_810"),
        "{out}"
    );
    assert_eq!(up.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    let mut wrong = vec!["-u".to_string(), "ops:wrong password".into()];
    wrong.extend(edge.curl_https("guarded.example.test", "/echo"));
    let (_, out) = status_and_body(wrong).await;
    assert!(out.ends_with("\n401"), "{out}");
    let mut right = vec!["-u".to_string(), "ops:correct horse".into()];
    right.extend(edge.curl_https("guarded.example.test", "/echo"));
    let (_, out) = status_and_body(right).await;
    assert!(out.ends_with("\n200"), "{out}");
    assert!(
        !out.to_ascii_lowercase().contains("authorization"),
        "credentials leaked upstream: {out}"
    );
    let mut headers = vec!["-D".to_string(), "-".into()];
    headers.extend(edge.curl_https("guarded.example.test", "/"));
    let (_, out, _) = curl(&headers).await;
    assert!(
        out.to_ascii_lowercase().contains("www-authenticate: basic"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_checked_at_the_edge_for_http_endpoints() {
    let edge = Edge::start().await;
    let certs = edge.dir.path().join("clients");
    let st = std::process::Command::new(crate::harness::BIN)
        .args([
            "certs",
            "generate",
            "--domain",
            "clients.example.test",
            "--out",
        ])
        .arg(&certs)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let p = |f: &str| certs.join(f).display().to_string();
    let up = HttpUpstream::start("mtls web").await;
    let _protected = edge
        .agent(
            "http",
            &[
                &up.port(),
                "--domain",
                "secure.example.test",
                "--mutual-tls-cas",
                &p("ca-crt.pem"),
            ],
        )
        .await;
    let _open = edge
        .agent("http", &[&up.port(), "--domain", "open.example.test"])
        .await;

    let mut with_cert = vec![
        "--cert".to_string(),
        p("client-crt.pem"),
        "--key".into(),
        p("client-key.pem"),
    ];
    with_cert.extend(edge.curl_https("secure.example.test", "/"));
    let (code, body, err) = curl(&with_cert).await;
    assert_eq!((code, body.as_str()), (0, "hello from mtls web"), "{err}");

    let (code, _, _) = curl(&edge.curl_https("secure.example.test", "/")).await;
    assert_ne!(
        code, 0,
        "no client certificate, yet the handshake succeeded"
    );

    // A connection made for another name cannot carry requests for the protected one.
    let port = edge.https_port();
    let (_, out) = status_and_body(vec![
        "--cacert".into(),
        edge.ca.display().to_string(),
        "--connect-to".into(),
        format!("open.example.test:{port}:127.0.0.1:{port}"),
        "-H".into(),
        format!("Host: secure.example.test:{port}"),
        format!("https://open.example.test:{port}/"),
    ])
    .await;
    assert!(
        out.ends_with("\n403") && out.contains("ERR_FERRY_809"),
        "{out}"
    );
}
