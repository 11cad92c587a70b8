//! HTTP/1.1 carried as bytes. On hyper's path (`http_proxy`) a request is parsed into a
//! `Request`, encoded again by a hyper client on the proxy stream, and the answer takes the
//! same two steps back: 43 % of the edge's CPU per request in BENCHMARKS.md (issue 17). A
//! plain request needs none of that: the edge reads its head to route it and to add
//! `X-Forwarded-*`, and the rest of the request and the whole answer pass as they are, the
//! answer framed by `ferry_proto::http1_watch`'s rules, as the agent's splice already does.
//!
//! A connection is served this way while its requests are plain ones. Anything else (HTTP/2,
//! HTTP/1.0, an upgrade, a chunked request body, basic auth or a client certificate to check,
//! an ACME challenge, a host no endpoint on this edge serves right now, a head that does not
//! parse) goes to hyper's path with the bytes read so far, for the rest of the connection,
//! once every answer before it is complete.
//!
//! The proxy stream is kept for the connection's next request, as hyper's path keeps its
//! streams (`stream_reuse`); one that ends under a request is retried as hyper's client
//! retries a request its connection never took, and, since the relay cannot tell whether the
//! agent read it, only for a method that may be sent twice.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use ferry_proto::http1_watch::{Event, Exchange, Head};
use ferry_types::{ErrorCode, Hostname, TunnelId};
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::proxy_stream::{self, ProxyStream};
use crate::registry::{Route, Tunnel};
use crate::rewind::Rewind;
use crate::{http_proxy, stream_reuse, Shared};

/// Header lines a relayed request may have; a longer head goes to hyper.
const MAX_HEADERS: usize = 64;
/// What the answer is read in.
const ANSWER_BUF: usize = 16 * 1024;

/// Serves one public connection (already TLS-terminated when `https`), relaying its plain
/// HTTP/1.1 requests and handing the rest of it to [`http_proxy::serve_conn`].
pub async fn serve_conn<IO>(
    shared: Arc<Shared>,
    mut io: IO,
    peer: SocketAddr,
    https: bool,
    verified_for: Option<TunnelId>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = Conn {
        buf: BytesMut::with_capacity(4096),
        answer: Vec::new(),
        upstream: None,
        served: 0,
        peer,
    };
    loop {
        let head_len = match conn.read_head(&shared, &mut io).await {
            HeadRead::Head(n) => n,
            HeadRead::Closed => return,
            HeadRead::Other => break,
        };
        let Some(plan) = plan(&shared, &conn.buf[..head_len], peer, https) else {
            break;
        };
        conn.buf.advance(head_len);
        match conn.exchange(&shared, &mut io, plan).await {
            Next::Request => conn.served += 1,
            Next::Close => {
                let _ = io.shutdown().await;
                return;
            }
            Next::Bytes(stream) => {
                // The watch lost the answer's framing: whatever follows is carried as it is.
                let rest = Rewind::new(conn.buf.freeze(), io);
                let _ = ferry_transport::splice(rest, stream, shared.config.idle_timeout).await;
                return;
            }
        }
        if shared.shutdown.is_cancelled() {
            let _ = io.shutdown().await;
            return;
        }
    }
    let Conn {
        buf,
        upstream,
        answer,
        ..
    } = conn;
    drop((upstream, answer));
    let io = Rewind::new(buf.freeze(), io);
    http_proxy::serve_conn(shared, io, peer, https, verified_for).await;
}

/// A plain request, ready to go: the tunnel, the head as the agent gets it, and its body's
/// length.
struct Plan {
    tunnel: Arc<Tunnel>,
    host: Hostname,
    head: Vec<u8>,
    body: u64,
    /// The client asked to close the connection after this answer.
    close: bool,
    wants_json: bool,
    /// The method may be sent twice (RFC 9110 section 9.2.2).
    idempotent: bool,
    /// A HEAD request, whose answer has no body.
    head_request: bool,
}

/// Reads `raw`, a complete head, and returns its plan if the request is a plain one.
fn plan(shared: &Shared, raw: &[u8], peer: SocketAddr, https: bool) -> Option<Plan> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(_)) = req.parse(raw) else {
        return None;
    };
    let path = req.path?;
    let method = req.method?;
    if req.version != Some(1)
        || !path.starts_with('/')
        || path.starts_with("/.well-known/acme-challenge/")
        || method == "CONNECT"
    {
        return None;
    }
    let (mut host, mut body, mut close, mut xff, mut wants_json) = (None, None, false, None, false);
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).ok()?;
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            if host.replace(value).is_some() {
                return None;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            // Digits only: a sign or a list that hyper or the upstream would read otherwise
            // must not get through (hyper's path refuses them).
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u64 = value.parse().ok()?;
            if body.replace(n).is_some() {
                return None;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
        {
            return None;
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("upgrade") {
                return None;
            }
            close |= value.contains("close");
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            xff.get_or_insert(value);
        } else if name.eq_ignore_ascii_case("accept") {
            wants_json |= value.contains("application/json");
        }
    }
    let host_text = host?;
    let host = Hostname::parse(http_proxy::strip_port(host_text)).ok()?;
    let tunnel = match shared.registry.route_host(&host) {
        Route::Live(t) if t.proto.is_http() => t,
        _ => return None,
    };
    if tunnel.client_tls.is_some() || tunnel.protection.requires_basic_auth() {
        return None;
    }
    let line_end = raw.iter().position(|&b| b == b'\n')? + 1;
    let mut head = Vec::with_capacity(raw.len() + 128);
    head.extend_from_slice(&raw[..line_end]);
    for h in req.headers.iter() {
        let n = h.name;
        if n.eq_ignore_ascii_case("x-forwarded-for")
            || n.eq_ignore_ascii_case("x-forwarded-proto")
            || n.eq_ignore_ascii_case("x-forwarded-host")
        {
            continue;
        }
        head.extend_from_slice(n.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(h.value);
        head.extend_from_slice(b"\r\n");
    }
    // The same additions as hyper's path (`prepare_upstream_request`).
    head.extend_from_slice(b"x-forwarded-for: ");
    if let Some(prev) = xff {
        head.extend_from_slice(prev.as_bytes());
        head.extend_from_slice(b", ");
    }
    head.extend_from_slice(peer.ip().to_string().as_bytes());
    head.extend_from_slice(b"\r\nx-forwarded-proto: ");
    head.extend_from_slice(if https { b"https" } else { b"http" });
    head.extend_from_slice(b"\r\nx-forwarded-host: ");
    head.extend_from_slice(host_text.as_bytes());
    head.extend_from_slice(b"\r\n\r\n");
    Some(Plan {
        tunnel,
        host,
        head,
        body: body.unwrap_or(0),
        close,
        wants_json,
        idempotent: matches!(
            method,
            "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
        ),
        head_request: method == "HEAD",
    })
}

enum HeadRead {
    /// A complete head of this many bytes is at the front of the buffer.
    Head(usize),
    /// The client closed, went quiet, or the edge is draining: nothing more to serve.
    Closed,
    /// Not an HTTP/1.1 head this relays (hyper answers it, with its own errors).
    Other,
}

/// What follows an exchange.
enum Next {
    /// The connection is ready for its next request.
    Request,
    /// The connection ends here (the answer said so, or it could not be completed).
    Close,
    /// The answer could not be followed; the rest is carried as bytes to this stream.
    Bytes(Box<ProxyStream>),
}

struct Conn {
    /// What the client sent and nothing has consumed yet.
    buf: BytesMut,
    /// What an answer is read into, made at the first request (a connection that goes to
    /// hyper's path never needs it).
    answer: Vec<u8>,
    /// The proxy stream the last request used, kept for the next one to the same tunnel
    /// for a few idle seconds.
    upstream: Option<(Arc<Tunnel>, ProxyStream)>,
    served: u64,
    peer: SocketAddr,
}

impl Conn {
    /// Reads until the buffer holds a complete request head: the first within the edge's
    /// handshake timeout of the connection, a later one within it of its first byte, which
    /// a kept-alive connection may wait the idle timeout for.
    async fn read_head<IO: AsyncRead + Unpin>(&mut self, shared: &Shared, io: &mut IO) -> HeadRead {
        let config = &shared.config;
        let mut started = self.served == 0 || !self.buf.is_empty();
        let wait = if started {
            config.handshake_timeout
        } else {
            config.idle_timeout
        };
        let mut deadline = tokio::time::Instant::now() + wait;
        let mut draining = shared.shutdown.is_cancelled();
        if draining && self.served > 0 && self.buf.is_empty() {
            return HeadRead::Closed;
        }
        loop {
            if !self.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                match httparse::Request::new(&mut headers).parse(&self.buf) {
                    Ok(httparse::Status::Complete(n)) => return HeadRead::Head(n),
                    Ok(httparse::Status::Partial) if self.buf.len() <= config.max_header_bytes => {}
                    _ => return HeadRead::Other,
                }
            }
            if draining {
                deadline =
                    deadline.min(tokio::time::Instant::now() + http_proxy::FIRST_REQUEST_GRACE);
            }
            tokio::select! {
                read = io.read_buf(&mut self.buf) => match read {
                    Ok(0) if self.buf.is_empty() => return HeadRead::Closed,
                    // A partial head and the end: hyper says what was wrong with it.
                    Ok(0) => return HeadRead::Other,
                    Ok(_) if !started => {
                        started = true;
                        deadline = tokio::time::Instant::now() + config.handshake_timeout;
                    }
                    Ok(_) => {}
                    Err(_) => return HeadRead::Closed,
                },
                _ = tokio::time::sleep_until(deadline) => return HeadRead::Closed,
                _ = tokio::time::sleep(stream_reuse::IDLE_FOR),
                    if self.upstream.is_some() && self.buf.is_empty() =>
                {
                    self.upstream = None;
                }
                _ = shared.shutdown.cancelled(), if !draining => {
                    if self.served > 0 && self.buf.is_empty() {
                        return HeadRead::Closed;
                    }
                    draining = true;
                }
            }
        }
    }

    /// Sends one request to the agent and its answer to the client.
    async fn exchange<IO>(&mut self, shared: &Shared, io: &mut IO, plan: Plan) -> Next
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let start = Instant::now();
        let next = self.exchange_timed(shared, io, &plan).await;
        edge_metrics(start, next.1);
        next.0
    }

    async fn exchange_timed<IO>(
        &mut self,
        shared: &Shared,
        io: &mut IO,
        plan: &Plan,
    ) -> (Next, Option<u16>)
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        // A kept stream on the session gives way to a data connection the agent has left
        // idle since: the connection's later requests ride it, outside muxado.
        let mut kept = match self.upstream.take() {
            Some((t, mut s)) if Arc::ptr_eq(&t, &plan.tunnel) => {
                let moves = s.on_session() && t.session.data.has_idle();
                (!moves && !closed(&mut s)).then_some(s)
            }
            _ => None,
        };
        // The request's head and whatever of its body arrived with it.
        let buffered = (self.buf.len() as u64).min(plan.body) as usize;
        let rest = plan.body - buffered as u64;
        if self.answer.is_empty() {
            self.answer = vec![0u8; ANSWER_BUF];
        }
        let (stream, answered) = loop {
            let reused = kept.is_some();
            let mut stream = match kept.take() {
                Some(s) => s,
                None => match self.open(shared, plan).await {
                    Ok(s) => s,
                    Err((code, detail)) => return self.refuse(io, plan, code, &detail).await,
                },
            };
            if send(&mut stream, &plan.head, &self.buf[..buffered])
                .await
                .is_err()
            {
                if reused {
                    // A kept stream the agent had closed: the request goes on a new one.
                    continue;
                }
                let detail = format!("the agent serving {} could not be reached", plan.host);
                return self
                    .refuse(io, plan, ErrorCode::AgentOffline, &detail)
                    .await;
            }
            let mut watch = Exchange::default();
            watch.expect_response(plan.head_request);
            if rest > 0 {
                self.buf.advance(buffered);
                let answered = self
                    .answer_streaming_body(shared, io, &mut stream, &mut watch, rest)
                    .await;
                break (stream, answered);
            }
            let answered =
                relay_answer(shared, &mut stream, io, &mut watch, &mut self.answer).await;
            // A kept stream can end after the check above and before the agent read the
            // request (its upstream closed the idle connection): a request that may be sent
            // twice (RFC 9110 section 9.2.2), as a browser would, goes again on a new stream.
            if reused
                && plan.idempotent
                && matches!(answered, Answered::Nothing(ErrorCode::UpstreamBadResponse))
            {
                continue;
            }
            self.buf.advance(buffered);
            break (stream, answered);
        };
        match answered {
            Answered::Whole { status, close } => {
                if close || plan.close {
                    return (Next::Close, Some(status));
                }
                // Kept as `stream_reuse` keeps hyper's streams: only while the session has
                // slots to spare, and only for a few idle seconds (`read_head`), so that idle
                // keep-alive connections never hold the slots new ones need.
                let spare = plan.tunnel.session.streams.available_permits();
                if spare >= stream_reuse::SPARE_SLOTS {
                    self.upstream = Some((plan.tunnel.clone(), stream));
                }
                (Next::Request, Some(status))
            }
            Answered::Lost(status) => (Next::Bytes(Box::new(stream)), status),
            Answered::Cut(status) => (Next::Close, status),
            Answered::Nothing(code) => {
                let host = &plan.host;
                let detail = match code {
                    ErrorCode::UpstreamTimeout => {
                        let secs = shared.config.upstream_timeout.as_secs();
                        format!("{host} did not answer within {secs} seconds")
                    }
                    _ => format!("the response from {host} was cut off or malformed"),
                };
                self.refuse(io, plan, code, &detail).await
            }
        }
    }

    /// Relays the rest of a request's body (`rest` bytes still to come from the client) while
    /// the answer comes back: an upstream may answer before it has read the whole body.
    async fn answer_streaming_body<IO>(
        &mut self,
        shared: &Shared,
        io: &mut IO,
        stream: &mut ProxyStream,
        watch: &mut Exchange,
        rest: u64,
    ) -> Answered
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let (mut client_r, mut client_w) = tokio::io::split(io);
        let (mut agent_r, mut agent_w) = tokio::io::split(stream);
        let idle = shared.config.idle_timeout;
        let body = copy_exactly(&mut client_r, &mut agent_w, rest, idle);
        let answer = relay_answer(shared, &mut agent_r, &mut client_w, watch, &mut self.answer);
        tokio::pin!(body, answer);
        // A client that goes away or quiet mid-body ends the exchange there, without waiting
        // for an answer the upstream may never give to a request it has not had whole.
        tokio::select! {
            body = &mut body => match body {
                Ok(()) => answer.await,
                Err(_) => Answered::Cut(None),
            },
            answer = &mut answer => match body.await {
                Ok(()) => answer,
                Err(_) => Answered::Cut(answer.status()),
            },
        }
    }

    async fn open(&self, shared: &Shared, plan: &Plan) -> Result<ProxyStream, (ErrorCode, String)> {
        proxy_stream::open(&plan.tunnel, self.peer, shared.config.stream_wait)
            .await
            .map_err(|e| {
                tracing::debug!(host = %plan.host, error = %e, "no proxy stream");
                let detail = match e {
                    proxy_stream::OpenError::StreamLimit { .. } => format!(
                        "the agent serving {} has too many open connections",
                        plan.host
                    ),
                    _ => format!("the agent serving {} could not be reached", plan.host),
                };
                (e.code(), detail)
            })
    }

    /// Answers with the edge's error page and ends the connection: the request's body, if it
    /// has one, was not read.
    async fn refuse<IO: AsyncWrite + Unpin>(
        &self,
        io: &mut IO,
        plan: &Plan,
        code: ErrorCode,
        detail: &str,
    ) -> (Next, Option<u16>) {
        let (content_type, body) = ferry_types::error_page::render(code, detail, plan.wants_json);
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
        let head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {content_type}\r\nferry-error-code: {code}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            status.as_str(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        );
        if io.write_all(head.as_bytes()).await.is_ok() {
            let _ = io.write_all(body.as_bytes()).await;
        }
        (Next::Close, Some(status.as_u16()))
    }
}

/// How an answer went.
enum Answered {
    /// It came whole; `close` when it ends the connection.
    Whole { status: u16, close: bool },
    /// Its framing could not be followed; what was read of it was passed on.
    Lost(Option<u16>),
    /// It stopped partway (or the client went away).
    Cut(Option<u16>),
    /// Not a byte of it came: the edge answers with this code instead.
    Nothing(ErrorCode),
}

impl Answered {
    fn status(&self) -> Option<u16> {
        match self {
            Answered::Whole { status, .. } => Some(*status),
            Answered::Lost(s) | Answered::Cut(s) => *s,
            Answered::Nothing(_) => None,
        }
    }
}

/// Passes the agent's answer to the client as it comes, until `watch` says it ended.
async fn relay_answer<R, W>(
    shared: &Shared,
    agent: &mut R,
    client: &mut W,
    watch: &mut Exchange,
    buf: &mut [u8],
) -> Answered
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut seen = Seen::default();
    let mut first = true;
    loop {
        let wait = if first {
            shared.config.upstream_timeout
        } else {
            shared.config.idle_timeout
        };
        let n = match tokio::time::timeout(wait, agent.read(buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) if first => return Answered::Nothing(ErrorCode::UpstreamBadResponse),
            Err(_) if first => return Answered::Nothing(ErrorCode::UpstreamTimeout),
            Ok(Err(_)) | Err(_) => return Answered::Cut(seen.status),
        };
        if n == 0 {
            watch.upstream_closed(&mut |e| seen.note(e));
            return match (first, seen.ended) {
                (true, _) => Answered::Nothing(ErrorCode::UpstreamBadResponse),
                (false, true) => Answered::Whole {
                    status: seen.status.unwrap_or(0),
                    close: true,
                },
                (false, false) => Answered::Cut(seen.status),
            };
        }
        let head_here = std::mem::take(&mut first);
        watch.upstream_sent(&buf[..n], &mut |e| seen.note(e));
        let undated = head_here && seen.status.is_some() && !seen.dated;
        let sent = match undated.then(|| with_date(&buf[..n])).flatten() {
            Some(dated) => client.write_all(&dated).await,
            None => client.write_all(&buf[..n]).await,
        };
        if sent.is_err() {
            return Answered::Cut(seen.status);
        }
        if seen.lost {
            return Answered::Lost(seen.status);
        }
        if seen.ended {
            return Answered::Whole {
                status: seen.status.unwrap_or(0),
                close: seen.close,
            };
        }
    }
}

/// The answer's first bytes with a `Date` header added, when they hold a whole final head
/// without one: a proxy forwarding a response without `Date` adds it (RFC 9110 section
/// 6.6.1), as hyper's path does. A head split across reads, or after an interim answer, is
/// passed as it came.
fn with_date(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(len)) = resp.parse(bytes) else {
        return None;
    };
    if resp.code? < 200
        || !bytes[..len].ends_with(b"\r\n\r\n")
        || resp
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("date"))
    {
        return None;
    }
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let mut dated = Vec::with_capacity(bytes.len() + date.len() + 8);
    dated.extend_from_slice(&bytes[..len - 2]);
    dated.extend_from_slice(b"date: ");
    dated.extend_from_slice(date.as_bytes());
    dated.extend_from_slice(b"\r\n\r\n");
    dated.extend_from_slice(&bytes[len..]);
    Some(dated)
}

/// What the watch has seen of an answer.
#[derive(Default)]
struct Seen {
    status: Option<u16>,
    close: bool,
    ended: bool,
    lost: bool,
    /// The answer's head has a `Date`: most do, and those are passed on without a second
    /// look at their bytes.
    dated: bool,
}

impl Seen {
    fn note(&mut self, event: Event<'_>) {
        match event {
            Event::Response(head) => {
                self.status = Some(head.status);
                self.close = ends_connection(&head);
                self.dated = head.headers.iter().any(|(name, _)| name == "date");
            }
            Event::ResponseEnd => self.ended = true,
            Event::Lost(_) => self.lost = true,
            _ => {}
        }
    }
}

/// Whether an answer closes the connection after it (RFC 9112 section 9.3).
fn ends_connection(head: &Head) -> bool {
    let mut keep_alive = false;
    for (name, value) in head.headers.iter() {
        if name == "connection" {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                return true;
            }
            keep_alive |= value.contains("keep-alive");
        }
    }
    head.version == "HTTP/1.0" && !keep_alive
}

/// Copies exactly `len` bytes from `from` to `to`; never reads past them (the next request
/// may follow in the same bytes). A client that sends nothing for `idle` is cut off, so a
/// body left unfinished does not hold the exchange and its proxy stream for good; so is a
/// reader that takes nothing for as long.
async fn copy_exactly<R, W>(
    from: &mut R,
    to: &mut W,
    mut len: u64,
    idle: Duration,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; (len as usize).min(16 * 1024)];
    while len > 0 {
        let want = (len as usize).min(buf.len());
        let n = tokio::time::timeout(idle, from.read(&mut buf[..want]))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // An upstream that stopped reading holds the body no longer than a quiet client.
        tokio::time::timeout(idle, to.write_all(&buf[..n]))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        len -= n as u64;
    }
    Ok(())
}

/// Writes a request's head and the part of its body that came with it.
async fn send(stream: &mut ProxyStream, head: &[u8], body: &[u8]) -> std::io::Result<()> {
    stream.write_all(head).await?;
    if !body.is_empty() {
        stream.write_all(body).await?;
    }
    Ok(())
}

/// Whether a kept stream has ended (or sent something no request asked for) since its last
/// answer, so that the next request does not go to it.
fn closed(stream: &mut ProxyStream) -> bool {
    let mut probe = [0u8; 1];
    let mut buf = ReadBuf::new(&mut probe);
    let mut cx = Context::from_waker(Waker::noop());
    !matches!(Pin::new(stream).poll_read(&mut cx, &mut buf), Poll::Pending)
}

/// Every answer counts in the edge's HTTP metrics, as on hyper's path.
fn edge_metrics(start: Instant, status: Option<u16>) {
    let metrics = ferry_metrics::edge::edge();
    metrics.http_duration.observe(start.elapsed().as_secs_f64());
    let class = ferry_metrics::status_class(status.unwrap_or(502));
    metrics.http_requests.with_label_values(&[class]).inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_without_a_date_gets_one_and_keeps_its_body() {
        let dated = with_date(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap();
        let text = String::from_utf8(dated).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, "ok");
        let date = head.strip_prefix("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ndate: ");
        assert!(httpdate::parse_http_date(date.unwrap()).is_ok(), "{head}");
        let kept = b"HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 12:00:00 GMT\r\n\r\n";
        assert!(with_date(kept).is_none());
        assert!(with_date(b"HTTP/1.1 100 Continue\r\n\r\n").is_none());
        assert!(with_date(b"HTTP/1.1 200 OK\r\nContent-Le").is_none());
        assert!(with_date(b"HTTP/1.1 200 OK\n\nok").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_copy_takes_its_length_and_leaves_what_follows() {
        let (mut client, mut edge) = tokio::io::duplex(64);
        client
            .write_all(b"hello and the next request")
            .await
            .unwrap();
        let mut to = Vec::new();
        copy_exactly(&mut edge, &mut to, 5, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(to, b"hello");
        let mut next = [0u8; 8];
        edge.read_exact(&mut next).await.unwrap();
        assert_eq!(&next, b" and the");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_left_unfinished_is_cut_off_after_the_idle_timeout() {
        let (mut client, mut edge) = tokio::io::duplex(64);
        client.write_all(b"par").await.unwrap();
        let mut to = Vec::new();
        let started = tokio::time::Instant::now();
        let e = copy_exactly(&mut edge, &mut to, 10, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(30) && waited < Duration::from_secs(31));
        assert_eq!(to, b"par");
        drop(client);
    }
}
