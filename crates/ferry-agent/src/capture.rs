//! Request inspection: each HTTP exchange through a tunnel with `inspect` on is recorded with
//! its headers and the first bytes of both bodies, in a ring bounded by `inspect_db_size`.
//! Bodies are copied as they stream past (never buffered in front of the upstream), so a
//! capture fills in while a long response is still running.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use base64::Engine;
use bytes::Bytes;
use ferry_proto::http1_watch::HeaderLines;
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};
use rand::Rng;
use serde_json::{json, Map, Value};

#[derive(Default)]
pub struct BodyBuf {
    pub data: Vec<u8>,
    pub total: u64,
}

pub type SharedBody = Arc<Mutex<BodyBuf>>;

/// A request as it went upstream. Every field costs an allocation per request and a free
/// when the ring evicts it, so the header lines are one string and the rest is made when a
/// capture is read.
pub struct RequestHead {
    pub method: String,
    pub uri: String,
    pub proto: &'static str,
    pub headers: HeaderLines,
}

/// The upstream's answer; its `status` text is the code's canonical reason, made when read.
pub struct ResponseHead {
    pub status_code: u16,
    pub proto: &'static str,
    pub headers: HeaderLines,
}

/// One HTTP exchange as the inspector shows it. The forwarder fills it in while readers of
/// the agent API may already hold it, hence the locks and the atomic.
pub struct Capture {
    /// 16 random hex digits: the agent API's request `id`, and what replay asks for.
    pub id: String,
    /// The tunnel it came through, by name; a replay goes there unless told otherwise.
    pub tunnel_name: String,
    /// The public client's IP without a port, as ngrok shows it; `replay` for a replay.
    pub remote_addr: String,
    /// Formatted only when the capture is read: most captures never are.
    pub start: time::OffsetDateTime,
    /// As sent upstream, so after any `host_header` rewrite.
    pub request: RequestHead,
    /// The first bytes of the request body, filled in as it streams.
    pub request_body: SharedBody,
    /// `None` until the upstream's head arrives (ngrok's `response: null`); Ferry's 502 page
    /// when the upstream could not be reached.
    pub response: Mutex<Option<ResponseHead>>,
    /// The first bytes of the response body, filled in as it streams.
    pub response_body: SharedBody,
    /// Nanoseconds from the request to the response head, not to the end of the body; 0 until
    /// then. ngrok's `duration`.
    pub duration_ns: AtomicU64,
    /// What the capture holds besides its bodies, fixed when it begins.
    head_bytes: u64,
}

/// What a capture costs beyond the text of its request head: the structure, its response
/// head and the allocations behind them, so that a ring of small requests is bounded by the
/// memory it really takes.
const CAPTURE_OVERHEAD: u64 = 2048;

/// The ring of captures.
pub struct CaptureStore {
    /// `None`: capture is off (`inspect_db_size: -1`).
    limit_bytes: Option<u64>,
    inner: Mutex<Ring>,
    /// Body bytes held by all captures, those still streaming included: copying stops when
    /// it reaches the limit, so many concurrent requests cannot exceed `inspect_db_size`.
    used: Arc<AtomicU64>,
}

impl CaptureStore {
    pub(crate) fn new(limit_bytes: Option<u64>) -> Self {
        Self {
            limit_bytes,
            inner: Mutex::new(Ring::default()),
            used: Arc::new(AtomicU64::new(0)),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.limit_bytes.is_some()
    }

    /// How much of each body is kept: a quarter of the ring, at most 10 MB.
    pub fn body_limit(&self) -> usize {
        self.limit_bytes
            .map(|l| (l / 4).min(10 * 1024 * 1024) as usize)
            .unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a request as it leaves for the upstream, evicting the oldest captures to make
    /// room; the forwarder fills in the rest through the returned handle.
    pub(crate) fn begin(
        &self,
        tunnel_name: &str,
        remote_addr: &str,
        request: RequestHead,
    ) -> Arc<Capture> {
        let id = format!("{:016x}", rand::thread_rng().gen::<u64>());
        let start = time::OffsetDateTime::now_utc();
        let head = request.headers.len() + request.uri.len();
        let cap = Arc::new(Capture {
            head_bytes: head as u64 + CAPTURE_OVERHEAD,
            id,
            tunnel_name: tunnel_name.to_string(),
            remote_addr: remote_addr.to_string(),
            start,
            request,
            request_body: SharedBody::default(),
            response: Mutex::new(None),
            response_body: SharedBody::default(),
            duration_ns: AtomicU64::new(0),
        });
        let mut ring = self.lock();
        ring.heads += cap.head_bytes;
        ring.list.push_front(cap.clone());
        self.evict(&mut ring);
        cap
    }

    /// Drops the oldest captures until heads and bodies fit the limit. The totals are kept
    /// as captures come and go, so each request costs the same however full the ring is.
    fn evict(&self, ring: &mut Ring) {
        let Some(limit) = self.limit_bytes else {
            ring.list.clear();
            ring.heads = 0;
            return;
        };
        while ring.heads + self.used.load(Ordering::Relaxed) > limit && ring.list.len() > 1 {
            if let Some(old) = ring.list.pop_back() {
                ring.heads -= old.head_bytes;
                self.release(old.body_bytes());
            }
        }
    }

    fn release(&self, bodies: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(bodies))
            });
    }

    /// Wraps a body so that what passes is copied into `sink`, within the ring's budget.
    pub fn tee<B>(&self, inner: B, sink: SharedBody) -> TeeBody<B> {
        TeeBody {
            inner,
            sink,
            per_body: self.body_limit(),
            used: self.used.clone(),
            total_limit: self.limit_bytes.unwrap_or(0),
        }
    }

    /// Copies the bytes of a body going by into `sink`, within the ring's budget.
    pub(crate) fn keep(&self, sink: &SharedBody, data: &[u8]) {
        let limit = self.limit_bytes.unwrap_or(0);
        keep(sink, data, self.body_limit(), &self.used, limit);
    }

    /// Newest first, optionally for one tunnel.
    pub fn list(&self, limit: usize, tunnel: Option<&str>) -> Vec<Arc<Capture>> {
        self.lock()
            .list
            .iter()
            .filter(|c| tunnel.is_none_or(|t| c.tunnel_name == t))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The capture with this id, while the ring still holds it.
    pub fn get(&self, id: &str) -> Option<Arc<Capture>> {
        self.lock().list.iter().find(|c| c.id == id).cloned()
    }

    /// Drops every capture (the agent API's `DELETE /api/requests/http`).
    pub fn clear(&self) {
        let mut ring = self.lock();
        let bodies: u64 = ring.list.iter().map(|c| c.body_bytes()).sum();
        ring.list.clear();
        ring.heads = 0;
        self.release(bodies);
    }
}

/// Captures newest first, and the sum of their `head_bytes`.
#[derive(Default)]
struct Ring {
    list: VecDeque<Arc<Capture>>,
    heads: u64,
}

fn lock_body(b: &SharedBody) -> std::sync::MutexGuard<'_, BodyBuf> {
    b.lock().unwrap_or_else(|p| p.into_inner())
}

impl Capture {
    fn body_bytes(&self) -> u64 {
        lock_body(&self.request_body).data.len() as u64
            + lock_body(&self.response_body).data.len() as u64
    }

    pub(crate) fn respond(&self, head: ResponseHead) {
        *self.response.lock().unwrap_or_else(|p| p.into_inner()) = Some(head);
    }

    pub(crate) fn finish(&self, took: std::time::Duration) {
        self.duration_ns
            .store(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The request body as kept, for a replay; it may be cut at the ring's per-body limit.
    pub(crate) fn request_body(&self) -> Vec<u8> {
        lock_body(&self.request_body).data.clone()
    }

    /// The agent API's captured-request object, in ngrok's shape; `raw` holds the head and the
    /// body bytes kept, in base64.
    pub fn to_json(&self) -> Value {
        let req_body = lock_body(&self.request_body);
        let request = json!({
            "method": self.request.method,
            "proto": self.request.proto,
            "headers": header_map(&self.request.headers),
            "uri": self.request.uri,
            "raw": raw(
                &format!("{} {} {}", self.request.method, self.request.uri, self.request.proto),
                &self.request.headers,
                &req_body.data,
            ),
        });
        let response = self
            .response
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|r| {
                let body = lock_body(&self.response_body);
                let status = status_text(r.status_code);
                json!({
                    "status": status,
                    "status_code": r.status_code,
                    "proto": r.proto,
                    "headers": header_map(&r.headers),
                    "raw": raw(&format!("{} {status}", r.proto), &r.headers, &body.data),
                })
            })
            .unwrap_or(Value::Null);
        json!({
            "uri": format!("/api/requests/http/{}", self.id),
            "id": self.id,
            "tunnel_name": self.tunnel_name,
            "remote_addr": self.remote_addr,
            "start": self
                .start
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            "duration": self.duration_ns.load(Ordering::Relaxed),
            "request": request,
            "response": response,
        })
    }
}

/// Header names are kept as they arrive (lower case) and shown canonical when read, so a
/// request that is never looked at costs no case conversion.
pub fn headers_of(h: &HeaderMap) -> HeaderLines {
    HeaderLines::from_pairs(
        h.iter()
            .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v.as_bytes()))),
    )
}

/// `HTTP/1.1` and the like, as captures show the protocol.
pub fn proto_of(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// `200 OK`, as ngrok shows a status: the code's canonical reason, whatever phrase came.
fn status_text(code: u16) -> String {
    match http::StatusCode::from_u16(code) {
        Ok(s) => s.to_string(),
        Err(_) => code.to_string(),
    }
}

/// `content-type` → `Content-Type`, as ngrok's captures show header names.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn header_map(h: &HeaderLines) -> Value {
    let mut m: Map<String, Value> = Map::new();
    for (k, v) in h.iter() {
        let k = canonical(k);
        match m.get_mut(&k) {
            Some(Value::Array(a)) => a.push(Value::String(v.to_string())),
            _ => {
                m.insert(k, json!([v]));
            }
        }
    }
    Value::Object(m)
}

fn raw(first_line: &str, headers: &HeaderLines, body: &[u8]) -> String {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(first_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (k, v) in headers.iter() {
        out.extend_from_slice(format!("{}: {v}\r\n", canonical(k)).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Copies what of `data` fits into `sink`: up to `per_body` bytes of each body, and while the
/// bodies of every capture together stay within `total_limit`. `total` counts all of it.
fn keep(sink: &SharedBody, data: &[u8], per_body: usize, used: &AtomicU64, total_limit: u64) {
    let mut buf = lock_body(sink);
    buf.total += data.len() as u64;
    let room = per_body.saturating_sub(buf.data.len());
    let budget = total_limit.saturating_sub(used.load(Ordering::Relaxed)) as usize;
    let take = room.min(budget).min(data.len());
    if take > 0 {
        buf.data.extend_from_slice(&data[..take]);
        used.fetch_add(take as u64, Ordering::Relaxed);
    }
}

/// A body that copies what passes through it into a capture, up to the per-body limit and
/// while the ring's total budget lasts.
pub struct TeeBody<B> {
    inner: B,
    sink: SharedBody,
    per_body: usize,
    used: Arc<AtomicU64>,
    total_limit: u64,
}

impl<B> Body for TeeBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let res = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &res {
            if let Some(data) = frame.data_ref() {
                keep(
                    &self.sink,
                    data,
                    self.per_body,
                    &self.used,
                    self.total_limit,
                );
            }
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(uri: &str) -> RequestHead {
        RequestHead {
            method: "GET".into(),
            uri: uri.into(),
            proto: "HTTP/1.1",
            headers: HeaderLines::from_pairs([("Host", "a")]),
        }
    }

    #[test]
    fn ring_evicts_oldest_beyond_its_size() {
        let store = CaptureStore::new(Some(3 * CAPTURE_OVERHEAD));
        for i in 0..10 {
            store.begin("t", "1.2.3.4", head(&format!("/{i}")));
        }
        store.begin("t", "1.2.3.4", head("/last"));
        let list = store.list(100, None);
        assert!(list.len() < 11 && list.len() >= 2, "{}", list.len());
        assert_eq!(list[0].request.uri, "/last");
    }

    #[test]
    fn off_keeps_nothing_and_json_has_ngrok_shape() {
        let off = CaptureStore::new(None);
        assert!(!off.enabled());
        let on = CaptureStore::new(Some(1 << 20));
        let c = on.begin("web", "10.0.0.1", head("/x?y=1"));
        c.respond(ResponseHead {
            status_code: 200,
            proto: "HTTP/1.1",
            headers: HeaderLines::default(),
        });
        let v = c.to_json();
        assert_eq!(v["tunnel_name"], "web");
        assert_eq!(v["request"]["headers"]["Host"][0], "a");
        assert_eq!(v["response"]["status_code"], 200);
        assert_eq!(v["response"]["status"], "200 OK");
        assert_eq!(v["uri"], format!("/api/requests/http/{}", c.id));
        assert_eq!(c.id.len(), 16);
    }

    #[test]
    fn concurrent_bodies_stay_within_the_budget() {
        use http_body_util::{BodyExt, Full};
        let store = CaptureStore::new(Some(1000));
        let caps: Vec<_> = (0..4)
            .map(|i| store.begin("t", "x", head(&format!("/{i}"))))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for c in &caps {
            let body = store.tee(
                Full::new(Bytes::from(vec![7u8; 600])),
                c.request_body.clone(),
            );
            rt.block_on(body.collect()).unwrap();
        }
        let held: u64 = caps.iter().map(|c| c.body_bytes()).sum();
        assert!(held <= 1000, "{held}");
    }

    #[test]
    fn header_names_are_canonical() {
        assert_eq!(canonical("content-type"), "Content-Type");
        assert_eq!(canonical("x-forwarded-for"), "X-Forwarded-For");
    }
}
