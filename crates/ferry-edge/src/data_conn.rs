//! Data connections: TLS connections a Ferry agent dials beside its session and leaves idle
//! here, each to carry one proxy stream outside muxado (`ferry_proto::data_conn`). A stream on
//! one has its own TLS and its own TCP flow control, with no frame header, per-stream channel
//! or session writer in the way (issue 17's separate connection per bulk stream). The edge
//! takes one when it opens a proxy stream and falls back to a muxado stream when none is idle,
//! and always for ngrok's agents, which are never offered a key. A kept-alive HTTP connection
//! whose stream began on muxado moves to one at its next request (`http_relay.rs`): per
//! request, a data connection costs the edge and the agent less CPU than a muxado stream
//! (BENCHMARKS.md).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use ferry_proto::data_conn::{parse_hello, HelloError};
use ferry_types::ResourceId;
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::pre_auth::Ticket;
use crate::registry::AgentSession;
use crate::rewind::Rewind;
use crate::{ingress, Shared};

/// The most idle data connections a session may leave at the edge; more are closed. Each costs
/// a TLS connection's state, so an agent cannot make the edge hold more than a few.
pub const MAX_IDLE: usize = 16;

/// How long a data connection may wait here unused before the edge closes it. The agent dials
/// another while its tunnels carry traffic, so none stays idle long enough for a NAT on the
/// way to forget it, and an agent that went quiet holds none. The edge closes it, not the
/// agent, so it is never closed under a stream the edge has just started on it.
pub const IDLE_LIFETIME: Duration = Duration::from_secs(60);

/// An idle data connection, or one carrying a proxy stream. The mutex is never locked (every
/// use has `&mut`): it only makes a TLS stream over a connection that is `Send` but not `Sync`
/// fit the `Sync` futures that carry proxy streams.
pub struct DataIo(Mutex<Box<dyn Io>>);

/// What a data connection is to the code that carries it: the TLS stream behind a [`DataIo`].
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl DataIo {
    fn new(io: impl Io + 'static) -> Self {
        DataIo(Mutex::new(Box::new(io)))
    }

    fn io(self: Pin<&mut Self>) -> Pin<&mut dyn Io> {
        let io = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(|p| p.into_inner());
        Pin::new(&mut **io)
    }
}

impl AsyncRead for DataIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.io().poll_read(cx, buf)
    }
}

impl AsyncWrite for DataIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io().poll_shutdown(cx)
    }
}

/// One session's data connections: its key and the connections idle now.
pub struct DataPool {
    /// `None` for an agent that is not Ferry's.
    key: Option<String>,
    idle: Mutex<Idle>,
}

#[derive(Default)]
struct Idle {
    /// Each with its serial number, which its expiry names.
    conns: Vec<(u64, DataIo)>,
    next: u64,
    closed: bool,
}

impl DataPool {
    /// A pool for session `id`, with a fresh key when `offered` (a Ferry agent).
    pub fn new(id: &ResourceId, offered: bool) -> Self {
        let key = offered.then(|| {
            let mut secret = [0u8; 24];
            rand::thread_rng().fill_bytes(&mut secret);
            let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            format!("{id}.{hex}")
        });
        DataPool {
            key,
            idle: Mutex::new(Idle::default()),
        }
    }

    /// The key the agent dials data connections with, for `AuthResp`.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    fn matches(&self, key: &str) -> bool {
        self.key
            .as_deref()
            .is_some_and(|k| bool::from(k.as_bytes().ct_eq(key.as_bytes())))
    }

    /// Keeps `conn` for a proxy stream of `session` for up to [`IDLE_LIFETIME`]; false (and
    /// `conn` closed) when the pool is full or the session has ended.
    fn offer(session: &Arc<AgentSession>, conn: DataIo) -> bool {
        let serial = {
            let mut idle = session.data.lock();
            if idle.closed || idle.conns.len() >= MAX_IDLE {
                return false;
            }
            let serial = idle.next;
            idle.next += 1;
            idle.conns.push((serial, conn));
            idle_gauge().inc();
            serial
        };
        let session = Arc::downgrade(session);
        tokio::spawn(async move {
            tokio::time::sleep(IDLE_LIFETIME).await;
            if let Some(s) = session.upgrade() {
                let mut idle = s.data.lock();
                if let Some(at) = idle.conns.iter().position(|(n, _)| *n == serial) {
                    idle.conns.remove(at);
                    idle_gauge().dec();
                }
            }
        });
        true
    }

    /// An idle data connection still open, if the agent left one. One the agent closed (or
    /// that has bytes nobody asked for) is dropped on the way.
    fn take(&self) -> Option<DataIo> {
        let mut idle = self.lock();
        while let Some((_, mut conn)) = idle.conns.pop() {
            idle_gauge().dec();
            if still_idle(&mut conn) {
                return Some(conn);
            }
        }
        None
    }

    /// Whether the agent has left a data connection idle here now.
    pub fn has_idle(&self) -> bool {
        !self.lock().conns.is_empty()
    }

    /// An idle data connection with `head` (its parts in one write) written and flushed on
    /// it. One whose write fails (the agent's end went away after [`DataPool::take`] looked)
    /// is dropped and the next one tried, so the caller falls back to the session only when
    /// none is left.
    pub async fn start(&self, head: &[&[u8]]) -> Option<DataIo> {
        let mut conn = self.take()?;
        let head = head.concat();
        loop {
            match write_head(&mut conn, &head).await {
                Ok(()) => return Some(conn),
                Err(e) => {
                    tracing::debug!(error = %e, "a data connection failed as a stream began on it");
                    conn = self.take()?;
                }
            }
        }
    }

    /// The session ended: its idle connections close, and any that arrive later are refused.
    pub fn close(&self) {
        let mut idle = self.lock();
        idle.closed = true;
        idle_gauge().sub(idle.conns.len() as i64);
        idle.conns.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn idle_gauge() -> &'static ferry_metrics::IntGauge {
    &ferry_metrics::edge::edge().data_connections_idle
}

/// True when reading `conn` now would wait: the agent has neither closed it nor written to it.
fn still_idle(conn: &mut DataIo) -> bool {
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    matches!(Pin::new(conn).poll_read(&mut cx, &mut buf), Poll::Pending)
}

async fn write_head(conn: &mut DataIo, head: &[u8]) -> io::Result<()> {
    conn.write_all(head).await?;
    conn.flush().await
}

/// Serves a connection that completed the agent ingress's TLS handshake: a session
/// (`ingress::serve_agent`), or a data connection, told apart by the first bytes.
pub async fn serve<IO>(shared: Arc<Shared>, mut io: IO, remote: SocketAddr, ticket: Ticket)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut buf = BytesMut::with_capacity(64);
    let first = async {
        loop {
            match parse_hello(&buf) {
                // muxado's, even a frame too long that starts like a hello: muxado answers it.
                Err(HelloError::Magic) => return Ok(None),
                Ok(Some((key, len))) if len == buf.len() => return Ok(Some(key.to_string())),
                Ok(Some(_)) => return Err("bytes after the hello".to_string()),
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
            match io.read_buf(&mut buf).await {
                Ok(0) => return Err("closed before its first message".to_string()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    let key = match tokio::time::timeout(shared.config.auth_deadline, first).await {
        Ok(Ok(None)) => {
            let io = Rewind::new(buf.freeze(), io);
            return ingress::serve_agent(shared, io, remote, ticket).await;
        }
        Ok(Ok(Some(key))) => key,
        Ok(Err(why)) => {
            tracing::info!(%remote, "closing an agent connection: {why}");
            return;
        }
        Err(_) => {
            tracing::info!(%remote, "closing an agent connection that sent nothing in time");
            return;
        }
    };
    let session = key
        .split_once('.')
        .and_then(|(id, _)| ResourceId::parse(id, "ts").ok())
        .and_then(|id| shared.session(&id))
        .filter(|s| s.data.matches(&key));
    drop(ticket);
    match session {
        Some(s) if DataPool::offer(&s, DataIo::new(io)) => {}
        Some(s) => {
            tracing::debug!(%remote, session = %s.id, "closing a data connection: the session has enough idle ones or ended")
        }
        None => {
            tracing::info!(%remote, "closing a data connection whose key names no live session")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An agent's end as `take` sees it when its FIN or RST has not arrived yet: nothing to
    /// read, and writes fail (or succeed, when `alive`).
    struct Far {
        alive: bool,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl AsyncRead for Far {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Far {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if !self.alive {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            self.written.lock().unwrap().extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn pool_of(ends: &[bool]) -> (DataPool, Arc<Mutex<Vec<u8>>>) {
        let pool = DataPool::new(&ResourceId::generate("ts"), true);
        let written = Arc::new(Mutex::new(Vec::new()));
        for (serial, &alive) in ends.iter().enumerate() {
            let far = Far {
                alive,
                written: written.clone(),
            };
            pool.lock().conns.push((serial as u64, DataIo::new(far)));
        }
        (pool, written)
    }

    #[tokio::test]
    async fn a_stream_skips_data_connections_that_fail_its_first_write() {
        // `take` pops the newest first: two dead ends, then one alive.
        let (pool, written) = pool_of(&[true, false, false]);
        assert!(pool.has_idle());
        assert!(pool.start(&[b"\x00\x01", b"head"]).await.is_some());
        assert_eq!(*written.lock().unwrap(), b"\x00\x01head");
        assert!(!pool.has_idle());
    }

    #[tokio::test]
    async fn a_stream_falls_back_to_the_session_when_every_idle_one_failed() {
        let (pool, written) = pool_of(&[false, false]);
        assert!(pool.start(&[b"head"]).await.is_none());
        assert!(written.lock().unwrap().is_empty());
        assert!(!pool.has_idle());
    }
}
