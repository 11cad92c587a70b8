//! Copies bytes both ways between two connections with correct half-close: when one side
//! finishes sending, the other side's write half is shut down (a FIN on TCP, an empty FIN
//! frame on a muxado stream) while the opposite direction keeps flowing.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Each direction starts with a small buffer and doubles it whenever a read fills it, up to
/// `MAX_BUF`: a thousand idle connections cost a few KiB each, a bulk transfer moves 64 KiB
/// per system call.
const FIRST_BUF: usize = 4 * 1024;
const MAX_BUF: usize = 64 * 1024;

/// Bytes moved each way: `a` to `b`, then `b` to `a`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spliced {
    /// Bytes read from `a` and accepted by `b`'s writes, whether or not they were delivered.
    pub a_to_b: u64,
    /// Bytes read from `b` and written to `a`, counted the same way.
    pub b_to_a: u64,
}

/// Splices `a` and `b` until both directions have ended, or nothing moved either way for
/// `idle`.
pub async fn splice<A, B>(a: A, b: B, idle: Duration) -> io::Result<Spliced>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    splice_with(a, b, idle, |_| {}, |_| {}, || {}).await
}

/// Sees the bytes a splice moves as they pass, without holding them back or changing them.
pub trait Watch: Send {
    /// `a` sent these bytes (they are about to be written to `b`).
    fn a_sent(&mut self, data: &[u8]);
    /// `b` sent these bytes.
    fn b_sent(&mut self, data: &[u8]);
    /// `b` finished sending.
    fn b_finished(&mut self);
}

/// [`splice`], showing `watch` every byte each way as it passes.
pub async fn splice_watched<A, B, W>(
    a: A,
    b: B,
    idle: Duration,
    watch: &Mutex<W>,
) -> io::Result<Spliced>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
    W: Watch,
{
    let lock = || watch.lock().unwrap_or_else(|p| p.into_inner());
    splice_with(
        a,
        b,
        idle,
        |d| lock().a_sent(d),
        |d| lock().b_sent(d),
        || lock().b_finished(),
    )
    .await
}

/// The splice itself, calling `a_sent`/`b_sent` with each read before it is written on, and
/// `b_finished` when `b` has sent everything.
async fn splice_with<A, B>(
    a: A,
    b: B,
    idle: Duration,
    a_sent: impl FnMut(&[u8]),
    b_sent: impl FnMut(&[u8]),
    b_finished: impl FnOnce(),
) -> io::Result<Spliced>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (ar, aw) = tokio::io::split(a);
    let (br, bw) = tokio::io::split(b);
    let start = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let one = pump(ar, bw, &last, start, a_sent, || {});
    let two = pump(br, aw, &last, start, b_sent, b_finished);
    let both = async { tokio::try_join!(one, two) };
    tokio::pin!(both);
    loop {
        tokio::select! {
            res = &mut both => {
                let (a_to_b, b_to_a) = res?;
                return Ok(Spliced { a_to_b, b_to_a });
            }
            _ = tokio::time::sleep(idle / 4) => {
                let quiet = start.elapsed().as_millis() as u64 - last.load(Ordering::Relaxed);
                if Duration::from_millis(quiet) >= idle {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "connection idle"));
                }
            }
        }
    }
}

async fn pump<R, W>(
    mut r: R,
    mut w: W,
    last: &AtomicU64,
    start: Instant,
    mut sent: impl FnMut(&[u8]),
    finished: impl FnOnce(),
) -> io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; FIRST_BUF];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            finished();
            // Half-close: the peer may still be sending the other way.
            let _ = w.shutdown().await;
            return Ok(total);
        }
        sent(&buf[..n]);
        w.write_all(&buf[..n]).await?;
        total += n as u64;
        if n == buf.len() && buf.len() < MAX_BUF {
            buf.resize(buf.len() * 2, 0);
        }
        last.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn half_close_lets_the_other_direction_finish() {
        let (client, edge_side) = tokio::io::duplex(1024);
        let (agent_side, mut upstream) = tokio::io::duplex(1024);
        let task = tokio::spawn(splice(edge_side, agent_side, Duration::from_secs(5)));
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(b"request").await.unwrap();
        cw.shutdown().await.unwrap();
        let mut got = Vec::new();
        upstream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"request");
        upstream
            .write_all(b"response after client FIN")
            .await
            .unwrap();
        upstream.shutdown().await.unwrap();
        let mut back = Vec::new();
        cr.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"response after client FIN");
        let moved = task.await.unwrap().unwrap();
        assert_eq!(
            moved,
            Spliced {
                a_to_b: 7,
                b_to_a: 25
            }
        );
    }

    #[tokio::test]
    async fn idle_connections_end() {
        let (_client, edge_side) = tokio::io::duplex(64);
        let (agent_side, _upstream) = tokio::io::duplex(64);
        let err = splice(edge_side, agent_side, Duration::from_millis(100))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
