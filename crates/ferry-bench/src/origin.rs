//! The local services every path leads to: a small HTTP server (keep-alive, a 14-byte body)
//! and an echo server whose connections stay open as long as the client keeps them. It runs
//! as its own process (`ferry-bench origin`) so that its work is never counted against the
//! load generator's runtime.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const BODY: &[u8] = b"Hello, world!\n";

/// Binds both servers on loopback, prints their ports as one JSON line and serves forever.
pub async fn run() -> anyhow::Result<()> {
    let http = TcpListener::bind("127.0.0.1:0").await?;
    let echo = TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "{}",
        serde_json::json!({
            "http": http.local_addr()?.port(),
            "echo": echo.local_addr()?.port(),
        })
    );
    tokio::spawn(accept_loop(echo, |s, _| async move { echo_conn(s).await }));
    accept_loop(http, |s, _| async move { http_conn(s).await }).await;
    Ok(())
}

async fn accept_loop<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        match listener.accept().await {
            Ok((s, peer)) => {
                let _ = s.set_nodelay(true);
                tokio::spawn(serve(s, peer));
            }
            // Out of descriptors or similar: let the condition pass instead of spinning.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

async fn http_conn(s: TcpStream) {
    let svc = service_fn(|_req: Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(BODY))))
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(s), svc)
        .await;
}

async fn echo_conn(mut s: TcpStream) {
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
