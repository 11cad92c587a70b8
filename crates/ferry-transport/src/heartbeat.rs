//! Heartbeats as ngrok's agents do them: a stream of type 0xFFFFFFFF on which one side writes
//! 4 random bytes and the other echoes them. Both the edge and Ferry's agent beat on their
//! own stream and echo the peer's, so each side notices a dead peer on its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_proto::StreamType;
use muxado::MuxadoOpen;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::rpc::open_typed;

/// When the peer last proved it was alive, shared between the echo task and observers.
#[derive(Clone)]
pub struct BeatClock {
    start: Instant,
    last_ms: Arc<AtomicU64>,
    latency_us: Arc<AtomicU64>,
}

impl Default for BeatClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
            latency_us: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl BeatClock {
    pub fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    pub fn since_last(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }

    /// Round trip of the last beat this side sent.
    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }
}

/// Echoes the peer's beats until the stream ends.
pub async fn echo_beats<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, clock: BeatClock) {
    let mut b = [0u8; 4];
    while stream.read_exact(&mut b).await.is_ok() {
        clock.touch();
        if stream.write_all(&b).await.is_err() {
            break;
        }
    }
}

/// Beats every `interval` and returns when an echo has not come back within `tolerance`, or
/// the session is gone: the caller then closes the session.
pub async fn beat_until_dead(
    open: &MuxadoOpen,
    interval: Duration,
    tolerance: Duration,
    clock: BeatClock,
) -> std::io::Error {
    let mut stream = match open_typed(open, StreamType::HEARTBEAT, &[]).await {
        Ok(s) => s,
        Err(e) => return std::io::Error::other(e.to_string()),
    };
    loop {
        let id: i32 = rand::thread_rng().gen();
        let sent = Instant::now();
        let round = async {
            stream.write_all(&id.to_be_bytes()).await?;
            let mut b = [0u8; 4];
            stream.read_exact(&mut b).await?;
            if i32::from_be_bytes(b) != id {
                return Err(std::io::Error::other("heartbeat echo does not match"));
            }
            Ok(())
        };
        match tokio::time::timeout(tolerance, round).await {
            Ok(Ok(())) => {
                clock.touch();
                clock
                    .latency_us
                    .store(sent.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
            Ok(Err(e)) => return e,
            Err(_) => {
                return std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no heartbeat echo within {tolerance:?}"),
                )
            }
        }
        tokio::time::sleep(interval).await;
    }
}
