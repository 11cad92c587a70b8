//! HTTP endpoints: the edge speaks HTTP/1.1 or HTTP/2 with the public client and HTTP/1.1 to
//! the agent over one proxy stream per request, as ngrok's agents expect. Bodies stream both
//! ways without buffering; upgrades (websockets) become a spliced byte stream.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use ferry_transport::splice;
use ferry_types::{ErrorCode, Hostname, TunnelId};
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error_page::{error_response, wants_json};
use crate::proxy_stream::OpenError;
use crate::registry::{Route, Tunnel};
use crate::stream_reuse::{self, StreamCache};
use crate::{proxy_stream, Shared};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;

/// Serves one public connection (already TLS-terminated when `https`). `verified_for` names
/// the endpoint whose client certificate the TLS handshake checked, if any: only that
/// endpoint's requests may arrive on this connection when it requires one.
pub async fn serve_conn<IO>(
    shared: Arc<Shared>,
    io: IO,
    peer: SocketAddr,
    https: bool,
    verified_for: Option<TunnelId>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc_shared = shared.clone();
    let verified_for: Arc<Option<TunnelId>> = Arc::new(verified_for);
    let cache = Arc::new(StreamCache::default());
    let svc_cache = cache.clone();
    let first_request = Arc::new(FirstRequest::default());
    let seen = first_request.clone();
    let svc = service_fn(move |req| {
        seen.arrived();
        let conn = Conn {
            peer,
            https,
            verified_for: verified_for.clone(),
            streams: svc_cache.clone(),
        };
        handle(svc_shared.clone(), req, conn)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.handshake_timeout)
        .max_buf_size(shared.config.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(shared.config.max_header_bytes as u32)
        .max_concurrent_streams(256)
        // A client that stops answering pings loses its connection (and the stream slots
        // its requests hold at the agent).
        .keep_alive_interval(Some(std::time::Duration::from_secs(30)))
        .keep_alive_timeout(std::time::Duration::from_secs(20));
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let mut expiry = tokio::time::interval(stream_reuse::IDLE_FOR);
    expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(%peer, error = %e, "public HTTP connection ended");
                }
                break;
            }
            _ = shared.shutdown.cancelled() => {
                // A connection accepted just before the drain began (or before an upgrade
                // handed the port on) gets its first request served: closing it as idle
                // would fail a client that did nothing wrong.
                if !first_request.seen() {
                    tokio::select! {
                        _ = conn.as_mut() => break,
                        _ = tokio::time::timeout(FIRST_REQUEST_GRACE, first_request.wait()) => {}
                    }
                }
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
                break;
            }
            _ = expiry.tick() => cache.expire(),
        }
    }
    cache.clear();
}

/// How long a drain waits for the first request of a connection that has sent none yet.
pub(crate) const FIRST_REQUEST_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether a connection's first request has arrived, and a way to wait for it.
#[derive(Default)]
struct FirstRequest {
    seen: std::sync::atomic::AtomicBool,
    arrived: tokio::sync::Notify,
}

impl FirstRequest {
    fn arrived(&self) {
        if !self.seen.swap(true, std::sync::atomic::Ordering::Relaxed) {
            self.arrived.notify_one();
        }
    }

    fn seen(&self) -> bool {
        self.seen.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn wait(&self) {
        self.arrived.notified().await;
    }
}

/// What every request on one public connection shares.
struct Conn {
    peer: SocketAddr,
    https: bool,
    /// The endpoint whose client certificate the handshake verified, if any.
    verified_for: Arc<Option<TunnelId>>,
    streams: Arc<StreamCache>,
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    conn: Conn,
) -> Result<Response<Body>, Infallible> {
    if let Some(answer) = acme_http01(&shared, &req) {
        return Ok(answer);
    }
    let start = std::time::Instant::now();
    let resp = match forward(&shared, req, &conn).await {
        Ok(resp) => resp,
        Err((code, detail, json)) => {
            let mut resp = error_response(code, &detail, json);
            if code == ErrorCode::AuthenticationRequired {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"ferry\""),
                );
            }
            resp
        }
    };
    // Every answer counts, the edge's own error pages too: a 502 for an offline agent is
    // what an operator most needs to see.
    let metrics = ferry_metrics::edge::edge();
    metrics.http_duration.observe(start.elapsed().as_secs_f64());
    metrics
        .http_requests
        .with_label_values(&[ferry_metrics::status_class(resp.status().as_u16())])
        .inc();
    Ok(resp)
}

/// The answer to an ACME HTTP-01 validation of a challenge Ferry published, whatever the
/// host: the CA asks for the token at the name being validated, before any tunnel may be
/// online for it. Other paths under the prefix go to the tunnel as usual, so an agent can
/// still answer its own upstream's challenges.
fn acme_http01(shared: &Shared, req: &Request<Incoming>) -> Option<Response<Body>> {
    let token = req
        .uri()
        .path()
        .strip_prefix("/.well-known/acme-challenge/")?;
    let answer = shared.certs.http_challenge(token)?;
    let mut resp = Response::new(
        http_body_util::Full::new(Bytes::from(answer))
            .map_err(|never| match never {})
            .boxed(),
    );
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Some(resp)
}

/// A refusal: its code, what to tell the client, and whether the client wants JSON.
type Failure = (ErrorCode, String, bool);

async fn forward(
    shared: &Arc<Shared>,
    mut req: Request<Incoming>,
    conn: &Conn,
) -> Result<Response<Body>, Failure> {
    let (peer, https, verified_for) = (conn.peer, conn.https, (*conn.verified_for).as_ref());
    let fail =
        |code, detail: String, req: &Request<Incoming>| (code, detail, wants_json(req.headers()));
    let host_text = request_host(&req).unwrap_or_default();
    let host = match Hostname::parse(strip_port(&host_text)) {
        Ok(h) => h,
        Err(_) => {
            let detail = format!("the request names no valid host ({host_text:?})");
            return Err(fail(ErrorCode::EndpointNotFound, detail, &req));
        }
    };
    let tunnel = match shared.registry.route_host_when_bound(&host).await {
        Route::Live(t) if t.proto.is_http() => t,
        Route::Live(_) | Route::Unknown => {
            let detail = format!("no HTTP endpoint is online for {host} on this edge");
            return Err(fail(ErrorCode::EndpointNotFound, detail, &req));
        }
        Route::Offline => {
            let detail = format!("the agent that serves {host} is not connected");
            return Err(fail(ErrorCode::AgentOffline, detail, &req));
        }
    };

    if tunnel.client_tls.is_some() && verified_for != Some(&tunnel.id) {
        let detail = format!(
            "{host} requires a client certificate; connect to it by name (SNI {host}) over HTTPS and present one"
        );
        return Err(fail(ErrorCode::ClientCertificateRequired, detail, &req));
    }

    if tunnel.protection.requires_basic_auth() {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !tunnel.protection.basic_auth_ok(given) {
            let detail = format!("{host} requires a user name and password");
            return Err(fail(ErrorCode::AuthenticationRequired, detail, &req));
        }
        // The credentials are the edge's business; the upstream never sees them.
        req.headers_mut().remove(header::AUTHORIZATION);
    }
    let upgrade = is_upgrade(&req).then(|| hyper::upgrade::on(&mut req));
    prepare_upstream_request(&mut req, &host_text, peer, https);

    let json = wants_json(req.headers());
    let keep = upgrade.is_none();
    let (mut sender, reused) = match conn.streams.take(&tunnel) {
        Some(s) => (s, true),
        None => match open_sender(shared, &tunnel, peer, &host).await {
            Ok(s) => (s, false),
            Err((code, detail)) => return Err(fail(code, detail, &req)),
        },
    };
    let timeout = shared.config.upstream_timeout;
    let exchange = async {
        match sender.send.try_send_request(req).await {
            Ok(resp) => Ok(resp),
            // A kept stream the agent closed in the meantime: the request never left, so it
            // goes again on a new stream.
            Err(mut e) if reused && e.message().is_some() => {
                let Some(req) = e.take_message() else {
                    return Err(Sent::Failed(e.into_error()));
                };
                sender = open_sender(shared, &tunnel, peer, &host)
                    .await
                    .map_err(Sent::NoStream)?;
                sender.send.send_request(req).await.map_err(Sent::Failed)
            }
            Err(e) => Err(Sent::Failed(e.into_error())),
        }
    };
    let mut resp = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(Sent::NoStream((code, detail)))) => return Err((code, detail, json)),
        Ok(Err(Sent::Failed(e))) => {
            tracing::info!(%host, error = %e, "upstream response failed");
            return Err((
                ErrorCode::UpstreamBadResponse,
                format!("the response from {host} was cut off or malformed"),
                json,
            ));
        }
        Err(_) => {
            return Err((
                ErrorCode::UpstreamTimeout,
                format!("{host} did not answer within {} seconds", timeout.as_secs()),
                json,
            ));
        }
    };

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_side) = upgrade {
            let upstream_side = hyper::upgrade::on(&mut resp);
            let idle = shared.config.idle_timeout;
            shared.tracker.spawn(async move {
                match tokio::try_join!(client_side, upstream_side) {
                    Ok((c, u)) => {
                        let _ = splice(TokioIo::new(c), TokioIo::new(u), idle).await;
                    }
                    Err(e) => tracing::debug!(error = %e, "upgrade failed"),
                }
            });
        }
        return Ok(resp.map(|_| empty()));
    }
    if keep {
        conn.streams.put(tunnel, sender);
    }
    strip_hop_by_hop(resp.headers_mut());
    Ok(resp.map(|b| b.map_err(BoxError::from).boxed()))
}

/// Why an exchange with the agent produced no response.
enum Sent {
    NoStream((ErrorCode, String)),
    Failed(hyper::Error),
}

/// Opens a proxy stream to the tunnel's agent and starts HTTP/1.1 on it.
async fn open_sender(
    shared: &Shared,
    tunnel: &Tunnel,
    peer: SocketAddr,
    host: &Hostname,
) -> Result<stream_reuse::Sender, (ErrorCode, String)> {
    let stream = proxy_stream::open(tunnel, peer, shared.config.stream_wait)
        .await
        .map_err(|e| {
            tracing::debug!(%host, error = %e, "no proxy stream");
            let detail = match e {
                OpenError::StreamLimit { .. } => {
                    format!("the agent serving {host} has too many open connections")
                }
                _ => format!("the agent serving {host} could not be reached"),
            };
            (e.code(), detail)
        })?;
    let on_session = stream.on_session();
    let (send, conn) = hyper::client::conn::http1::Builder::new()
        .handshake::<_, Incoming>(TokioIo::new(stream))
        .await
        .map_err(|e| (ErrorCode::AgentOffline, format!("agent stream: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "agent stream ended");
        }
    });
    Ok(stream_reuse::Sender { send, on_session })
}

fn request_host(req: &Request<Incoming>) -> Option<String> {
    req.uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
}

pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    host.rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map(|(h, _)| h)
        .unwrap_or(host)
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

/// Turns the client's request (HTTP/1.1 or HTTP/2) into the HTTP/1.1 request the agent reads,
/// with the `X-Forwarded-*` headers added.
fn prepare_upstream_request(
    req: &mut Request<Incoming>,
    host: &str,
    peer: SocketAddr,
    https: bool,
) {
    // HTTP/2 and absolute-form requests carry the authority in the URI; the agent gets the
    // origin form. An HTTP/1.1 request in origin form already is left as it is.
    if req.uri().scheme().is_some() || req.uri().authority().is_some() {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        if let Ok(uri) = path.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    let was_h2 = req.version() == Version::HTTP_2;
    *req.version_mut() = Version::HTTP_11;
    let h = req.headers_mut();
    if was_h2 || !h.contains_key(header::HOST) {
        if let Ok(v) = HeaderValue::from_str(host) {
            h.insert(header::HOST, v);
        }
    }
    let xff_name = HeaderName::from_static("x-forwarded-for");
    let ip = peer.ip().to_string();
    let xff = match h.get(&xff_name).and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {ip}"),
        None => ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        h.insert(xff_name, v);
    }
    h.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(if https { "https" } else { "http" }),
    );
    if let Ok(v) = HeaderValue::from_str(host) {
        h.insert(HeaderName::from_static("x-forwarded-host"), v);
    }
}

fn strip_hop_by_hop(h: &mut http::HeaderMap) {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    ] {
        h.remove(name);
    }
}

fn empty() -> Body {
    http_body_util::Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ports_but_not_ipv6_brackets() {
        assert_eq!(strip_port("a.example.test:8443"), "a.example.test");
        assert_eq!(strip_port("a.example.test"), "a.example.test");
        assert_eq!(strip_port("[::1]:80"), "[::1]:80");
    }
}
