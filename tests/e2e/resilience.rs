use std::time::Duration;

use ngrok::prelude::*;

use crate::harness::{curl, eventually, Edge};
use crate::upstream::HttpUpstream;

async fn status_of(edge: &Edge, host: &str, path: &str) -> (String, String) {
    let mut args = vec!["-w".to_string(), "\n%{http_code}".into()];
    args.extend(edge.curl_https(host, path));
    let (_, out, _) = curl(&args).await;
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    (code.to_string(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_gives_502_and_a_restarted_one_serves_again() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("phoenix").await;
    let agent = edge
        .agent("http", &[&up.port(), "--domain", "phoenix.example.test"])
        .await;
    assert_eq!(status_of(&edge, "phoenix.example.test", "/").await.0, "200");
    drop(agent);
    eventually(
        "502 after the agent dies",
        Duration::from_secs(20),
        || async {
            let (code, body) = status_of(&edge, "phoenix.example.test", "/").await;
            code == "502" && body.contains("ERR_FERRY_802")
        },
    )
    .await;
    let _again = edge
        .agent("http", &[&up.port(), "--domain", "phoenix.example.test"])
        .await;
    assert_eq!(
        status_of(&edge, "phoenix.example.test", "/").await,
        ("200".to_string(), "hello from phoenix".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_edge_restart_the_agent_rebinds_by_itself() {
    let mut edge = Edge::start().await;
    let up = HttpUpstream::start("steady").await;
    let _agent = edge
        .agent("http", &[&up.port(), "--domain", "steady.example.test"])
        .await;
    assert_eq!(status_of(&edge, "steady.example.test", "/").await.0, "200");
    edge.kill_and_restart().await;
    eventually("the agent re-binds", Duration::from_secs(30), || async {
        status_of(&edge, "steady.example.test", "/").await.0 == "200"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_notice_a_frozen_agent() {
    let edge = Edge::start_with(&["--heartbeat-interval", "1", "--heartbeat-tolerance", "2"]).await;
    let up = HttpUpstream::start("frozen").await;
    let agent = edge
        .agent("http", &[&up.port(), "--domain", "frozen.example.test"])
        .await;
    agent.proc.signal("STOP");
    let frozen_at = std::time::Instant::now();
    eventually(
        "the edge drops the frozen agent",
        Duration::from_secs(15),
        || async {
            let (code, body) = status_of(&edge, "frozen.example.test", "/").await;
            code == "502" && body.contains("ERR_FERRY_802")
        },
    )
    .await;
    assert!(frozen_at.elapsed() < Duration::from_secs(15));
    agent.proc.signal("CONT");
    eventually("the agent comes back", Duration::from_secs(30), || async {
        status_of(&edge, "frozen.example.test", "/").await.0 == "200"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_requests_finish_then_exits_zero() {
    let mut edge = Edge::start().await;
    let up = HttpUpstream::start("drain").await;
    let _agent = edge
        .agent("http", &[&up.port(), "--domain", "drain.example.test"])
        .await;
    let args = edge.curl_https("drain.example.test", "/delay/1500");
    let running = tokio::spawn(async move { curl(&args).await });
    eventually(
        "the request reaches the upstream",
        Duration::from_secs(10),
        || async { up.requests.load(std::sync::atomic::Ordering::SeqCst) > 0 },
    )
    .await;
    let proc = edge.proc.as_mut().unwrap();
    proc.signal("TERM");
    let (code, body, err) = running.await.unwrap();
    assert_eq!((code, body.as_str()), (0, "delayed"), "{err}");
    let status = proc.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(0), "{}", proc.output());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_client_hello_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let edge = Edge::start_with(&["--handshake-timeout", "1"]).await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", edge.https_port()))
        .await
        .unwrap();
    // A TLS record header announcing a ClientHello that never comes.
    s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("the edge closes a stalled handshake")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed too early: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_edge_asks_ngrok_agents_that_take_it_to_restart() {
    let mut edge = Edge::start().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (tx, mut restarted) = tokio::sync::mpsc::unbounded_channel();
    // ngrok's SDK takes the restart command once its application registers a handler.
    let _sess = ngrok::Session::builder()
        .authtoken(edge.token.clone())
        .server_addr(edge.agent_addr())
        .unwrap()
        .ca_cert(bytes::Bytes::from(std::fs::read(&edge.ca).unwrap()))
        .handle_restart_command(move |_req| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(());
                Ok(())
            }
        })
        .connect()
        .await
        .expect("SDK connects");
    // A tunnel, as an SDK application has, and the edge sees the session live.
    let _tunnel = _sess
        .http_endpoint()
        .domain("restart.example.test")
        .listen()
        .await
        .expect("the SDK binds");
    let mut proc = edge.proc.take().unwrap();
    proc.signal("TERM");
    let called = tokio::time::timeout(Duration::from_secs(5), restarted.recv()).await;
    assert!(
        matches!(called, Ok(Some(()))),
        "the SDK's restart handler not called within 5 s of SIGTERM; edge:\n{}",
        proc.output()
    );
    let status = proc.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(0), "{status:?}");
}
