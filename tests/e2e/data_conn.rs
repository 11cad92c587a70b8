//! Data connections: a Ferry agent that carries traffic keeps TLS connections idle at the
//! edge, and the edge starts later streams on them instead of on the session
//! (`ferry_proto::data_conn`). Read through the edge's metrics, over real sockets.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{eventually, port_of, Edge};
use crate::http_relay::read_answer;
use crate::metrics::{scrape, value};
use crate::tls_tcp::{echo_round, tls_connect};
use crate::upstream::{HttpUpstream, TcpEcho};

const DATA_STREAMS: &str = "ferry_edge_data_streams_total{proto=\"tcp\"}";
const HTTP_DATA_STREAMS: &str = "ferry_edge_data_streams_total{proto=\"http\"}";
const IDLE: &str = "ferry_edge_data_connections_idle";

async fn metric(edge: &Edge, series: &str) -> f64 {
    value(&scrape(edge, &edge.api_key).await, series)
}

/// Waits until the agent has left a data connection idle at `edge`; the `series` of streams
/// carried on data connections so far.
async fn data_connection_waits(edge: &Edge, series: &str) -> f64 {
    eventually(
        "idle data connections at the edge",
        Duration::from_secs(10),
        || async { metric(edge, IDLE).await >= 1.0 },
    )
    .await;
    metric(edge, series).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_ride_data_connections_once_the_agent_carries_traffic() {
    let edge = Edge::start().await;
    let echo = TcpEcho::start().await;
    let agent = edge.agent("tcp", &[&echo.port()]).await;
    let port = port_of(&agent.url());

    // A quiet agent holds nothing at the edge beyond its session.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(metric(&edge, IDLE).await, 0.0);

    // The first stream rides the session, and wakes the agent's data connections.
    let mut first = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(echo_round(&mut first, b"first").await.unwrap(), b"first");

    // The next stream rides one: 4 MB each way arrive whole, and the half-close comes back.
    let before = data_connection_waits(&edge, DATA_STREAMS).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let sent: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let (mut rd, mut wr) = s.split();
    let write = async {
        wr.write_all(&sent).await.unwrap();
        wr.shutdown().await.unwrap();
    };
    let mut back = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), rd.read_to_end(&mut back));
    let ((), got) = tokio::join!(write, read);
    got.expect("the echo within 30 s").unwrap();
    assert!(back == sent, "{} bytes back of {}", back.len(), sent.len());
    assert_eq!(metric(&edge, DATA_STREAMS).await, before + 1.0);
    assert_eq!(echo_round(&mut first, b"still").await.unwrap(), b"still");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_speaks_first_is_heard_through_a_data_connection() {
    let edge = Edge::start().await;
    let banner = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = banner.local_addr().unwrap().port().to_string();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = banner.accept().await {
            tokio::spawn(async move {
                let _ = conn.write_all(b"220 ready\r\n").await;
                let mut sink = [0u8; 64];
                while matches!(conn.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    let agent = edge.agent("tcp", &[&up]).await;
    let port = port_of(&agent.url());
    let greeting = |n: u8| async move {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut line = [0u8; 11];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut line))
            .await
            .unwrap_or_else(|_| panic!("connection {n}: no banner in 10 s"))
            .unwrap();
        assert_eq!(&line, b"220 ready\r\n");
    };
    greeting(1).await;
    let before = data_connection_waits(&edge, DATA_STREAMS).await;
    // The client sends nothing: the banner comes only if the edge flushed the stream's header.
    greeting(2).await;
    assert_eq!(metric(&edge, DATA_STREAMS).await, before + 1.0);
}

/// A kept-alive HTTP connection that began on the session moves to a data connection once the
/// agent has one idle: its next request goes on a new stream there (so on a new upstream
/// connection), and the one after stays on it. Here on the edge's byte relay (`http_relay.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_http_connection_moves_to_a_data_connection() {
    kept_alive_connection_moves(&[], "").await;
}

/// The same on hyper's path (`stream_reuse.rs`), which basic auth takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_on_hypers_path_moves_too() {
    // "ops:password1" in base64.
    kept_alive_connection_moves(
        &["--basic-auth", "ops:password1"],
        "Authorization: Basic b3BzOnBhc3N3b3JkMQ==\r\n",
    )
    .await;
}

/// Three requests on one connection to an HTTP endpoint of an agent started with `args`, each
/// with the `header` lines given, read through the edge's metrics and the upstream's count.
async fn kept_alive_connection_moves(args: &[&str], header: &str) {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("moved").await;
    let host = "moved.example.test";
    let port = up.port();
    let mut all = vec![port.as_str(), "--domain", host, "--scheme", "http"];
    all.extend_from_slice(args);
    let _agent = edge.agent("http", &all).await;
    let mut conn = TcpStream::connect(("127.0.0.1", edge.http_port()))
        .await
        .unwrap();
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n{header}\r\n");
    moved_round(&mut conn, &request, 1).await;
    let before = data_connection_waits(&edge, HTTP_DATA_STREAMS).await;
    assert_eq!(before, 0.0);
    moved_round(&mut conn, &request, 2).await;
    assert_eq!(metric(&edge, HTTP_DATA_STREAMS).await, 1.0);
    assert_eq!(up.connections.load(Ordering::Relaxed), 2);
    moved_round(&mut conn, &request, 3).await;
    assert_eq!(metric(&edge, HTTP_DATA_STREAMS).await, 1.0);
    assert_eq!(up.connections.load(Ordering::Relaxed), 2);
}

async fn moved_round(conn: &mut TcpStream, request: &str, n: u8) {
    conn.write_all(request.as_bytes()).await.unwrap();
    let (status, body) = read_answer(conn).await;
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"hello from moved"[..]),
        "request {n}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_connections_zero_carries_everything_on_the_session() {
    let edge = Edge::start().await;
    let echo = TcpEcho::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ferry.yml");
    std::fs::write(&file, "version: \"2\"\ndata_connections: 0\n").unwrap();
    let agent = edge
        .agent(
            "tcp",
            &[&echo.port(), "--config", &file.display().to_string()],
        )
        .await;
    let port = port_of(&agent.url());
    for n in 0..5 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let msg = format!("round {n}");
        assert_eq!(
            echo_round(&mut s, msg.as_bytes()).await.unwrap(),
            msg.as_bytes()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(metric(&edge, IDLE).await, 0.0);
    assert_eq!(metric(&edge, DATA_STREAMS).await, 0.0);

    std::fs::write(&file, "version: \"2\"\ndata_connections: 17\n").unwrap();
    let out = std::process::Command::new(crate::harness::BIN)
        .args([
            "tcp",
            "1",
            "--authtoken",
            "x",
            "--server-addr",
            "127.0.0.1:1",
        ])
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("data_connections") && err.contains("0 to 16"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_connection_with_a_key_no_session_holds_is_closed() {
    let edge = Edge::start().await;
    let port = port_of(&edge.agent_addr());
    for hello in [
        ferry_proto::data_conn::hello("ts_2Zq0000000000000000000000000.00ff"),
        ferry_proto::data_conn::hello("no dot at all"),
        b"\xFFferryD1\xFF\xFF".to_vec(),
    ] {
        let mut tls = tls_connect(&edge.ca, "localhost", port, None)
            .await
            .unwrap();
        tls.write_all(&hello).await.unwrap();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "{hello:?} still open after 5 s");
        assert!(rest.is_empty(), "{hello:?} got {rest:?}");
    }
    assert_eq!(metric(&edge, IDLE).await, 0.0);
}
