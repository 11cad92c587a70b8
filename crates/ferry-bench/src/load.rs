//! The load generator: HTTP over keep-alive connections, a fresh TCP connection per request,
//! single requests at low load, and many idle connections held open. Every loop is bounded
//! by a deadline and every connection by a timeout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::origin::BODY;
use crate::setup::HttpTarget;

const CONNECT: Duration = Duration::from_secs(10);
const REQUEST: Duration = Duration::from_secs(10);

/// Requests completed in a run and the latency of each, in microseconds.
#[derive(Default)]
pub struct HttpRun {
    pub requests: u64,
    pub elapsed: Duration,
    pub latencies_us: Vec<u32>,
}

impl HttpRun {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// `used` (CPU time of one process during the run) per request, in microseconds.
    pub fn cpu_per_request(&self, used: Duration) -> f64 {
        used.as_micros() as f64 / self.requests.max(1) as f64
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

async fn connect(target: &HttpTarget) -> anyhow::Result<Box<dyn Io>> {
    let tcp = tokio::time::timeout(CONNECT, TcpStream::connect(target.addr))
        .await
        .with_context(|| format!("connecting to {} timed out", target.addr))?
        .with_context(|| format!("connecting to {}", target.addr))?;
    tcp.set_nodelay(true)?;
    Ok(match &target.tls {
        None => Box::new(tcp),
        Some((connector, name)) => Box::new(
            tokio::time::timeout(CONNECT, connector.connect(name.clone(), tcp))
                .await
                .context("TLS handshake timed out")?
                .context("TLS handshake")?,
        ),
    })
}

async fn http_client(target: &HttpTarget) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let io = connect(target).await?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn one_request(
    sender: &mut SendRequest<Empty<Bytes>>,
    host: &str,
) -> anyhow::Result<Duration> {
    let req = http::Request::get("/")
        .header(http::header::HOST, host)
        .body(Empty::new())?;
    let started = Instant::now();
    let work = async {
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        if status != http::StatusCode::OK || body != BODY {
            bail!("unexpected answer: {status} {body:?}");
        }
        Ok(())
    };
    tokio::time::timeout(REQUEST, work)
        .await
        .context("request timed out")??;
    Ok(started.elapsed())
}

/// Keep-alive connections to one target, between runs of load.
pub struct Clients {
    senders: Vec<SendRequest<Empty<Bytes>>>,
    host: String,
}

/// `conns` keep-alive connections to `target`, each handshaken (TLS and HTTP/1.1).
pub async fn clients(target: &HttpTarget, conns: usize) -> anyhow::Result<Clients> {
    let mut senders = Vec::with_capacity(conns);
    for _ in 0..conns {
        senders.push(http_client(target).await?);
    }
    Ok(Clients {
        senders,
        host: target.host.clone(),
    })
}

/// Every connection of `clients` sending requests back to back for `duration`; the
/// connections are kept for the next run.
pub async fn keepalive(clients: &mut Clients, duration: Duration) -> anyhow::Result<HttpRun> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut sender in clients.senders.drain(..) {
        let host = clients.host.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                lat.push(micros(one_request(&mut sender, &host).await?));
            }
            anyhow::Ok((lat, sender))
        }));
    }
    let mut run = HttpRun::default();
    for t in tasks {
        let (lat, sender) = t.await??;
        run.requests += lat.len() as u64;
        run.latencies_us.extend(lat);
        clients.senders.push(sender);
    }
    run.elapsed = started.elapsed();
    Ok(run)
}

/// One request at a time on one connection, `gap` apart: the latency the path adds when it
/// is not busy.
pub async fn low_load(
    target: &HttpTarget,
    samples: usize,
    gap: Duration,
) -> anyhow::Result<HttpRun> {
    let mut sender = http_client(target).await?;
    // The first requests warm caches and pools on every hop; they are not counted.
    for _ in 0..10 {
        one_request(&mut sender, &target.host).await?;
    }
    let started = Instant::now();
    let mut run = HttpRun::default();
    for _ in 0..samples {
        run.latencies_us
            .push(micros(one_request(&mut sender, &target.host).await?));
        tokio::time::sleep(gap).await;
    }
    run.requests = samples as u64;
    run.elapsed = started.elapsed();
    Ok(run)
}

/// How long one request on a fresh connection took to be answered in full, or why it
/// failed (refused, reset, not the origin's answer, or over the request timeout).
pub async fn timed_request(target: &HttpTarget) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut sender = http_client(target).await?;
    one_request(&mut sender, &target.host).await?;
    Ok(started.elapsed())
}

/// Whether one request on a fresh connection is answered within a second.
pub async fn probe(target: &HttpTarget) -> bool {
    let attempt = async {
        let mut sender = http_client(target).await?;
        one_request(&mut sender, &target.host).await
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Ok(_))
    )
}

/// `workers` clients each opening a fresh TCP connection per request (HTTP/1.1 with
/// `Connection: close`) until `duration` has passed.
pub async fn new_connections(
    addr: SocketAddr,
    workers: usize,
    duration: Duration,
) -> anyhow::Result<HttpRun> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                tokio::time::timeout(REQUEST, close_request(addr))
                    .await
                    .context("request on a fresh connection timed out")??;
                lat.push(micros(t.elapsed()));
            }
            anyhow::Ok(lat)
        }));
    }
    gather(tasks, started).await
}

async fn close_request(addr: SocketAddr) -> anyhow::Result<()> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::with_capacity(256);
    s.read_to_end(&mut answer).await?;
    if !answer.starts_with(b"HTTP/1.1 200") || !answer.ends_with(BODY) {
        bail!(
            "unexpected answer on a fresh connection: {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(())
}

/// Opens `count` connections to an echo service and proves each reaches the far end (one
/// byte there and back) before returning them, still open.
pub async fn hold(addr: SocketAddr, count: usize) -> anyhow::Result<Vec<TcpStream>> {
    let mut held = Vec::with_capacity(count);
    // In batches, so that the relay's accept queues are never the thing being measured.
    for batch in (0..count).collect::<Vec<_>>().chunks(50) {
        let mut tasks = Vec::new();
        for _ in batch {
            tasks.push(tokio::spawn(async move {
                let mut s = tokio::time::timeout(CONNECT, TcpStream::connect(addr))
                    .await
                    .context("connect timed out")??;
                s.write_all(b"x").await?;
                let mut b = [0u8; 1];
                tokio::time::timeout(REQUEST, s.read_exact(&mut b))
                    .await
                    .context("no echo")??;
                anyhow::Ok(s)
            }));
        }
        for t in tasks {
            held.push(t.await??);
        }
    }
    Ok(held)
}

/// Waits for every worker and joins their latencies into one run.
async fn gather(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Vec<u32>>>>,
    started: Instant,
) -> anyhow::Result<HttpRun> {
    let mut run = HttpRun::default();
    for t in tasks {
        let lat = t.await??;
        run.requests += lat.len() as u64;
        run.latencies_us.extend(lat);
    }
    run.elapsed = started.elapsed();
    Ok(run)
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}
