//! Inspection of a spliced HTTP stream: the agent copies the proxy stream to the upstream
//! byte for byte and records each exchange for the inspector from the bytes going by
//! (`ferry_proto::http1_watch`), instead of reading every request into hyper and writing it
//! out again. The edge has done the HTTP work (routing, auth, `X-Forwarded-*`); re-parsing
//! and re-serialising here was most of the agent's CPU per request (BENCHMARKS.md, issue 17).
//! Only what the inspector shows is copied: the heads and the first bytes of each body.
//!
//! A stream the watch cannot follow (an upgrade, bytes that are not HTTP/1.1) is still
//! carried exactly; its later exchanges are just not recorded.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use ferry_proto::http1_watch::{Event, Exchange, Head};
use ferry_transport::Watch;
use http::StatusCode;

use crate::capture::{Capture, RequestHead, ResponseHead};
use crate::forward::{answered, Forwarder};

/// What one spliced stream has shown so far.
pub struct Inspected {
    exchange: Exchange,
    book: Book,
}

/// The captures of one stream, as its exchanges go by.
struct Book {
    fwd: Arc<Forwarder>,
    /// The public client's IP, as captures show it.
    client: String,
    /// Requests sent upstream whose answers have not begun, oldest first, with when they
    /// went.
    waiting: VecDeque<(Arc<Capture>, Instant)>,
    /// The request whose body is going by.
    request: Option<Arc<Capture>>,
    /// The response whose body is going by.
    response: Option<Arc<Capture>>,
}

impl Inspected {
    pub fn new(fwd: Arc<Forwarder>, client: String) -> Self {
        Inspected {
            exchange: Exchange::default(),
            book: Book {
                fwd,
                client,
                waiting: VecDeque::new(),
                request: None,
                response: None,
            },
        }
    }
}

impl Watch for Inspected {
    fn a_sent(&mut self, data: &[u8]) {
        self.exchange
            .client_sent(data, &mut |e| self.book.record(e));
    }

    fn b_sent(&mut self, data: &[u8]) {
        self.exchange
            .upstream_sent(data, &mut |e| self.book.record(e));
    }

    fn b_finished(&mut self) {
        self.exchange.upstream_closed(&mut |e| self.book.record(e));
    }
}

impl Book {
    fn record(&mut self, event: Event<'_>) {
        let captures = &self.fwd.captures;
        match event {
            Event::Request(head) => {
                let capture = captures.begin(&self.fwd.spec.name, &self.client, request(head));
                self.request = Some(capture.clone());
                self.waiting.push_back((capture, Instant::now()));
            }
            Event::RequestBody(data) => {
                if let Some(c) = &self.request {
                    captures.keep(&c.request_body, data);
                }
            }
            Event::RequestEnd => self.request = None,
            Event::Response(head) => {
                let Some((capture, sent)) = self.waiting.pop_front() else {
                    return;
                };
                let took = sent.elapsed();
                let status = StatusCode::from_u16(head.status).ok();
                if let Some(status) = status {
                    answered(status);
                }
                self.fwd.metrics.http_request(took);
                tracing::debug!(
                    tunnel = %self.fwd.spec.name,
                    client = %self.client,
                    status = head.status,
                    ms = took.as_millis() as u64,
                    "{} {}",
                    capture.request.method,
                    capture.request.uri
                );
                capture.respond(response(head));
                capture.finish(took);
                self.response = Some(capture);
            }
            Event::ResponseBody(data) => {
                if let Some(c) = &self.response {
                    captures.keep(&c.response_body, data);
                }
            }
            Event::ResponseEnd => self.response = None,
            Event::Lost(why) => {
                tracing::debug!(tunnel = %self.fwd.spec.name, client = %self.client, "no more captures on this stream: {why}");
                self.request = None;
                self.response = None;
            }
        }
    }
}

fn request(head: Head) -> RequestHead {
    RequestHead {
        method: head.method,
        uri: head.target,
        proto: head.version,
        headers: head.headers,
    }
}

fn response(head: Head) -> ResponseHead {
    ResponseHead {
        status_code: head.status,
        proto: head.version,
        headers: head.headers,
    }
}
