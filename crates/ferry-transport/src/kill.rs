use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Ends a session's connection from outside.
///
/// muxado's session tasks live as long as any stream handle does, so dropping the session
/// object does not close the socket. A dead heartbeat, a revoked credential or a drain must
/// close it now: the switch makes every read and write on the wrapped connection fail, which
/// ends muxado's reader and writer and with them every stream.
#[derive(Clone, Default)]
pub struct KillSwitch {
    token: CancellationToken,
}

impl KillSwitch {
    /// Closes the wrapped connection now: every clone of the switch sees it, and it cannot be
    /// undone. Killing twice is harmless.
    pub fn kill(&self) {
        self.token.cancel();
    }

    /// Whether [`KillSwitch::kill`] has been called, for a check that must not wait.
    pub fn is_killed(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once [`KillSwitch::kill`] has been called.
    pub async fn killed(&self) {
        self.token.cancelled().await
    }

    /// Puts `io` under this switch; hand the result to muxado instead of `io` itself.
    pub fn wrap<T>(&self, io: T) -> Killable<T> {
        Killable {
            io,
            killed: Box::pin(self.token.clone().cancelled_owned()),
            switch: self.clone(),
        }
    }
}

/// A connection that fails every operation once its [`KillSwitch`] fires.
pub struct Killable<T> {
    io: T,
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
    switch: KillSwitch,
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "session closed")
}

impl<T: AsyncRead + Unpin> AsyncRead for Killable<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Killable<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
