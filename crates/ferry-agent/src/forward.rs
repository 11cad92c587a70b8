//! What the agent does with one proxy stream: serve it as HTTP towards the upstream,
//! terminate TLS and splice, or splice raw bytes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_metrics::agent::agent;
use ferry_transport::{splice, splice_watched, Spliced};
use ferry_types::ErrorCode;
use http::{header, Request, Response, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::capture::{headers_of, proto_of, CaptureStore, RequestHead, ResponseHead};
use crate::inspect::Inspected;
use crate::metrics::TunnelMetrics;
use crate::tunnel::{HostHeader, TunnelProto, TunnelSpec};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;
/// What the agent sends upstream: the client's body (or a replayed one), possibly teed into a
/// capture.
pub type UpBody = BoxBody<Bytes, BoxError>;
pub type UpstreamSlot = Mutex<Option<SendRequest<UpBody>>>;

const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE: Duration = Duration::from_secs(600);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a spliced HTTP stream's error page waits for the request's head, and then for
/// the rest of the request, before the agent gives up on the stream.
const ERROR_PAGE_WAIT: Duration = Duration::from_secs(5);

/// A running tunnel's serving side.
pub struct Forwarder {
    pub spec: TunnelSpec,
    /// Set when the agent terminates TLS for this tunnel.
    pub tls: Option<Arc<ServerConfig>>,
    pub upstream_tls: Arc<ClientConfig>,
    pub metrics: Arc<TunnelMetrics>,
    pub captures: Arc<CaptureStore>,
}

impl Forwarder {
    /// An HTTP tunnel whose requests go upstream as the edge sent them (`Host` preserved) is
    /// spliced to the upstream like a TCP one, as ngrok's SDKs do: the edge has done the HTTP
    /// work already, and the upstream's keep-alive carries the requests that follow on the
    /// stream. Parsing and re-serialising at the agent was half its CPU per request
    /// (BENCHMARKS.md). With inspection on, the exchanges are recorded from the bytes going
    /// by (`inspect.rs`).
    fn splices_http(&self) -> bool {
        matches!(self.spec.host_header, HostHeader::Preserve)
    }

    fn inspects(&self) -> bool {
        self.spec.inspect && self.captures.enabled()
    }
}

/// Any connection the agent reads from and writes to: a proxy stream, or TLS over one.
pub(crate) trait Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Conn for T {}

pub async fn serve(fwd: Arc<Forwarder>, stream: impl Conn, client: SocketAddr) {
    let name = fwd.spec.name.clone();
    let metrics = fwd.metrics.clone();
    let _open = metrics.conn_opened();
    let proto = proto_label(&fwd);
    let metrics = ferry_metrics::agent::agent();
    metrics.streams.with_label_values(&[proto]).inc();
    let stream = ferry_metrics::Counted::new(
        stream,
        metrics.bytes.with_label_values(&[proto, ferry_metrics::IN]),
        metrics
            .bytes
            .with_label_values(&[proto, ferry_metrics::OUT]),
        metrics.streams_open.clone(),
    );
    match fwd.spec.proto {
        TunnelProto::Http if fwd.splices_http() => {
            splice_http(&fwd, Box::new(stream), client).await
        }
        TunnelProto::Http => serve_http(fwd, stream, client).await,
        TunnelProto::Tcp => splice_upstream(&fwd, Box::new(stream), client).await,
        TunnelProto::Tls => match fwd.tls.clone() {
            None => splice_upstream(&fwd, Box::new(stream), client).await,
            Some(cfg) => {
                let accept = TlsAcceptor::from(cfg).accept(stream);
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
                    Ok(Ok(tls)) => splice_upstream(&fwd, Box::new(tls), client).await,
                    Ok(Err(e)) => {
                        tracing::warn!(tunnel = %name, %client, "TLS handshake refused: {e}; nothing was sent upstream")
                    }
                    Err(_) => tracing::warn!(tunnel = %name, %client, "TLS handshake timed out"),
                }
            }
        },
    }
}

/// The `proto` label of the agent's families.
fn proto_label(fwd: &Forwarder) -> &'static str {
    match fwd.spec.proto {
        TunnelProto::Http => "http",
        TunnelProto::Tcp => "tcp",
        TunnelProto::Tls => "tls",
    }
}

/// A counted HTTP answer, by its status class.
pub(crate) fn answered(status: StatusCode) {
    agent()
        .http_requests
        .with_label_values(&[ferry_metrics::status_class(status.as_u16())])
        .inc();
}

async fn dial(fwd: &Forwarder) -> Result<Box<dyn Conn>, String> {
    let dialed = dial_upstream(fwd).await;
    if dialed.is_err() {
        agent()
            .dial_failures
            .with_label_values(&[proto_label(fwd)])
            .inc();
    }
    dialed
}

async fn dial_upstream(fwd: &Forwarder) -> Result<Box<dyn Conn>, String> {
    let up = &fwd.spec.addr;
    let tcp = up
        .connect(DIAL_TIMEOUT)
        .await
        .map_err(|e| format!("cannot connect to {up}: {e}"))?;
    if !up.tls {
        return Ok(Box::new(tcp));
    }
    let name = ServerName::try_from(up.host.clone())
        .map_err(|e| format!("upstream host {:?}: {e}", up.host))?;
    let tls = TlsConnector::from(fwd.upstream_tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS to {up}: {e}"))?;
    Ok(Box::new(tls))
}

/// Splices an HTTP stream to the upstream, recording its exchanges when the tunnel inspects;
/// when the upstream cannot be reached the client still gets the agent's 502 page.
async fn splice_http(fwd: &Arc<Forwarder>, mut conn: Box<dyn Conn>, client: SocketAddr) {
    let upstream = match dial(fwd).await {
        Ok(u) => u,
        // The inspector shows the request and its 502 page: hyper reads the one and writes
        // the other (and tries the upstream again for each request).
        Err(_) if fwd.inspects() => return serve_http(fwd.clone(), conn, client).await,
        Err(why) => {
            tracing::warn!(tunnel = %fwd.spec.name, %client, code = %ErrorCode::UpstreamUnreachable, "{why}");
            let code = ErrorCode::UpstreamUnreachable;
            let (content_type, body) = ferry_types::error_page::render(code, &why, false);
            let status =
                StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
            answered(status);
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            // The edge's HTTP client takes an answer that comes before its request has gone
            // out as a protocol error, so the page waits for the request's head.
            let _ = tokio::time::timeout(ERROR_PAGE_WAIT, read_request_head(&mut conn)).await;
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(body.as_bytes()).await;
            let _ = conn.shutdown().await;
            // Dropping the stream while a request body is still coming would answer that
            // data with a reset, which can overtake the page on its way to the edge.
            let mut sink = tokio::io::sink();
            let drain = tokio::io::copy(&mut conn, &mut sink);
            let _ = tokio::time::timeout(ERROR_PAGE_WAIT, drain).await;
            return;
        }
    };
    if fwd.inspects() {
        let watch = std::sync::Mutex::new(Inspected::new(fwd.clone(), client.ip().to_string()));
        let moved = splice_watched(conn, upstream, IDLE, &watch).await;
        log_spliced(fwd, client, moved);
    } else {
        spliced(fwd, conn, upstream, client).await;
    }
}

/// Reads until the end of an HTTP/1.1 request head (the empty line), the end of the stream,
/// or `MAX_HEAD` bytes, whichever comes first. What it reads, the start of a body included,
/// is discarded.
async fn read_request_head(conn: &mut (impl AsyncRead + Unpin)) -> std::io::Result<()> {
    const MAX_HEAD: usize = 64 * 1024;
    let mut seen = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        // Search from three bytes before the new data: the empty line may straddle reads.
        let from = seen.len().saturating_sub(3);
        seen.extend_from_slice(&buf[..n]);
        if seen[from..].windows(4).any(|w| w == b"\r\n\r\n") || seen.len() >= MAX_HEAD {
            return Ok(());
        }
    }
}

async fn splice_upstream(fwd: &Forwarder, conn: Box<dyn Conn>, client: SocketAddr) {
    let upstream = match dial(fwd).await {
        Ok(u) => u,
        Err(why) => {
            // A clean close is all a TLS or TCP client can be told.
            tracing::warn!(tunnel = %fwd.spec.name, %client, code = %ErrorCode::UpstreamUnreachable, "{why}");
            return;
        }
    };
    spliced(fwd, conn, upstream, client).await;
}

async fn spliced(
    fwd: &Forwarder,
    conn: Box<dyn Conn>,
    upstream: Box<dyn Conn>,
    client: SocketAddr,
) {
    log_spliced(fwd, client, splice(conn, upstream, IDLE).await);
}

fn log_spliced(fwd: &Forwarder, client: SocketAddr, moved: std::io::Result<Spliced>) {
    let name = &fwd.spec.name;
    match moved {
        // Per connection and per request at debug, as cloudflared logs them: the inspector
        // and the status screen show traffic, and a busy tunnel's log stays its life story
        // (and one write per request less, BENCHMARKS.md).
        Ok(moved) => tracing::debug!(
            tunnel = %name, %client,
            bytes_in = moved.a_to_b, bytes_out = moved.b_to_a,
            "connection closed"
        ),
        Err(e) => tracing::debug!(tunnel = %name, %client, "connection ended: {e}"),
    }
}

struct HttpConn {
    fwd: Arc<Forwarder>,
    client: SocketAddr,
    sender: UpstreamSlot,
}

async fn serve_http(fwd: Arc<Forwarder>, stream: impl Conn, client: SocketAddr) {
    let state = Arc::new(HttpConn {
        fwd,
        client,
        sender: Mutex::new(None),
    });
    let svc = service_fn(move |mut req: Request<Incoming>| {
        let state = state.clone();
        async move {
            let upgrade = is_upgrade(&req).then(|| hyper::upgrade::on(&mut req));
            let req = req.map(|b| b.map_err(BoxError::from).boxed());
            let client = state.client.ip().to_string();
            Ok::<_, Infallible>(exchange(&state.fwd, &state.sender, req, &client, upgrade).await)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(%client, "proxy stream ended: {e}");
    }
}

/// One request to the upstream and its response: the tunnel's `host_header`, capture for the
/// inspector, metrics and a log line. Replays from the agent API come through here too.
pub async fn exchange(
    fwd: &Forwarder,
    slot: &UpstreamSlot,
    mut req: Request<UpBody>,
    client: &str,
    upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let name = &fwd.spec.name;
    rewrite_host(&fwd.spec, &mut req);
    let capture = (fwd.spec.inspect && fwd.captures.enabled()).then(|| {
        fwd.captures.begin(
            name,
            client,
            RequestHead {
                method: req.method().to_string(),
                uri: req.uri().to_string(),
                proto: proto_of(req.version()),
                headers: headers_of(req.headers()),
            },
        )
    });
    if let Some(c) = &capture {
        let sink = c.request_body.clone();
        req = req.map(|b| fwd.captures.tee(b, sink).boxed());
    }
    let mut resp = match send(fwd, slot, req).await {
        Ok(r) => r,
        Err(why) => {
            tracing::warn!(tunnel = %name, %client, code = %ErrorCode::UpstreamUnreachable, "{method} {path}: {why}");
            let page = error_page(ErrorCode::UpstreamUnreachable, &why);
            if let Some(c) = &capture {
                c.respond(ResponseHead {
                    status_code: page.status().as_u16(),
                    proto: "HTTP/1.1",
                    headers: headers_of(page.headers()),
                });
                c.finish(started.elapsed());
            }
            fwd.metrics.http_request(started.elapsed());
            answered(page.status());
            return page;
        }
    };
    let took = started.elapsed();
    fwd.metrics.http_request(took);
    answered(resp.status());
    tracing::debug!(
        tunnel = %name,
        %client,
        status = resp.status().as_u16(),
        ms = took.as_millis() as u64,
        "{method} {path}"
    );
    if let Some(c) = &capture {
        c.respond(ResponseHead {
            status_code: resp.status().as_u16(),
            proto: proto_of(resp.version()),
            headers: headers_of(resp.headers()),
        });
        c.finish(took);
    }
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_side) = upgrade {
            let upstream_side = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                if let Ok((c, u)) = tokio::try_join!(client_side, upstream_side) {
                    let _ = splice(TokioIo::new(c), TokioIo::new(u), IDLE).await;
                }
            });
        }
        return resp.map(|_| empty());
    }
    match capture {
        Some(c) => {
            let sink = c.response_body.clone();
            resp.map(|b| fwd.captures.tee(b, sink).map_err(BoxError::from).boxed())
        }
        None => resp.map(|b| b.map_err(BoxError::from).boxed()),
    }
}

async fn send(
    fwd: &Forwarder,
    slot: &UpstreamSlot,
    req: Request<UpBody>,
) -> Result<Response<Incoming>, String> {
    let mut slot = slot.lock().await;
    let reusable = slot.as_ref().is_some_and(|s| !s.is_closed());
    if !reusable {
        let io = dial(fwd).await?;
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, UpBody>(TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP handshake with {}: {e}", fwd.spec.addr))?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        *slot = Some(sender);
    }
    let Some(sender) = slot.as_mut() else {
        return Err("no upstream connection".into());
    };
    sender
        .ready()
        .await
        .map_err(|e| format!("upstream {}: {e}", fwd.spec.addr))?;
    sender
        .send_request(req)
        .await
        .map_err(|e| format!("upstream {}: {e}", fwd.spec.addr))
}

/// Applies the tunnel's `host_header`: with `rewrite` the upstream sees its own address as
/// `Host` and the public one in `X-Forwarded-Host`.
fn rewrite_host<B>(spec: &TunnelSpec, req: &mut Request<B>) {
    let value = match &spec.host_header {
        HostHeader::Preserve => return,
        HostHeader::Rewrite => {
            let public = req.headers().get(header::HOST).cloned();
            if let Some(public) = public {
                req.headers_mut()
                    .entry("x-forwarded-host")
                    .or_insert(public);
            }
            spec.addr.host_port()
        }
        HostHeader::Literal(v) => v.clone(),
    };
    if let Ok(v) = header::HeaderValue::from_str(&value) {
        req.headers_mut().insert(header::HOST, v);
    }
}

fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.version() == Version::HTTP_11
        && req.headers().contains_key(header::UPGRADE)
        && req
            .headers()
            .get(header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
}

fn error_page(code: ErrorCode, detail: &str) -> Response<Body> {
    let (content_type, body) = ferry_types::error_page::render(code, detail, false);
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() =
        StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    resp
}

fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A head whose empty line is split across two reads is complete only after the second,
    /// and is noticed then, while the stream stays open.
    #[tokio::test]
    async fn a_request_head_is_read_to_its_empty_line() {
        let (mut edge, mut agent) = tokio::io::duplex(64);
        edge.write_all(b"POST / HTTP/1.1\r\nhost: a\r\n\r")
            .await
            .unwrap();
        let reader = tokio::spawn(async move { read_request_head(&mut agent).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!reader.is_finished(), "the head is not complete yet");
        edge.write_all(b"\nbody").await.unwrap();
        let done = tokio::time::timeout(Duration::from_secs(5), reader);
        done.await.expect("the head is complete").unwrap().unwrap();
    }
}
