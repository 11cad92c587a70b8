//! A proxy stream whose bytes are counted in `ferry_agent_bytes_total` as they pass, and
//! which is counted among `ferry_agent_streams_open` while it lives. Every way the agent
//! serves a stream (HTTP, spliced, TLS terminated here) reads and writes through it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ferry_metrics::agent::agent;
use ferry_metrics::IntCounter;
use ferry_metrics::{IN, OUT};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub(crate) struct Counted<S> {
    inner: S,
    /// Bytes from the edge, on their way to the upstream.
    received: IntCounter,
    /// Bytes back to the edge.
    sent: IntCounter,
}

impl<S> Counted<S> {
    /// Counts `inner` as one stream of a tunnel of `proto` (`http`, `tcp`, `tls`).
    pub(crate) fn new(inner: S, proto: &str) -> Self {
        let metrics = agent();
        metrics.streams.with_label_values(&[proto]).inc();
        metrics.streams_open.inc();
        Self {
            inner,
            received: metrics.bytes.with_label_values(&[proto, IN]),
            sent: metrics.bytes.with_label_values(&[proto, OUT]),
        }
    }
}

impl<S> Drop for Counted<S> {
    fn drop(&mut self) {
        agent().streams_open.dec();
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.received.inc_by((buf.filled().len() - before) as u64);
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.sent.inc_by(n as u64);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
