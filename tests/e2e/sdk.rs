//! ngrok's own Rust SDK as the agent: what users keep on their devices must work unchanged.

use std::time::Duration;

use bytes::Bytes;
use ngrok::config::ForwarderBuilder;
use ngrok::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{curl, port_of, Edge};
use crate::upstream::{tls_echo, HttpUpstream, TcpEcho};

pub(crate) async fn sdk_session(
    edge: &Edge,
    token: &str,
) -> Result<ngrok::Session, ngrok::session::ConnectError> {
    // This test binary links both of rustls's providers (ngrok's and Ferry's), so the SDK
    // needs a process default, as any application that embeds it would choose.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = std::fs::read(&edge.ca).unwrap();
    ngrok::Session::builder()
        .authtoken(token)
        .server_addr(edge.agent_addr())
        .unwrap()
        .ca_cert(Bytes::from(ca))
        .connect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ngrok_sdk_carries_http_tls_and_tcp() {
    let edge = Edge::start_with(&["--tcp-ports", "33000-33999"]).await;
    let sess = sdk_session(&edge, &edge.token).await.expect("SDK connects");

    let web = HttpUpstream::start("sdk web").await;
    let http = sess
        .http_endpoint()
        .domain("sdk.example.test")
        .listen_and_forward(format!("http://{}", web.addr).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        http.url(),
        format!("https://sdk.example.test:{}", edge.https_port())
    );
    let (code, body, err) = curl(&edge.curl_https("sdk.example.test", "/")).await;
    assert_eq!((code, body.as_str()), (0, "hello from sdk web"), "{err}");

    let echo = TcpEcho::start().await;
    let tcp = sess
        .tcp_endpoint()
        .listen_and_forward(format!("tcp://{}", echo.addr).parse().unwrap())
        .await
        .unwrap();
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port_of(tcp.url())))
        .await
        .unwrap();
    s.write_all(b"via sdk").await.unwrap();
    let mut back = [0u8; 7];
    s.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"via sdk");

    let certs = edge.dir.path().join("sdk-certs");
    let st = std::process::Command::new(crate::harness::BIN)
        .args([
            "certs",
            "generate",
            "--domain",
            "sdk-tls.example.test",
            "--out",
        ])
        .arg(&certs)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let up = tls_echo(&certs.join("server-crt.pem"), &certs.join("server-key.pem")).await;
    let tls = sess
        .tls_endpoint()
        .domain("sdk-tls.example.test")
        .listen_and_forward(format!("tcp://{up}").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        tls.url(),
        format!("tls://sdk-tls.example.test:{}", edge.https_port())
    );
    let mut c = crate::tls_tcp::tls_connect(
        &certs.join("ca-crt.pem"),
        "sdk-tls.example.test",
        edge.https_port(),
        None,
    )
    .await
    .unwrap();
    c.write_all(b"tls via sdk").await.unwrap();
    let mut back = [0u8; 11];
    c.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"tls via sdk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_sees_both_codes_for_a_bad_authtoken() {
    let edge = Edge::start().await;
    let bogus = "2abcdefghijklmnopqrstuvwxyz_notthesecret";
    let err = sdk_session(&edge, bogus).await.err().expect("refused");
    assert_eq!(err.error_code(), Some("ERR_NGROK_107"), "{err}");
    assert!(err.msg().contains("ERR_FERRY_103"), "{}", err.msg());
}

/// ngrok's SDK registers a tunnel only after reading the bind reply, so a proxy stream sent
/// right behind it can be dropped. The edge holds such streams back briefly: a request sent the
/// moment `listen` returns must still arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_right_after_an_sdk_bind_are_not_lost() {
    let edge = Edge::start().await;
    let sess = sdk_session(&edge, &edge.token).await.unwrap();
    let web = HttpUpstream::start("race").await;
    for i in 0..10 {
        let host = format!("race{i}.example.test");
        let _fwd = sess
            .http_endpoint()
            .domain(host.clone())
            .listen_and_forward(format!("http://{}", web.addr).parse().unwrap())
            .await
            .unwrap();
        let (code, body, err) = curl(&edge.curl_https(&host, "/")).await;
        assert_eq!(
            (code, body.as_str()),
            (0, "hello from race"),
            "bind {i}: {err}"
        );
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// ngrok's SDK kills its whole session when more than 512 streams are open at once; the edge
/// caps proxy streams per SDK session below that and queues the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_concurrent_connections_than_the_sdk_can_take_are_queued_not_fatal() {
    const N: usize = 700;
    let edge = Edge::start_with(&["--tcp-ports", "34000-34999"]).await;
    let sess = sdk_session(&edge, &edge.token).await.unwrap();
    let echo = TcpEcho::start().await;
    let tcp = sess
        .tcp_endpoint()
        .listen_and_forward(format!("tcp://{}", echo.addr).parse().unwrap())
        .await
        .unwrap();
    let port = port_of(tcp.url());
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(N));
    let mut tasks = Vec::new();
    for i in 0..N {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            // Every client connects at the same moment, so far more than 512 streams are
            // asked for at once.
            barrier.wait().await;
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            let msg = format!("c{i:04}");
            s.write_all(msg.as_bytes()).await?;
            let mut back = [0u8; 5];
            s.read_exact(&mut back).await?;
            if back != msg.as_bytes() {
                let got = String::from_utf8_lossy(&back).into_owned();
                return Err(std::io::Error::other(format!("echo was {got:?}")));
            }
            Ok::<_, std::io::Error>(())
        }));
    }
    let all = async {
        let mut failed = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            if let Err(e) = t.await.unwrap() {
                failed.push(format!("c{i:04}: {e}"));
            }
        }
        failed
    };
    let failed = tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("all connections in time");
    assert!(
        failed.is_empty(),
        "{} of {N} connections failed: {:?}\n{}",
        failed.len(),
        &failed[..failed.len().min(10)],
        edge.proc.as_ref().map(|p| p.output()).unwrap_or_default()
    );
    // The session survived: a new connection still works.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(b"after").await.unwrap();
    let mut back = [0u8; 5];
    s.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"after");
}
