//! ngrok's `proxy_proto` on TCP and TLS endpoints: the upstream reads a PROXY protocol header
//! with the public client's address before the client's first byte, on one node and through
//! another node that carried the connection.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::cluster_carry::dev_node;
use crate::harness::{port_of, Edge};
use crate::tls_tcp::{echo_round, generate};

/// An upstream that reads a PROXY protocol header off each connection, hands it to the test,
/// then echoes whatever follows.
struct HeaderCatcher {
    addr: SocketAddr,
    headers: mpsc::UnboundedReceiver<Vec<u8>>,
}

impl HeaderCatcher {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, headers) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let Ok(header) = read_header(&mut conn).await else {
                        return;
                    };
                    let _ = tx.send(header);
                    let (mut r, mut w) = conn.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        Self { addr, headers }
    }

    async fn next(&mut self) -> Vec<u8> {
        tokio::time::timeout(Duration::from_secs(10), self.headers.recv())
            .await
            .expect("a header within 10 s")
            .expect("the catcher runs")
    }
}

/// A v1 line up to its CRLF, or a v2 header by its length field.
async fn read_header(conn: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut first = [0u8; 16];
    conn.read_exact(&mut first[..5]).await?;
    if &first[..5] == b"PROXY" {
        let mut line = first[..5].to_vec();
        while !line.ends_with(b"\r\n") {
            line.push(conn.read_u8().await?);
        }
        return Ok(line);
    }
    conn.read_exact(&mut first[5..]).await?;
    let len = u16::from_be_bytes([first[14], first[15]]) as usize;
    let mut rest = vec![0u8; len];
    conn.read_exact(&mut rest).await?;
    let mut all = first.to_vec();
    all.extend_from_slice(&rest);
    Ok(all)
}

/// A TCP connection to `to` from the source address 127.0.0.77.
async fn connect_from_77(to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.77:0".parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_endpoint_with_proxy_proto_2_tells_the_upstream_the_client_address() {
    let edge = Edge::start_with(&["--tcp-ports", "32000-32999"]).await;
    let mut up = HeaderCatcher::start().await;
    let agent = edge
        .agent("tcp", &[&up.addr.port().to_string(), "--proxy-proto", "2"])
        .await;
    let port = port_of(&agent.url());
    let mut conn = connect_from_77(SocketAddr::from(([127, 0, 0, 1], port))).await;
    assert_eq!(
        echo_round(&mut conn, b"after the header").await.unwrap(),
        b"after the header"
    );
    let h = up.next().await;
    assert_eq!(&h[..12], b"\r\n\r\n\0\r\nQUIT\n", "{h:?}");
    assert_eq!((h[12], h[13]), (0x21, 0x11), "PROXY over TCP4");
    assert_eq!(&h[16..20], &[127, 0, 0, 77], "the client's address");
    assert_eq!(&h[20..24], &[127, 0, 0, 1], "the endpoint's address");
    let client_port = conn.local_addr().unwrap().port();
    assert_eq!(u16::from_be_bytes([h[24], h[25]]), client_port);
    assert_eq!(u16::from_be_bytes([h[26], h[27]]), port);

    // An http tunnel cannot ask for one; the refusal says why.
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["config", "check", "--config"])
        .arg({
            let p = edge.dir.path().join("pp.yml");
            std::fs::write(
                &p,
                "version: 2\ntunnels:\n  web:\n    proto: http\n    addr: 80\n    proxy_proto: 1\n",
            )
            .unwrap();
            p
        })
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("proxy_proto"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_endpoint_carried_by_another_node_keeps_the_client_address_in_its_header() {
    let url = ferry_store::testing::fresh_postgres_url().await;
    let n1 = dev_node(&url, "n1", "127.0.0.21", &[]).await;
    let n2 = dev_node(&url, "n2", "127.0.0.22", &[]).await;
    let mut up = HeaderCatcher::start().await;
    let _agent = n1
        .agent(
            "tls",
            &[
                &up.addr.port().to_string(),
                "--domain",
                "pp.example.test",
                "--proxy-proto",
                "1",
            ],
        )
        .await;
    // The upstream here speaks no TLS: the handshake never finishes, and what counts is the
    // header it read before the client's ClientHello.
    let certs = generate(n1.dir.path(), "pp.example.test");
    let to = SocketAddr::from(([127, 0, 0, 22], n2.https_port()));
    let tcp = connect_from_77(to).await;
    let client_port = tcp.local_addr().unwrap().port();
    let mut roots = rustls::RootCertStore::empty();
    for c in ferry_pki::load_ca_certs(&certs.join("ca-crt.pem")).unwrap() {
        roots.add(c).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("pp.example.test").unwrap();
    let handshake = tokio::spawn(async move {
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
            .connect(name, tcp)
            .await
            .map(|mut s| async move { s.shutdown().await })
    });
    let h = up.next().await;
    assert_eq!(
        String::from_utf8_lossy(&h),
        format!(
            "PROXY TCP4 127.0.0.77 127.0.0.22 {client_port} {}\r\n",
            n2.https_port()
        ),
        "the client's address and the node it connected to, through node 1"
    );
    handshake.abort();
}
