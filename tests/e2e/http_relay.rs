//! The edge carries plain HTTP/1.1 requests as bytes (`ferry-edge/src/http_relay.rs`): raw
//! connections to the edge's HTTP port, so that the tests choose exactly what goes over
//! them and when.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{Agent, Edge};
use crate::upstream::{pattern_byte, HttpUpstream};

/// An edge, an agent serving `host` from the upstream on `port` over plain HTTP, and a
/// connection to the edge's HTTP port. The agent keeps no data connections, so a connection's
/// requests stay on the stream it started with and the upstream's connections can be counted
/// (`data_conn.rs` tests the move to a data connection).
async fn relayed(port: &str, host: &str) -> (Edge, Agent, TcpStream) {
    let edge = Edge::start().await;
    let cfg = edge.dir.path().join("relay.yml");
    std::fs::write(&cfg, "version: \"2\"\ndata_connections: 0\n").unwrap();
    let cfg = cfg.display().to_string();
    let agent = edge
        .agent(
            "http",
            &[port, "--domain", host, "--scheme", "http", "--config", &cfg],
        )
        .await;
    let conn = TcpStream::connect(("127.0.0.1", edge.http_port()))
        .await
        .unwrap();
    (edge, agent, conn)
}

/// Five requests pipelined in one write: each answer comes whole and in order, with the
/// forwarded headers hyper's path adds, a HEAD without a body, a chunked answer, a request
/// body, and the connection closed after the request that asks for it; all of it over one
/// proxy stream, so one connection to the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_relayed_whole_and_in_order() {
    let up = HttpUpstream::start("relay").await;
    let host = "relay.example.test";
    let (_edge, _agent, mut conn) = relayed(&up.port(), host).await;
    let requests = format!(
        "GET /echo HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: gopher\r\n\r\n\
         HEAD / HTTP/1.1\r\nHost: {host}\r\n\r\n\
         GET /bytes/70000 HTTP/1.1\r\nHost: {host}\r\n\r\n\
         POST /sha256 HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nhello\
         GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(requests.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), conn.read_to_end(&mut got))
        .await
        .expect("the edge closes the connection after the request that asked")
        .unwrap();

    let mut rest = &got[..];
    let mut answers = Vec::new();
    for head_only in [false, true, false, false, false] {
        let (status, headers, body, after) = next_answer(rest, head_only);
        answers.push((status, headers, body));
        rest = after;
    }
    assert!(rest.is_empty(), "bytes after the last answer: {rest:?}");
    assert!(answers.iter().all(|a| a.0 == 200), "{answers:?}");

    let echo: serde_json::Value = serde_json::from_slice(&answers[0].2).unwrap();
    let sent = &echo["headers"];
    assert_eq!(sent["x-forwarded-for"], "10.1.2.3, 127.0.0.1", "{echo}");
    assert_eq!(sent["x-forwarded-proto"], "http", "{echo}");
    assert_eq!(sent["x-forwarded-host"], host, "{echo}");

    assert!(answers[1].2.is_empty());
    assert_eq!(
        answers[2].1.get("transfer-encoding").map(String::as_str),
        Some("chunked")
    );
    let want: Vec<u8> = (0..70_000).map(pattern_byte).collect();
    assert!(answers[2].2 == want, "the chunked answer changed");
    assert_eq!(
        String::from_utf8_lossy(&answers[3].2),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 5"
    );
    assert_eq!(String::from_utf8_lossy(&answers[4].2), "hello from relay");
    assert_eq!(up.requests.load(Ordering::Relaxed), 5);
    assert_eq!(up.connections.load(Ordering::Relaxed), 1);
}

/// A relayed connection keeps its proxy stream only a few idle seconds (as hyper's path
/// does), so idle keep-alive clients do not hold the agent's stream slots: the request after
/// the pause is answered on a new stream, which the agent serves on a new upstream connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_gives_its_stream_back() {
    let up = HttpUpstream::start("idle").await;
    let host = "idle.example.test";
    let (_edge, _agent, mut conn) = relayed(&up.port(), host).await;
    conn.write_all(get(host, false).as_bytes()).await.unwrap();
    let (status, body) = read_answer(&mut conn).await;
    assert_eq!((status, body.as_slice()), (200, &b"hello from idle"[..]));
    assert_eq!(up.connections.load(Ordering::Relaxed), 1);

    tokio::time::sleep(Duration::from_secs(7)).await;
    conn.write_all(get(host, true).as_bytes()).await.unwrap();
    let (status, body) = read_answer(&mut conn).await;
    assert_eq!((status, body.as_slice()), (200, &b"hello from idle"[..]));
    assert_eq!(up.connections.load(Ordering::Relaxed), 2);
}

/// An upstream that closes each connection under its second request, without saying so (as
/// a server closes an idle keep-alive connection just as a request arrives): that request
/// reaches the kept proxy stream as it ends. A GET goes again on a new stream and is
/// answered; a POST is not sent twice, and the client gets the 502 page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_stream_that_ends_under_a_request_is_retried_only_when_that_is_safe() {
    let up = OneShotUpstream::start().await;
    let host = "oneshot.example.test";
    let (edge, _agent, mut conn) = relayed(&up.addr.port().to_string(), host).await;
    conn.write_all(get(host, false).as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut conn).await, (200, b"ok".to_vec()));
    conn.write_all(get(host, false).as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut conn).await, (200, b"ok".to_vec()));
    assert_eq!(up.connections.load(Ordering::Relaxed), 2);

    let mut conn = TcpStream::connect(("127.0.0.1", edge.http_port()))
        .await
        .unwrap();
    conn.write_all(get(host, false).as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut conn).await, (200, b"ok".to_vec()));
    let post = format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n\r\nhi");
    conn.write_all(post.as_bytes()).await.unwrap();
    let (status, body) = read_answer(&mut conn).await;
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("ERR_FERRY_"));
    assert_eq!(up.connections.load(Ordering::Relaxed), 3);
}

/// A proxy adds `Date` to an answer that has none (RFC 9110 section 6.6.1); hyper's path
/// does, and so does the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_without_a_date_gets_one() {
    let up = OneShotUpstream::start().await;
    let host = "dateless.example.test";
    let (_edge, _agent, mut conn) = relayed(&up.addr.port().to_string(), host).await;
    conn.write_all(get(host, true).as_bytes()).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), conn.read_to_end(&mut got))
        .await
        .expect("the edge closes the connection after the request that asked")
        .unwrap();
    let (status, headers, body, rest) = next_answer(&got, false);
    assert_eq!((status, body.as_slice(), rest), (200, &b"ok"[..], &b""[..]));
    let date = headers.get("date").expect("a date header");
    assert!(date.len() == 29 && date.ends_with(" GMT"), "{date:?}");
}

/// Answers the first request head of each connection with `ok` (keep-alive, as HTTP/1.1
/// does unless told otherwise), then closes when the next one arrives.
struct OneShotUpstream {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
}

impl OneShotUpstream {
    async fn start() -> OneShotUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicU64::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if conn.write_all(answer).await.is_ok() {
                        let _ = conn.read(&mut buf).await;
                    }
                });
            }
        });
        OneShotUpstream { addr, connections }
    }
}

fn get(host: &str, close: bool) -> String {
    let extra = if close { "Connection: close\r\n" } else { "" };
    format!("GET / HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n")
}

/// Reads one answer with a `Content-Length` body from `conn`: its status and body.
pub async fn read_answer(conn: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let (status, headers, _, _) = next_answer(&got[..end + 4], true);
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .expect("an answer with a length");
            if got.len() >= end + 4 + len {
                return (status, got[end + 4..end + 4 + len].to_vec());
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(20), conn.read(&mut buf))
            .await
            .expect("an answer within 20 s")
            .unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
}

/// One HTTP/1.1 answer from the front of `bytes`: status, headers (names lower case), body
/// (chunks decoded), and what follows it.
fn next_answer(bytes: &[u8], head_only: bool) -> (u16, HashMap<String, String>, Vec<u8>, &[u8]) {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(bytes)))
        + 4;
    let head = std::str::from_utf8(&bytes[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut rest = &bytes[end..];
    let mut body = Vec::new();
    if head_only {
    } else if let Some(n) = headers.get("content-length") {
        let n: usize = n.parse().unwrap();
        body.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
    } else {
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
            rest = &rest[line_end + 2..];
            if size == 0 {
                rest = &rest[2..];
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
    }
    (status, headers, body, rest)
}
