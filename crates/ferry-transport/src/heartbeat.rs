//! Heartbeats as ngrok's agents do them: a stream of type 0xFFFFFFFF on which one side writes
//! 4 random bytes and the other echoes them. Both the edge and Ferry's agent beat on their
//! own stream and echo the peer's, so each side notices a dead peer on its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferry_proto::StreamType;
use muxado::MuxadoOpen;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::rpc::open_typed;

/// When the peer last proved it was alive, shared between the echo task and observers. It
/// reads tokio's clock, so tests can run it with time paused.
#[derive(Clone)]
pub struct BeatClock {
    start: Instant,
    last_ms: Arc<AtomicU64>,
    latency_us: Arc<AtomicU64>,
    /// Told each round trip of this side's beats ([`BeatClock::observing`]).
    observer: Option<RoundTrip>,
}

/// What [`BeatClock::observing`] calls with each heartbeat's round trip.
type RoundTrip = Arc<dyn Fn(Duration) + Send + Sync>;

impl Default for BeatClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
            latency_us: Arc::new(AtomicU64::new(0)),
            observer: None,
        }
    }
}

impl BeatClock {
    /// A clock that also hands each round trip of this side's beats to `observer`: the
    /// agent's latency histogram, which the last round trip alone could not make.
    pub fn observing(observer: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        Self {
            observer: Some(Arc::new(observer)),
            ..Self::default()
        }
    }

    /// Records that the peer is alive now: one of its beats arrived, or it echoed ours.
    pub fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the peer last proved alive, to the millisecond (since the clock was made,
    /// if it never has).
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
    match open_typed(open, StreamType::HEARTBEAT, &[]).await {
        Ok(stream) => beat(stream, interval, tolerance, clock).await,
        Err(e) => std::io::Error::other(e),
    }
}

/// The beating itself, on an open heartbeat stream. A beat is sent every `interval` after the
/// last echo, and each echo must come back within `tolerance` of its beat.
async fn beat<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    interval: Duration,
    tolerance: Duration,
    clock: BeatClock,
) -> std::io::Error {
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
        match tokio::time::timeout_at(sent + tolerance, round).await {
            Ok(Ok(())) => {
                clock.touch();
                let took = sent.elapsed();
                clock
                    .latency_us
                    .store(took.as_micros() as u64, Ordering::Relaxed);
                if let Some(observe) = &clock.observer {
                    observe(took);
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(5);
    const TOLERANCE: Duration = Duration::from_secs(10);

    /// Echoes `beats` beats, then holds the stream open and silent.
    async fn echo_then_stall<S: AsyncRead + AsyncWrite + Unpin>(mut peer: S, beats: usize) {
        let mut b = [0u8; 4];
        for _ in 0..beats {
            peer.read_exact(&mut b).await.unwrap();
            peer.write_all(&b).await.unwrap();
        }
        std::future::pending::<()>().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_declared_dead_one_tolerance_after_the_unanswered_beat() {
        let (ours, theirs) = tokio::io::duplex(64);
        tokio::spawn(echo_then_stall(theirs, 3));
        let clock = BeatClock::default();
        let start = Instant::now();
        let err = beat(ours, INTERVAL, TOLERANCE, clock.clone()).await;
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        // Three echoed beats, each followed by an interval; the fourth is sent and unanswered.
        assert_eq!(start.elapsed(), 3 * INTERVAL + TOLERANCE);
        assert_eq!(clock.since_last(), INTERVAL + TOLERANCE);
    }

    #[tokio::test(start_paused = true)]
    async fn an_echoing_peer_keeps_the_session_alive() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let clock = BeatClock::default();
        tokio::spawn(beat(ours, INTERVAL, TOLERANCE, clock.clone()));
        let mut b = [0u8; 4];
        for _ in 0..100 {
            theirs.read_exact(&mut b).await.unwrap();
            theirs.write_all(&b).await.unwrap();
        }
        tokio::time::sleep(INTERVAL / 2).await;
        assert!(clock.since_last() < INTERVAL);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wrong_echo_ends_the_session_at_once() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        tokio::spawn(async move {
            let mut b = [0u8; 4];
            theirs.read_exact(&mut b).await.unwrap();
            b[0] ^= 0xff;
            theirs.write_all(&b).await.unwrap();
            std::future::pending::<()>().await;
        });
        let start = Instant::now();
        let err = beat(ours, INTERVAL, TOLERANCE, BeatClock::default()).await;
        assert!(err.to_string().contains("does not match"), "{err}");
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
