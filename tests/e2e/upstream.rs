//! Local services for the agents to expose: an HTTP server with a few test routes, a
//! websocket echo, a TCP echo that counts what reaches it, and a TLS echo.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, Infallible>;

/// The byte at offset `i` of a `/bytes/N` download.
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

pub struct HttpUpstream {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicU64>,
    /// TCP connections accepted: an agent opens one per proxy stream.
    pub connections: Arc<AtomicU64>,
}

impl HttpUpstream {
    /// Routes: `/echo` (method, path and headers as JSON), `POST /sha256` (digest of the
    /// body), `/bytes/N` (N pattern bytes, streamed), `/delay/MS`, `/hang`; anything else
    /// answers `hello from NAME`.
    pub async fn start(name: &str) -> HttpUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let name = name.to_string();
        let count = requests.clone();
        let accepted = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    break;
                };
                accepted.fetch_add(1, Ordering::Relaxed);
                let name = name.clone();
                let count = count.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        count.fetch_add(1, Ordering::Relaxed);
                        route(name.clone(), req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(conn), svc)
                        .await;
                });
            }
        });
        HttpUpstream {
            addr,
            requests,
            connections,
        }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

fn full(s: impl Into<Bytes>) -> Body {
    Full::new(s.into()).boxed()
}

async fn route(name: String, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    if path == "/echo" {
        let headers: serde_json::Map<String, serde_json::Value> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
            .collect();
        let v =
            serde_json::json!({"method": req.method().as_str(), "path": path, "headers": headers});
        return Ok(Response::new(full(v.to_string())));
    }
    if path == "/sha256" {
        let mut body = req.into_body();
        let mut h = Sha256::new();
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Some(d) = frame.data_ref() {
                n += d.len() as u64;
                h.update(d);
            }
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        return Ok(Response::new(full(format!("{hex} {n}"))));
    }
    if let Some(n) = path.strip_prefix("/bytes/") {
        let total: u64 = n.parse().unwrap_or(0);
        let chunks = futures::stream::unfold(0u64, move |sent| async move {
            if sent >= total {
                return None;
            }
            let len = (total - sent).min(64 * 1024);
            let chunk: Vec<u8> = (sent..sent + len).map(pattern_byte).collect();
            Some((
                Ok::<_, Infallible>(Frame::data(Bytes::from(chunk))),
                sent + len,
            ))
        });
        return Ok(Response::new(BoxBody::new(StreamBody::new(chunks))));
    }
    if let Some(ms) = path.strip_prefix("/delay/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
        return Ok(Response::new(full("delayed")));
    }
    if path == "/hang" {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    Ok(Response::new(full(format!("hello from {name}"))))
}

/// A websocket server that echoes every message.
pub async fn ws_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                break;
            };
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(conn).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// A TCP echo server that counts connections and bytes received, so a test can prove that
/// nothing reached it.
pub struct TcpEcho {
    pub addr: SocketAddr,
    pub conns: Arc<AtomicU64>,
    pub bytes: Arc<AtomicU64>,
}

impl TcpEcho {
    pub async fn start() -> TcpEcho {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let (c, b) = (conns.clone(), bytes.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    break;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let b = b.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                b.fetch_add(n as u64, Ordering::SeqCst);
                                if conn.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
        TcpEcho { addr, conns, bytes }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

/// A TLS echo server with the given certificate, for pass-through tests.
pub async fn tls_echo(cert_pem: &std::path::Path, key_pem: &std::path::Path) -> SocketAddr {
    let chain = ferry_pki::load_cert_chain(cert_pem).unwrap();
    let key = ferry_pki::load_private_key(key_pem).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                break;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(conn).await else {
                    return;
                };
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tls.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}
