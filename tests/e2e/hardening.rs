//! What anyone on the internet can do to the agent ingress before authenticating: malformed
//! muxado frames, large frames and windows' worth of data on many connections, and a flood
//! of refused authtokens from the address a good agent shares. None of it may take the edge
//! down, grow its memory without bound, or keep a good agent out.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;

use crate::enforcement::{bot_token, serves};
use crate::harness::{eventually, Edge};
use crate::upstream::HttpUpstream;

const RST: u8 = 0;
const DATA: u8 = 1;
const WNDINC: u8 = 2;
const GOAWAY: u8 = 3;
const SYN: u8 = 2;

/// A muxado frame; `length` may lie about the body.
fn frame(typ: u8, flags: u8, stream: u32, length: u32, body: &[u8]) -> Vec<u8> {
    let mut b = ((length << 8) | u32::from(typ << 4 | flags))
        .to_be_bytes()
        .to_vec();
    b.extend(stream.to_be_bytes());
    b.extend(body);
    b
}

/// A TLS connection to the agent ingress as an agent makes it (SNI `localhost`), from
/// `source` on loopback, that has sent nothing yet.
async fn raw_agent(edge: &Edge, source: IpAddr) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in ferry_pki::load_ca_certs(&edge.ca).expect("dev CA") {
        roots.add(c).expect("root");
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let addr: SocketAddr = edge.agent_addr().parse().expect("agent address");
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let tcp = socket.connect(addr).await?;
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
}

/// Reads until the edge closes the connection; returns the error code of the GOAWAY it
/// sent, if any, and how long the close took.
async fn goaway_then_close(conn: &mut TlsStream<TcpStream>) -> (Option<u32>, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(8), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the edge kept the connection open"),
        }
    }
    let mut rest = &got[..];
    while rest.len() >= 8 {
        let lf = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let (len, typ) = ((lf >> 8) as usize, (lf as u8) >> 4);
        let Some(body) = rest.get(8..8 + len) else {
            break;
        };
        if typ == GOAWAY && body.len() >= 8 {
            return (
                Some(u32::from_be_bytes([body[4], body[5], body[6], body[7]])),
                start.elapsed(),
            );
        }
        rest = &rest[8 + len..];
    }
    (None, start.elapsed())
}

fn edge_log(edge: &Edge) -> String {
    edge.proc.as_ref().expect("edge runs").output()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_their_connection_while_an_agent_keeps_serving() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("steady").await;
    let _agent = edge
        .agent("http", &[&up.port(), "--domain", "steady.example.test"])
        .await;
    assert!(serves(&edge, "steady.example.test").await);

    let protocol = 0x01;
    let frame_size = 0x08;
    let mut double_syn = frame(DATA, SYN, 1, 4, &[0xFF; 4]);
    double_syn.extend(frame(DATA, SYN, 1, 1, b"x"));
    let cases: Vec<(&str, Vec<u8>, u32)> = vec![
        (
            "GOAWAY shorter than 8 bytes",
            frame(GOAWAY, 0, 0, 3, &[0; 3]),
            protocol,
        ),
        ("two SYNs for one stream", double_syn, protocol),
        (
            "WNDINC of length 9",
            frame(WNDINC, 0, 1, 9, &[0; 9]),
            protocol,
        ),
        ("RST of length 0", frame(RST, 0, 1, 0, &[]), protocol),
        ("DATA on stream 0", frame(DATA, 0, 0, 1, b"x"), protocol),
        (
            "a 16 MiB frame before Auth",
            frame(DATA, SYN, 1, 0xFF_FFFF, &[0; 1024]),
            frame_size,
        ),
    ];
    let lo: IpAddr = [127, 0, 0, 1].into();
    for (what, bytes, code) in &cases {
        let mut conn = raw_agent(&edge, lo)
            .await
            .expect("TLS to the agent ingress");
        conn.write_all(bytes).await.expect("write");
        conn.flush().await.expect("flush");
        let (goaway, took) = goaway_then_close(&mut conn).await;
        assert_eq!(
            goaway,
            Some(*code),
            "{what}: GOAWAY code\n{}",
            edge_log(&edge)
        );
        // Long before the auth deadline (10 s).
        assert!(
            took < Duration::from_secs(3),
            "{what}: closed after {took:?}"
        );
        assert!(serves(&edge, "steady.example.test").await, "{what}");
    }
    let log = edge_log(&edge);
    let warnings = log
        .lines()
        .filter(|l| l.contains("ERR_FERRY_111") && l.contains("WARN") && l.contains("127.0.0.1"))
        .count();
    assert_eq!(warnings, cases.len(), "one WARN per connection\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("ERROR"), "{log}");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// What one hostile connection holds before authenticating: an Auth message that never
/// ends, and three more streams filled to their window.
async fn holding(edge: &Edge, source: IpAddr) -> Option<TlsStream<TcpStream>> {
    let mut conn = raw_agent(edge, source).await.ok()?;
    let mut auth = vec![0u8; 4];
    auth.extend(br#"{"Version":["2"],"Extra":{"Metadata":""#);
    auth.resize(4 * 1024, b'a');
    let mut bytes = frame(DATA, SYN, 1, auth.len() as u32, &auth);
    for id in [3u32, 5, 7] {
        let mut body = vec![0xFF; 4];
        body.resize(16 * 1024, 0);
        bytes.extend(frame(DATA, SYN, id, body.len() as u32, &body));
    }
    conn.write_all(&bytes).await.ok()?;
    conn.flush().await.ok()?;
    Some(conn)
}

/// A connection that announces a 16 MiB frame and sends part of it.
async fn big_frame(edge: &Edge, source: IpAddr) -> Option<TlsStream<TcpStream>> {
    let mut conn = raw_agent(edge, source).await.ok()?;
    conn.write_all(&frame(DATA, SYN, 1, 0xFF_FFFF, &[b'a'; 256 * 1024]))
        .await
        .ok()?;
    Some(conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_floods_keep_the_edge_small_and_give_memory_back() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("steady").await;
    let _agent = edge
        .agent("http", &[&up.port(), "--domain", "steady.example.test"])
        .await;
    let pid = edge.proc.as_ref().expect("edge").child.id();
    let base = rss_kib(pid);

    // Rounds of 128 connections from two addresses (64 each, the per-address cap), each
    // holding what it may before authenticating, and 32 more sending 16 MiB frames. Before
    // the limits, 96 connections with such frames took the edge past 1.5 GiB.
    let sources: Vec<IpAddr> = (2..4).map(|n| IpAddr::from([127, 0, 0, n])).collect();
    let big_source = IpAddr::from([127, 0, 0, 6]);
    let mut peak = base;
    for _round in 0..3 {
        let mut held = Vec::new();
        for source in &sources {
            // At once, so that all are still waiting to authenticate (10 s) even on a busy
            // machine when the next one comes.
            let opened = futures::future::join_all((0..64).map(|_| holding(&edge, *source))).await;
            for c in opened {
                held.push(c.expect("admitted"));
            }
            // One more from a full address is closed before its handshake ends.
            assert!(raw_agent(&edge, *source).await.is_err());
        }
        for _ in 0..32 {
            if let Some(c) = big_frame(&edge, big_source).await {
                held.push(c);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak = peak.max(rss_kib(pid));
        drop(held);
    }
    eprintln!("edge RSS: {base} KiB at rest, {peak} KiB at the peak of the flood");
    assert!(serves(&edge, "steady.example.test").await);
    let bound = base + 64 * 1024;
    assert!(
        peak < bound,
        "RSS went from {base} KiB to {peak} KiB (bound {bound} KiB)"
    );
    // Once the flood stops the memory goes back to the system.
    let settled = base + 24 * 1024;
    eventually(
        "the edge's RSS to settle",
        Duration::from_secs(30),
        || async { rss_kib(pid) < settled },
    )
    .await;
    assert!(serves(&edge, "steady.example.test").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_from_one_address_never_keep_a_good_agent_out() {
    let edge = Edge::start().await;
    let (_, cred, revoked) = bot_token(&edge, &[]).await;
    let (status, _) = edge
        .api("DELETE", &format!("/credentials/{cred}"), None)
        .await;
    assert_eq!(status, 204);

    // Twenty-five agents on the revoked token behind this one address, retrying hard, and
    // forty guesses at tokens that never existed: far past 20 failures a minute.
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut revoked_agents = Vec::new();
    for _ in 0..25 {
        let (edge_addr, ca, token, stop) = (
            edge.agent_addr(),
            edge.ca.clone(),
            revoked.clone(),
            stop.clone(),
        );
        revoked_agents.push(tokio::spawn(async move {
            let mut refusals = 0u32;
            for _ in 0..20 {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let mut builder = ngrok::Session::builder();
                builder
                    .authtoken(token.clone())
                    .server_addr(edge_addr.clone())
                    .expect("server_addr")
                    .ca_cert(bytes::Bytes::from(std::fs::read(&ca).expect("CA")));
                let res = tokio::select! {
                    r = builder.connect() => r,
                    _ = stop.notified() => break,
                };
                let err = format!("{:?}", res.err().expect("a revoked token is refused"));
                assert!(err.contains("ERR_NGROK_107"), "{err}");
                refusals += 1;
            }
            refusals
        }));
    }
    let mut guessers = Vec::new();
    for g in 0..2 {
        let (edge_addr, ca) = (edge.agent_addr(), edge.ca.clone());
        guessers.push(tokio::spawn(async move {
            for i in 0..15 {
                let guess = format!("cr_{g}{i:026}_{}", "x".repeat(40));
                let res = ngrok::Session::builder()
                    .authtoken(guess)
                    .server_addr(edge_addr.clone())
                    .expect("server_addr")
                    .ca_cert(bytes::Bytes::from(std::fs::read(&ca).expect("CA")))
                    .connect()
                    .await;
                assert!(res.is_err());
            }
        }));
    }
    eventually("more than 20 refusals", Duration::from_secs(30), || async {
        edge_log(&edge)
            .matches("agent authentication refused")
            .count()
            > 40
    })
    .await;

    // A good agent from the same address binds, every time, while the flood goes on.
    let up = HttpUpstream::start("good").await;
    for i in 0..3 {
        let started = Instant::now();
        let domain = format!("good{i}.example.test");
        let agent = edge.agent("http", &[&up.port(), "--domain", &domain]).await;
        assert!(serves(&edge, &domain).await);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "took {:?}",
            started.elapsed()
        );
        drop(agent);
    }
    stop.notify_waiters();
    for g in guessers {
        g.await.expect("guesser");
    }
    let mut refusals = 0;
    for a in revoked_agents {
        refusals += a.await.expect("revoked agent task");
    }
    assert!(refusals >= 25, "{refusals} refusals");
    // Each agent's token was looked up at most once, on its first try: every later refusal
    // came from the edge's memory of it, without a lookup and without a delay.
    let log = edge_log(&edge);
    let remembered = log.matches("ago as well").count() as u32;
    assert!(
        remembered + 25 >= refusals,
        "{remembered} of {refusals} refusals remembered\n{log}"
    );
    assert!(!edge_log(&edge).contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_token_is_revoked_says_so_once_and_backs_off() {
    let edge = Edge::start().await;
    let (_, cred, token) = bot_token(&edge, &[]).await;
    let up = HttpUpstream::start("revoked").await;
    let agent = edge
        .agent_as(
            &token,
            "http",
            &[&up.port(), "--domain", "gone.example.test"],
        )
        .await;
    assert!(serves(&edge, "gone.example.test").await);
    let (status, _) = edge
        .api("DELETE", &format!("/credentials/{cred}"), None)
        .await;
    assert_eq!(status, 204);
    let said = "no longer accepts this agent's authtoken";
    eventually(
        "the agent to say its token was revoked",
        Duration::from_secs(20),
        || async { agent.proc.output().contains(said) },
    )
    .await;
    // It keeps running (a new token may come with a reactivated bot), quietly.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = agent.proc.output();
    assert_eq!(out.matches(said).count(), 1, "{out}");
    let mut agent = agent;
    assert!(
        agent.proc.child.try_wait().expect("try_wait").is_none(),
        "{out}"
    );
}
