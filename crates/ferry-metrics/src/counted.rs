//! A stream whose bytes are counted as they pass, and which is counted among the streams
//! open while it lives: a proxy stream at the edge (`ferry_edge_bytes_total`) and at the
//! agent (`ferry_agent_bytes_total`), whichever way it is then served.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use prometheus::{IntCounter, IntGauge};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `inner`, counted.
pub struct Counted<S> {
    inner: S,
    received: IntCounter,
    sent: IntCounter,
    open: IntGauge,
}

impl<S> Counted<S> {
    /// Counts what is read from `inner` in `received`, what is written to it in `sent`, and
    /// the stream itself in `open` until it is dropped.
    pub fn new(inner: S, received: IntCounter, sent: IntCounter, open: IntGauge) -> Self {
        open.inc();
        Self {
            inner,
            received,
            sent,
            open,
        }
    }
}

impl<S> Drop for Counted<S> {
    fn drop(&mut self) {
        self.open.dec();
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
