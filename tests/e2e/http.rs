use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::harness::{curl, Edge};
use crate::upstream::{pattern_byte, ws_echo, HttpUpstream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_beats_wildcards_and_the_most_specific_wildcard_wins() {
    let edge = Edge::start().await;
    let (a, b, c) = (
        HttpUpstream::start("a").await,
        HttpUpstream::start("b").await,
        HttpUpstream::start("c").await,
    );
    let _wa = edge
        .agent("http", &[&a.port(), "--domain", "*.example.test"])
        .await;
    let _wb = edge
        .agent("http", &[&b.port(), "--domain", "*.a.example.test"])
        .await;
    let _wc = edge
        .agent("http", &[&c.port(), "--domain", "x.a.example.test"])
        .await;
    for (host, want) in [
        ("foo.example.test", "hello from a"),
        ("deep.foo.example.test", "hello from a"),
        ("foo.a.example.test", "hello from b"),
        ("x.a.example.test", "hello from c"),
    ] {
        let (code, body, err) = curl(&edge.curl_https(host, "/")).await;
        assert_eq!((code, body.as_str()), (0, want), "{host}: {err}");
    }
    let mut args = vec![
        "-w".to_string(),
        "%{http_code}".into(),
        "-H".into(),
        "Accept: application/json".into(),
    ];
    args.extend(edge.curl_https("example.test", "/"));
    let (_, body, _) = curl(&args).await;
    assert!(
        body.contains("ERR_FERRY_801") && body.ends_with("404"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_from_curl_with_forwarded_headers() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("h2").await;
    let agent = edge
        .agent("http", &[&up.port(), "--domain", "h2.example.test"])
        .await;
    assert_eq!(
        agent.url(),
        format!("https://h2.example.test:{}", edge.https_port())
    );
    let mut args = vec![
        "--http2".to_string(),
        "-w".into(),
        "\n%{http_version}".into(),
    ];
    args.extend(edge.curl_https("h2.example.test", "/echo"));
    let (code, out, err) = curl(&args).await;
    assert_eq!(code, 0, "{err}");
    let (json, version) = out.rsplit_once('\n').unwrap();
    assert_eq!(version, "2");
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let h = &v["headers"];
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(
        h["x-forwarded-host"],
        format!("h2.example.test:{}", edge.https_port())
    );
    assert_eq!(h["host"], format!("h2.example.test:{}", edge.https_port()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_endpoint() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("plain").await;
    let agent = edge
        .agent(
            "http",
            &[
                &up.port(),
                "--domain",
                "plain.example.test",
                "--scheme",
                "http",
            ],
        )
        .await;
    let port = edge.http_port();
    assert_eq!(agent.url(), format!("http://plain.example.test:{port}"));
    let (code, body, err) = curl(&[
        "--connect-to".into(),
        format!("plain.example.test:{port}:127.0.0.1:{port}"),
        agent.url(),
    ])
    .await;
    assert_eq!((code, body.as_str()), (0, "hello from plain"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_gets_502_and_silent_upstream_gets_504() {
    let edge = Edge::start_with(&["--upstream-timeout", "2"]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let _down = edge
        .agent("http", &[&dead_port, "--domain", "down.example.test"])
        .await;
    let out = body_and_status(&edge, "down.example.test", "/").await;
    assert!(
        out.contains("ERR_FERRY_804") && out.ends_with("\n502"),
        "{out}"
    );

    let up = HttpUpstream::start("slow").await;
    let _slow = edge
        .agent("http", &[&up.port(), "--domain", "slow.example.test"])
        .await;
    let out = body_and_status(&edge, "slow.example.test", "/hang").await;
    assert!(
        out.contains("ERR_FERRY_803") && out.ends_with("\n504"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_bind_of_a_taken_host_is_refused() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("first").await;
    let _first = edge
        .agent("http", &[&up.port(), "--domain", "dup.example.test"])
        .await;
    let mut second = edge.spawn_agent("http", &[&up.port(), "--domain", "dup.example.test"]);
    let status = second.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(1), "{}", second.output());
    let out = second.output();
    assert!(
        out.contains("ERR_FERRY_303") && out.contains("dup.example.test"),
        "{out}"
    );
    assert!(!edge.agent_ready_path(&second).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_authtoken_is_refused_with_its_code() {
    let edge = Edge::start().await;
    let mut agent = crate::harness::Proc::spawn(
        "badtoken",
        &[
            "http".into(),
            "8080".into(),
            "--authtoken".into(),
            "2abcdefghijklmnopqrstuvwxyz_notthesecret".into(),
            "--server-addr".into(),
            edge.agent_addr(),
            "--root-cas".into(),
            edge.ca.display().to_string(),
        ],
        edge.dir.path(),
        &[],
    );
    let status = agent.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(1), "{}", agent.output());
    assert!(
        agent.output().contains("ERR_FERRY_103"),
        "{}",
        agent.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_through_the_tunnel() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let edge = Edge::start().await;
    let ws = ws_echo().await;
    let _agent = edge
        .agent(
            "http",
            &[&ws.port().to_string(), "--domain", "ws.example.test"],
        )
        .await;
    let port = edge.https_port();
    let tls = crate::tls_tcp::tls_connect(&edge.ca, "ws.example.test", port, None)
        .await
        .unwrap();
    let (mut sock, resp) =
        tokio_tungstenite::client_async(format!("wss://ws.example.test:{port}/chat"), tls)
            .await
            .unwrap();
    assert_eq!(resp.status(), 101);
    for i in 0..5 {
        sock.send(Message::text(format!("ping {i}"))).await.unwrap();
        let got = sock.next().await.unwrap().unwrap();
        assert_eq!(got.into_text().unwrap().as_str(), format!("ping {i}"));
    }
    sock.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_body_each_way_keeps_its_checksum() {
    use sha2::{Digest, Sha256};
    const SIZE: u64 = 100 * 1024 * 1024;
    let edge = Edge::start().await;
    let up = HttpUpstream::start("bulk").await;
    let _agent = edge
        .agent("http", &[&up.port(), "--domain", "bulk.example.test"])
        .await;
    let dir = tempfile::tempdir().unwrap();

    let upload = dir.path().join("upload.bin");
    let mut data = vec![0u8; SIZE as usize];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2654435761) >> 13) as u8;
    }
    std::fs::write(&upload, &data).unwrap();
    let want: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    drop(data);
    let mut args = vec![
        "--max-time".to_string(),
        "300".into(),
        "-X".into(),
        "POST".into(),
        "--data-binary".into(),
        format!("@{}", upload.display()),
    ];
    args.extend(edge.curl_https("bulk.example.test", "/sha256"));
    let (code, out, err) = curl(&args).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{want} {SIZE}"));

    let download = dir.path().join("download.bin");
    let mut args = vec![
        "--max-time".to_string(),
        "300".into(),
        "-o".into(),
        download.display().to_string(),
    ];
    args.extend(edge.curl_https("bulk.example.test", &format!("/bytes/{SIZE}")));
    let (code, _, err) = curl(&args).await;
    assert_eq!(code, 0, "{err}");
    let got = std::fs::read(&download).unwrap();
    assert_eq!(got.len() as u64, SIZE);
    let expected = Sha256::digest((0..SIZE).map(pattern_byte).collect::<Vec<u8>>());
    assert_eq!(Sha256::digest(&got), expected);
}

/// With inspection off the agent splices the stream to the upstream instead of serving HTTP
/// itself: requests still arrive with the edge's headers, several in turn on one kept-alive
/// client connection, and a dead upstream still gets the agent's 502 page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_inspection_the_agent_passes_requests_through() {
    let edge = Edge::start().await;
    let up = HttpUpstream::start("spliced").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    let cfg = edge.dir.path().join("quiet.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: \"2\"\ndata_connections: 0\ntunnels:\n  quiet:\n    proto: http\n    addr: {}\n    domain: quiet.example.test\n    inspect: false\n  gone:\n    proto: http\n    addr: {dead_port}\n    domain: gone.example.test\n    inspect: false\n",
            up.port()
        ),
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    let agent = edge
        .agent("start", &["--all", "--web-addr", "false", "--config", &cfg])
        .await;

    // curl sends both requests on one connection (the edge keeps the same stream: with no data
    // connection to move to).
    let mut args = edge.curl_https("quiet.example.test", "/");
    args.extend(
        edge.curl_https("quiet.example.test", "/again")
            .into_iter()
            .skip(4),
    );
    args.extend(["-w".to_string(), "|%{num_connects}\n".into()]);
    let (code, out, err) = curl(&args).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out, "hello from spliced|1\nhello from spliced|0\n",
        "two answers, one connection: {err}"
    );
    // The second request went on the first one's proxy stream, which the agent had spliced
    // to one upstream connection.
    assert_eq!(up.connections.load(Ordering::Relaxed), 1);

    let out = body_and_status(&edge, "gone.example.test", "/").await;
    assert!(
        out.contains("ERR_FERRY_804") && out.ends_with("\n502"),
        "{out}\n{}\n{}",
        edge.proc.as_ref().map(|p| p.output()).unwrap_or_default(),
        agent.proc.output()
    );
}

/// curl's body for `https://host/path` at the edge, then a newline and the status code.
async fn body_and_status(edge: &Edge, host: &str, path: &str) -> String {
    let mut args = vec!["-w".to_string(), "\n%{http_code}".into()];
    args.extend(edge.curl_https(host, path));
    curl(&args).await.1
}
